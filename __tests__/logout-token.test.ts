/**
 * lib/protocol/logout-token.ts on its own: every rule of Back-Channel Logout 1.0 §2.4/§2.6 with its exact
 * reason, and the edges of each number (16 KiB, the clock tolerance, 10 minutes without exp, 512-character
 * jti). backchannel-logout.test.ts drives the same rules over HTTP through the route.
 */
import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from './helpers/keys.js';
import { createLocalJWKSet, SignJWT, type JWK, type JWTPayload } from 'jose';
import { BACKCHANNEL_LOGOUT_EVENT, checkLogoutClaims, LogoutTokenError, validateLogoutToken, type LogoutTokenExpectations } from '../lib/protocol/logout-token.js';

const NOW = 1_900_000_000;
const TOLERANCE = 30;
const ISSUER = 'https://op.example';
const CLIENT = 'client-1';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = createLocalJWKSet({ keys: [{ ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'k1', alg: 'RS256' }] });
const expected: LogoutTokenExpectations = { issuer: ISSUER, clientID: CLIENT, algorithms: ['RS256'], jwks, clockTolerance: TOLERANCE, now: NOW };

const claims = (extra: Record<string, unknown> = {}): JWTPayload => {
  const out: Record<string, unknown> = { iss: ISSUER, aud: CLIENT, iat: NOW, jti: 'jti-1', events: { [EVENT]: {} }, sub: 'alice', sid: 'sid-1', ...extra };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as JWTPayload;
};

function sign(payload: JWTPayload = claims(), header: Record<string, unknown> = { typ: 'logout+jwt' }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header }).sign(privateKey);
}

function reason(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(LogoutTokenError);
    return (err as Error).message;
  }
}

async function refusal(token: unknown, options: Partial<LogoutTokenExpectations> = {}): Promise<string> {
  const err = await validateLogoutToken(token, { ...expected, ...options }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(LogoutTokenError);
  expect((err as Error).name).toBe('LogoutTokenError');
  return (err as Error).message;
}

const check = (payload: JWTPayload, extra: Partial<LogoutTokenExpectations> = {}) => checkLogoutClaims(payload, { ...expected, ...extra }, NOW);

describe('checkLogoutClaims (§2.4, §2.6 steps 4-7)', () => {
  it('names the logins to end and how long the jti must be remembered', () => {
    expect(BACKCHANNEL_LOGOUT_EVENT).toBe(EVENT);
    expect(check(claims())).toEqual({ sub: 'alice', sid: 'sid-1', jti: 'jti-1', iat: NOW, validUntil: NOW + 10 * 60 + TOLERANCE });
    expect(check(claims({ exp: NOW + 120 }))).toEqual({ sub: 'alice', sid: 'sid-1', jti: 'jti-1', iat: NOW, validUntil: NOW + 120 + TOLERANCE });
    expect(check(claims({ sub: undefined }))).toEqual({ sid: 'sid-1', jti: 'jti-1', iat: NOW, validUntil: NOW + 630 });
    expect(check(claims({ sid: '' }))).toEqual({ sub: 'alice', jti: 'jti-1', iat: NOW, validUntil: NOW + 630 });
  });

  it('takes only audiences it trusts, and azp only when there are several', () => {
    const untrusted = 'the logout_token lists an audience this client does not trust';
    expect(reason(() => check(claims({ aud: 'other' })))).toBe(untrusted);
    expect(reason(() => check(claims({ aud: [CLIENT, 'other'] })))).toBe(untrusted);
    expect(reason(() => check(claims({ aud: [CLIENT, 'other'] }), { trustedAudiences: ['other'] }))).toBeUndefined();
    expect(reason(() => check(claims({ aud: [CLIENT, 'other'], azp: 'other' }), { trustedAudiences: ['other'] }))).toBe('the logout_token azp is not this client');
    expect(reason(() => check(claims({ aud: [CLIENT, 'other'], azp: CLIENT }), { trustedAudiences: ['other'] }))).toBeUndefined();
    expect(reason(() => check(claims({ aud: [CLIENT], azp: 'other' })))).toBeUndefined();
    expect(reason(() => check(claims({ aud: CLIENT, azp: 'other' })))).toBeUndefined();
  });

  it('refuses an iat that is missing or beyond the clock tolerance in the future', () => {
    const message = 'the logout_token iat is missing or in the future';
    expect(reason(() => check(claims({ iat: undefined })))).toBe(message);
    expect(reason(() => check(claims({ iat: String(NOW) })))).toBe(message);
    expect(reason(() => check(claims({ iat: NOW + TOLERANCE })))).toBeUndefined();
    expect(reason(() => check(claims({ iat: NOW + TOLERANCE + 1 })))).toBe(message);
  });

  it('refuses a token past exp (with tolerance), or without exp older than 10 minutes (with tolerance)', () => {
    const message = 'the logout_token is too old';
    expect(reason(() => check(claims({ iat: NOW - 600 - TOLERANCE })))).toBeUndefined();
    expect(reason(() => check(claims({ iat: NOW - 600 - TOLERANCE - 1 })))).toBe(message);
    expect(reason(() => check(claims({ iat: NOW - 3600, exp: NOW - TOLERANCE })))).toBeUndefined();
    expect(reason(() => check(claims({ iat: NOW - 3600, exp: NOW - TOLERANCE - 1 })))).toBe(message);
    expect(reason(() => check(claims({ iat: NOW - 3600, exp: String(NOW + 60) })))).toBe(message);
  });

  it.each([
    ['no events', undefined],
    ['events as an array', [{ [EVENT]: {} }]],
    ['events as a string', EVENT],
    ['another event only', { 'http://schemas.openid.net/event/other': {} }],
    ['the event as true', { [EVENT]: true }],
    ['the event as an array', { [EVENT]: [] }],
  ])('refuses %s (§2.6 step 5)', (_name, events) => {
    expect(reason(() => check(claims({ events })))).toBe('the logout_token has no back-channel logout event');
  });

  it('refuses a token with neither sub nor sid (empty strings count as absent)', () => {
    const message = 'the logout_token has neither sub nor sid';
    expect(reason(() => check(claims({ sub: undefined, sid: undefined })))).toBe(message);
    expect(reason(() => check(claims({ sub: '', sid: '' })))).toBe(message);
    expect(reason(() => check(claims({ sub: 7, sid: 8 })))).toBe(message);
  });

  it('refuses a nonce (§2.6 step 7)', () => {
    expect(reason(() => check(claims({ nonce: 'n' })))).toBe('the logout_token has a nonce');
    expect(reason(() => check(claims({ nonce: '' })))).toBe('the logout_token has a nonce');
  });

  it('needs a jti of 1 to 512 characters', () => {
    const message = 'the logout_token has no jti';
    expect(reason(() => check(claims({ jti: undefined })))).toBe(message);
    expect(reason(() => check(claims({ jti: '' })))).toBe(message);
    expect(reason(() => check(claims({ jti: 5 })))).toBe(message);
    expect(reason(() => check(claims({ jti: 'j'.repeat(513) })))).toBe(message);
    expect(check(claims({ jti: 'j'.repeat(512) })).jti).toBe('j'.repeat(512));
  });
});

describe('validateLogoutToken (§2.6 steps 1-4)', () => {
  it('accepts a valid token at the given time, typed logout+jwt in any case, with or without application/', async () => {
    await expect(validateLogoutToken(await sign(), expected)).resolves.toEqual({ sub: 'alice', sid: 'sid-1', jti: 'jti-1', iat: NOW, validUntil: NOW + 630 });
    await expect(validateLogoutToken(await sign(claims(), { typ: 'application/logout+jwt' }), expected)).resolves.toMatchObject({ sub: 'alice' });
    await expect(validateLogoutToken(await sign(claims(), { typ: 'Logout+JWT' }), expected)).resolves.toMatchObject({ sub: 'alice' });
    await expect(validateLogoutToken(await sign(claims(), {}), expected)).resolves.toMatchObject({ sub: 'alice' });
  });

  it('refuses what is not a token of at most 16 KiB', async () => {
    const message = 'missing or malformed logout_token';
    expect(await refusal(undefined)).toBe(message);
    expect(await refusal('')).toBe(message);
    expect(await refusal(['a.b.c'])).toBe(message);
    expect(await refusal('a'.repeat(16 * 1024 + 1))).toBe(message);
    expect(await refusal('a'.repeat(16 * 1024))).toBe('the logout_token is not a JWS');
    expect(await refusal('not-a-jwt')).toBe('the logout_token is not a JWS');
  });

  it('refuses an algorithm other than the ID tokens\', never none or HMAC', async () => {
    const [, payload] = (await sign()).split('.');
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    expect(await refusal(`${b64({ alg: 'none' })}.${payload}.`)).toBe('the logout_token is signed with "none", not an expected algorithm');
    expect(await refusal(`${b64({ alg: 'HS256' })}.${payload}.c2ln`, { algorithms: ['RS256', 'HS256'] })).toBe('the logout_token is signed with "HS256", not an expected algorithm');
    expect(await refusal(await sign(), { algorithms: ['ES256'] })).toBe('the logout_token is signed with "RS256", not an expected algorithm');
  });

  it.each(['JWT', 'xlogout+jwt', 'logout+jwtx', 'application/jwt'])('refuses typ %s', async (typ) => {
    expect(await refusal(await sign(claims(), { typ }))).toBe('the logout_token typ is not logout+jwt');
  });

  it('refuses when the server publishes no key set', async () => {
    expect(await refusal(await sign(), { jwks: undefined })).toBe('the server publishes no jwks_uri');
  });

  it('names the claim jose refuses: issuer, audience, and the required ones', async () => {
    expect(await refusal(await sign(claims({ iss: 'https://evil.example' })))).toBe('the logout_token "iss" claim is invalid');
    expect(await refusal(await sign(claims({ aud: 'another-client' })))).toBe('the logout_token "aud" claim is invalid');
    expect(await refusal(await sign(claims({ jti: undefined })))).toBe('the logout_token "jti" claim is invalid');
    expect(await refusal(await sign(claims({ events: undefined })))).toBe('the logout_token "events" claim is invalid');
    expect(await refusal(await sign(claims({ iat: undefined })))).toBe('the logout_token "iat" claim is invalid');
  });

  it('checks exp at the given time (with tolerance), and the signature', async () => {
    expect(await refusal(await sign(claims({ exp: NOW - TOLERANCE - 5 })))).toBe('the logout_token has expired');
    await expect(validateLogoutToken(await sign(claims({ exp: NOW - TOLERANCE + 5 })), expected)).resolves.toMatchObject({ sub: 'alice' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'logout+jwt' }).sign(other);
    expect(await refusal(forged)).toBe('the logout_token signature cannot be verified');
  });
});
