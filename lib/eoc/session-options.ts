/**
 * express-openid-connect's `session` and `secret` options, checked with EOC's rules and defaults, in the
 * form auth() hands them to express-session: the cookie's name and attributes, rolling and absolute
 * durations, the store and its id generator.
 */
import type { Request } from 'express';
import type { Store } from 'express-session';
import { fail, isRecord, optionalFunction } from '../core/assert.js';

const SESSION_OPTIONS = new Set([
  'name', 'store', 'genid', 'signSessionStoreCookie', 'requireSignedSessionStoreCookie', 'rolling', 'rollingDuration',
  'absoluteDuration', 'cookie',
]);
const COOKIE_OPTIONS = new Set(['domain', 'path', 'transient', 'httpOnly', 'secure', 'sameSite']);
const SAME_SITE = ['lax', 'strict', 'none'] as const;

export interface EocSession {
  /** Whether the app gave `session` options (they are ignored when it mounts its own express-session). */
  given: boolean;
  name: string;
  /** express-session's secret(s): the first signs, all verify. */
  secret: string[];
  rolling: boolean;
  /** Seconds, or false. */
  rollingDuration: number | false;
  /** Seconds, or false. */
  absoluteDuration: number | false;
  store?: Store;
  genid?: (req: Request) => string;
  cookie: {
    domain?: string;
    path?: string;
    transient: boolean;
    httpOnly: boolean;
    secure: boolean;
    sameSite: (typeof SAME_SITE)[number];
  };
}

/** `secret`: a string (or Buffer) of at least 8 characters, or an array of them; the first one signs. */
function secretsOf(value: unknown): string[] {
  const one = (s: unknown): string => {
    const text = Buffer.isBuffer(s) ? s.toString('base64') : s;
    if (typeof text !== 'string' || text.length < 8) {
      fail('"secret" must be a string of at least 8 characters (or an array of them), e.g. the SECRET variable');
    }
    return text;
  };
  const list = Array.isArray(value) ? value.map(one) : [one(value)];
  if (list.length === 0) fail('"secret" must not be an empty array');
  return list;
}

function seconds(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(`"${option}" must be a whole number of seconds`);
  }
  return value;
}

/** EOC's rules: rolling ⇒ rollingDuration (default 1 day), absoluteDuration a number or false (default 7 days). */
type Durations = Pick<EocSession, 'rolling' | 'rollingDuration' | 'absoluteDuration'>;

function durations(session: Record<string, unknown>): Durations {
  const rolling = session.rolling ?? true;
  if (typeof rolling !== 'boolean') fail('"session.rolling" must be a boolean');
  const rollingValue = session.rollingDuration;
  if (!rolling && rollingValue !== undefined && rollingValue !== false) {
    fail('"session.rollingDuration" must be false when "session.rolling" is false');
  }
  const rollingDuration = rolling ? seconds(rollingValue ?? 86400, 'session.rollingDuration') : false;
  const absoluteValue = session.absoluteDuration ?? 604800;
  if (absoluteValue === false && !rolling) {
    fail('"session.absoluteDuration" must be a number when "session.rolling" is false');
  }
  const absolute = absoluteValue === true ? 604800 : absoluteValue;
  const absoluteDuration = absolute === false ? false : seconds(absolute, 'session.absoluteDuration');
  return { rolling, rollingDuration, absoluteDuration };
}

function cookieOf(value: unknown, https: boolean, warnings: string[]): EocSession['cookie'] {
  const cookie = value ?? {};
  if (!isRecord(cookie)) fail('"session.cookie" must be an object');
  for (const key of Object.keys(cookie)) {
    if (!COOKIE_OPTIONS.has(key)) fail(`"session.cookie.${key}" is not a cookie option`);
  }
  const { domain, path, transient = false, httpOnly = true, secure = https, sameSite = 'Lax' } = cookie;
  for (const [key, v] of Object.entries({ domain, path })) {
    if (v !== undefined && typeof v !== 'string') fail(`"session.cookie.${key}" must be a string`);
  }
  for (const [key, v] of Object.entries({ transient, httpOnly, secure })) {
    if (typeof v !== 'boolean') fail(`"session.cookie.${key}" must be a boolean`);
  }
  if (secure && !https) fail('"session.cookie.secure": a Secure cookie is never sent over http (baseURL)');
  if (!secure && https) warnings.push('"session.cookie.secure" is false with an https baseURL: the cookie can leak');
  const lower = typeof sameSite === 'string' ? sameSite.toLowerCase() : '';
  if (!(SAME_SITE as readonly string[]).includes(lower)) {
    fail('"session.cookie.sameSite" must be "Lax", "Strict" or "None"');
  }
  return {
    ...(domain !== undefined ? { domain: domain as string } : {}),
    ...(path !== undefined ? { path: path as string } : {}),
    transient: transient as boolean, httpOnly: httpOnly as boolean, secure: secure as boolean,
    sameSite: lower as EocSession['cookie']['sameSite'],
  };
}

/** A store is an express-session store (memorystore(auth), connect-redis, …): it needs get, set and destroy. */
function storeOf(value: unknown): Store | undefined {
  if (value === undefined) return undefined;
  const store = value as Partial<Store>;
  const methods = [store.get, store.set, store.destroy];
  if (!isRecord(value) || methods.some((method) => typeof method !== 'function')) {
    fail('"session.store" must be an express-session store (get, set, destroy), e.g. require("memorystore")(auth)');
  }
  return value as unknown as Store;
}

/**
 * `session` and `secret` checked, EOC's defaults applied. `https`: whether baseURL is https (the cookie's
 * default `secure`). Warnings go to `warnings`.
 */
export function resolveEocSession(value: unknown, secret: unknown, https: boolean, warnings: string[]): EocSession {
  const session = value ?? {};
  if (!isRecord(session)) fail('"session" must be an object');
  for (const key of Object.keys(session)) {
    if (!SESSION_OPTIONS.has(key)) fail(`"session.${key}" is not a session option`);
  }
  const name = session.name ?? 'appSession';
  if (typeof name !== 'string' || !/^[0-9a-zA-Z_.-]+$/.test(name)) {
    fail('"session.name" must be letters, digits, "_", "." or "-"');
  }
  optionalFunction(session.genid, 'session.genid');
  const store = storeOf(session.store);
  return {
    given: value !== undefined,
    name,
    secret: secretsOf(secret),
    ...durations(session),
    ...(store ? { store } : {}),
    ...(session.genid ? { genid: session.genid as (req: Request) => string } : {}),
    cookie: cookieOf(session.cookie, https, warnings),
  };
}
