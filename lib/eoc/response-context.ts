/**
 * `res.oidc` under auth(): parAuth()'s, behaving as express-openid-connect's does — `login()` with EOC's
 * defaults and `getLoginState`, `callback()` with EOC's `afterCallback`, `silentLogin()`, and errors sent
 * to `next(err)` rather than rejected (EOC apps call these without `.catch`, which on Express 4 would leave
 * an unhandled rejection).
 */
import type { NextFunction, Request, Response } from 'express';
import { isRecord } from '../core/assert.js';
import { joinUrl } from '../core/url.js';
import type { CallbackOptions } from '../core/types.js';
import type { Engine } from '../engine/engine.js';
import { callbackRoute } from '../express/callback-route.js';
import { redirect } from '../express/redirect.js';
import {
  checkCallbackOptions, checkLoginOptionNames, OidcResponse, type LoginOptions, type LogoutOptions,
} from '../express/response-context.js';
import { safeReturnTo } from '../protocol/return-to.js';
import type { EocConfig } from './config.js';
import { eocShape } from './eoc-session.js';
import { eocLoginParams } from './params.js';

type Warn = (message: string) => void;

/** An absolute URL of the app's own origin as its path (EOC apps pass `baseURL`-based URLs); anything else as is. */
function sameOriginPath(value: unknown, base: URL): unknown {
  if (typeof value !== 'string' || !/^https?:\/\//i.test(value)) return value;
  try {
    const url = new URL(value);
    return url.origin === base.origin ? `${url.pathname}${url.search}${url.hash}` : value;
  } catch {
    return value;
  }
}

/** A logout's returnTo as a path under baseURL: EOC joins a relative one to it, and takes URLs under it. */
function basePath(value: unknown, baseURL: URL): unknown {
  if (typeof value !== 'string') return value;
  const root = joinUrl(baseURL, '');
  if (value === root) return '/';
  if (value.startsWith(`${root}/`)) return value.slice(root.length);
  return /^https?:\/\//i.test(value) || value.startsWith('/') ? value : `/${value}`;
}

export class EocResponse extends OidcResponse {
  readonly #req: Request;
  readonly #res: Response;
  readonly #engine: Engine;
  readonly #eoc: EocConfig;
  readonly #next: NextFunction;
  readonly #warn: Warn;

  /** `next`: auth()'s, where errors go; `warn`: auth()'s, which says each warning once. */
  constructor(req: Request, res: Response, engine: Engine, eoc: EocConfig, next: NextFunction, warn: Warn) {
    super(req, res, engine);
    [this.#req, this.#res, this.#engine, this.#eoc, this.#next, this.#warn] = [req, res, engine, eoc, next, warn];
  }

  override login(options: LoginOptions = {}): Promise<void> {
    return this.#toNext(() => this.#login(options));
  }

  /** EOC's `res.oidc.silentLogin()`: a `prompt=none` login. */
  silentLogin(options: LoginOptions = {}): Promise<void> {
    return this.login({ ...options, silent: true });
  }

  override logout(options: LogoutOptions = {}): Promise<void> {
    const mapped = isRecord(options as unknown) && options.returnTo !== undefined
      ? { ...options, returnTo: basePath(options.returnTo, this.#engine.config.baseURL) as string }
      : options;
    return this.#toNext(() => super.logout(mapped));
  }

  override callback(options: CallbackOptions = {}): Promise<void> {
    return this.#toNext(async () => {
      const { redirectUri } = checkCallbackOptions(options);
      const shape = eocShape(this.#eoc, this.#engine.signInKey, this.#req, this.#res);
      await callbackRoute(this.#engine, this.#req, this.#res, { redirectUri, shape });
    });
  }

  /** Runs `work`; its error goes to next(err), as EOC does, and the promise resolves. */
  async #toNext(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.#next(err);
    }
  }

  async #login(options: LoginOptions): Promise<void> {
    checkLoginOptionNames(options);
    const req = this.#req;
    const baseURL = this.#engine.config.baseURL;
    // EOC: the page a GET was for, else baseURL.
    const returnTo = options.returnTo ?? (req.method === 'GET' ? req.originalUrl : baseURL.pathname);
    const state = await this.#loginState({ ...options, returnTo });
    const mapped = eocLoginParams(options.authorizationParams, 'authorizationParams');
    mapped.notes.forEach(this.#warn);
    const url = await this.#engine.startLogin(req, {
      returnTo: safeReturnTo(sameOriginPath(state.returnTo, baseURL), baseURL.pathname),
      authorizationParams: mapped.params,
      ...(mapped.redirectUri ? { redirectUri: mapped.redirectUri } : {}),
      ...(options.silent !== undefined ? { silent: options.silent } : {}),
      ...(this.#eoc.getLoginState || this.#eoc.afterCallback ? { appState: state } : {}),
    });
    redirect(this.#res, url);
  }

  /** getLoginState's object (awaited), or EOC's default `{ returnTo }`; attemptingSilentLogin for a silent login. */
  async #loginState(options: LoginOptions & { returnTo: string }): Promise<Record<string, unknown>> {
    const hook = this.#eoc.getLoginState;
    const state: unknown = hook ? await hook(this.#req, options) : { returnTo: options.returnTo };
    if (!isRecord(state)) throw new TypeError('getLoginState() must return an object');
    return options.silent ? { ...state, attemptingSilentLogin: true } : state;
  }
}
