/**
 * processUserInfoResponse() on its own (OpenID Connect Core §5.3.2): every answer a userinfo endpoint
 * can give, with the exact error each one becomes. userinfo.test.ts sends real requests to oidc-provider
 * and the faulty server; this pins the checks and their messages.
 */
import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from './helpers/keys.js';
import { createLocalJWKSet, errors as joseErrors, SignJWT, type JWK, type JWTPayload } from 'jose';
import { UpstreamError } from '../lib/core/errors.js';
import { processUserInfoResponse, type UserInfoExpectations } from '../lib/protocol/userinfo.js';
import type { HttpResponse } from '../lib/net/http.js';

const ENDPOINT = 'https://op.example/userinfo';
const SECRET = 'a-client-secret-of-at-least-32-bytes!';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const expected: UserInfoExpectations = {
  endpoint: ENDPOINT,
  sub: 'alice',
  issuer: 'https://op.example',
  clientID: 'client-1',
  algorithms: ['RS256', 'HS256'],
  clockTolerance: 30,
  jwks: createLocalJWKSet({ keys: [{ ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'k1', alg: 'RS256' }] }),
  clientSecret: SECRET,
};

const answer = (status: number, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }): HttpResponse => ({ status, headers, body });
const json = (value: unknown) => answer(200, JSON.stringify(value));
const jwt = (token: string, type = 'application/jwt') => answer(200, `${token}\n`, { 'content-type': type });
const signRs = (payload: JWTPayload, alg = 'RS256') => new SignJWT(payload).setProtectedHeader({ alg, kid: 'k1' }).sign(privateKey);
const signHs = (payload: JWTPayload, secret = SECRET) => new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

async function failure(res: HttpResponse, options: Partial<UserInfoExpectations> = {}) {
  const err = await processUserInfoResponse(res, { ...expected, ...options }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeDefined();
  const e = err as { code: string; status: number; message: string; error?: string; upstreamStatus?: number; details?: unknown };
  return { code: e.code, status: e.status, message: e.message, error: e.error, upstreamStatus: e.upstreamStatus, details: e.details };
}

const invalid = (what: string) => ({ code: 'userinfo_invalid', status: 502, message: `The userinfo endpoint ${ENDPOINT} ${what}.`, error: undefined, upstreamStatus: 200, details: { endpoint: ENDPOINT } });

describe('processUserInfoResponse: error statuses', () => {
  it('a refused token (401, invalid_token) is 401 access_token_rejected', async () => {
    const res = answer(401, '', { 'www-authenticate': 'Bearer error="invalid_token"' });
    expect(await failure(res)).toEqual({ code: 'access_token_rejected', status: 401, message: 'The userinfo endpoint refused the access token (invalid_token): it was revoked or has expired; log in again.', error: 'invalid_token', upstreamStatus: 401, details: undefined });
  });

  it('a 401 with another challenge, or a 403 invalid_token, is 502 userinfo_failed with the challenge error', async () => {
    expect(await failure(answer(401, '', { 'www-authenticate': 'Bearer error="insufficient_scope"' }))).toEqual({ code: 'userinfo_failed', status: 502, message: `The userinfo endpoint ${ENDPOINT} answered HTTP 401 (insufficient_scope).`, error: 'insufficient_scope', upstreamStatus: 401, details: { endpoint: ENDPOINT } });
    expect(await failure(answer(403, '', { 'www-authenticate': 'Bearer error="invalid_token"' }))).toMatchObject({ code: 'userinfo_failed', message: `The userinfo endpoint ${ENDPOINT} answered HTTP 403 (invalid_token).`, upstreamStatus: 403 });
  });

  it('takes the OAuth error from a JSON body when there is no challenge, and says when there is none', async () => {
    expect(await failure(answer(500, JSON.stringify({ error: 'server_error' })))).toMatchObject({ code: 'userinfo_failed', message: `The userinfo endpoint ${ENDPOINT} answered HTTP 500 (server_error).`, error: 'server_error', upstreamStatus: 500 });
    expect(await failure(answer(503, 'down', { 'content-type': 'text/plain' }))).toMatchObject({ code: 'userinfo_failed', message: `The userinfo endpoint ${ENDPOINT} answered HTTP 503 (no OAuth error).`, error: undefined, upstreamStatus: 503 });
  });
});

describe('processUserInfoResponse: a JSON answer', () => {
  it('returns the claims of the same sub', async () => {
    await expect(processUserInfoResponse(json({ sub: 'alice', email: 'a@example.com' }), expected)).resolves.toEqual({ sub: 'alice', email: 'a@example.com' });
  });

  it.each([['an array', '[{“sub”:"alice"}]'], ['not JSON', '<html>'], ['null', 'null']])('refuses %s', async (_name, body) => {
    expect(await failure(answer(200, body))).toEqual(invalid('did not answer with a JSON object'));
  });

  it('refuses a missing or non-string sub, and another sub (Core §5.3.2)', async () => {
    expect(await failure(json({ email: 'a@example.com' }))).toEqual(invalid('answered without a “sub” (Core §5.3.2)'));
    expect(await failure(json({ sub: 7 }))).toEqual(invalid('answered without a “sub” (Core §5.3.2)'));
    expect(await failure(json({ sub: 'alice2' }))).toEqual(invalid('answered about another “sub” than the ID token (Core §5.3.2)'));
  });
});

describe('processUserInfoResponse: a signed answer (application/jwt)', () => {
  it('verifies an RS256 answer with the key set, whatever the case and parameters of the content type', async () => {
    const token = await signRs({ sub: 'alice', iss: expected.issuer, aud: ['other', 'client-1'], name: 'Alice' });
    await expect(processUserInfoResponse(jwt(token, 'Application/JWT; charset=utf-8'), expected)).resolves.toMatchObject({ sub: 'alice', name: 'Alice' });
    await expect(processUserInfoResponse(jwt(await signRs({ sub: 'alice' })), expected)).resolves.toEqual({ sub: 'alice' });
    // a space before the parameters, and white space around the token
    await expect(processUserInfoResponse(answer(200, `\n ${await signRs({ sub: 'alice' })} \n`, { 'content-type': 'application/jwt ; charset=utf-8' }), expected)).resolves.toEqual({ sub: 'alice' });
  });

  it('verifies an HS256 answer with the client secret, and refuses it without the secret', async () => {
    await expect(processUserInfoResponse(jwt(await signHs({ sub: 'alice' })), expected)).resolves.toEqual({ sub: 'alice' });
    expect(await failure(jwt(await signHs({ sub: 'alice' })), { clientSecret: undefined })).toEqual(invalid('sent a signed answer that does not verify (invalid)'));
    expect(await failure(jwt(await signHs({ sub: 'alice' }, `${SECRET}-other`)))).toEqual(invalid('sent a signed answer that does not verify (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)'));
  });

  it('refuses a JWE, a non-JWS, alg none and an algorithm outside the list', async () => {
    expect(await failure(jwt('a.b.c.d.e'))).toEqual(invalid('sent an encrypted or malformed JWT (encrypted userinfo is not supported)'));
    expect(await failure(jwt('a.b'))).toEqual(invalid('sent an encrypted or malformed JWT (encrypted userinfo is not supported)'));
    expect(await failure(jwt('!!.b.c'))).toEqual(invalid('sent an application/jwt body that is not a JWS'));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}.`;
    expect(await failure(jwt(none), { algorithms: ['RS256', 'none'] })).toEqual(invalid('signed its answer with “none”, which is not in the allowed list (RS256, none)'));
    expect(await failure(jwt(await signRs({ sub: 'alice' }, 'PS256')))).toEqual(invalid('signed its answer with “PS256”, which is not in the allowed list (RS256, HS256)'));
  });

  it('refuses an answer it cannot or does not verify', async () => {
    expect(await failure(jwt(await signRs({ sub: 'alice' })), { jwks: undefined })).toEqual(invalid('sent a signed answer, and the server publishes no jwks_uri to check it with'));
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(other);
    expect(await failure(jwt(forged))).toEqual(invalid('sent a signed answer that does not verify (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)'));
    const expired = await signRs({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 120 });
    expect(await failure(jwt(expired))).toEqual(invalid('sent a signed answer that does not verify (ERR_JWT_EXPIRED)'));
    // within the clock tolerance (30 s) an exp just past still verifies, by key set and by secret
    const justPast = { sub: 'alice', exp: Math.floor(Date.now() / 1000) - 10 };
    await expect(processUserInfoResponse(jwt(await signRs(justPast)), expected)).resolves.toMatchObject({ sub: 'alice' });
    await expect(processUserInfoResponse(jwt(await signHs(justPast)), expected)).resolves.toMatchObject({ sub: 'alice' });
  });

  it('keeps the key set\'s own failures: a JWKS timeout is 504, our fetch error passes unchanged', async () => {
    const token = await signRs({ sub: 'alice' });
    const timeout = (async () => { throw new joseErrors.JWKSTimeout(); }) as unknown as UserInfoExpectations['jwks'];
    expect(await failure(jwt(token), { jwks: timeout })).toMatchObject({ code: 'upstream_timeout', status: 504, message: 'The JWKS endpoint did not answer within httpTimeout.' });
    const timedOut = await processUserInfoResponse(jwt(token), { ...expected, jwks: timeout }).catch((e: unknown) => e);
    expect((timedOut as { cause?: unknown }).cause).toBeInstanceOf(joseErrors.JWKSTimeout);
    const ours = new UpstreamError('jwks_failed', 'The JWKS endpoint answered HTTP 500.');
    const failing = (async () => { throw ours; }) as unknown as UserInfoExpectations['jwks'];
    expect(await failure(jwt(token), { jwks: failing })).toMatchObject({ code: 'jwks_failed', message: 'The JWKS endpoint answered HTTP 500.' });
    const wrapped = (async () => { throw Object.assign(new joseErrors.JOSEError('wrapped'), { cause: ours }); }) as unknown as UserInfoExpectations['jwks'];
    expect(await failure(jwt(token), { jwks: wrapped })).toMatchObject({ code: 'jwks_failed', message: 'The JWKS endpoint answered HTTP 500.' });
  });

  it('refuses another issuer or an audience without this client, and another sub', async () => {
    expect(await failure(jwt(await signRs({ sub: 'alice', iss: 'https://evil.example' })))).toEqual(invalid('sent a signed answer whose “iss” is not the issuer (Core §5.3.2)'));
    expect(await failure(jwt(await signRs({ sub: 'alice', aud: 'other' })))).toEqual(invalid('sent a signed answer whose “aud” does not include this client (Core §5.3.2)'));
    expect(await failure(jwt(await signRs({ sub: 'alice', aud: ['other'] })))).toEqual(invalid('sent a signed answer whose “aud” does not include this client (Core §5.3.2)'));
    expect(await failure(jwt(await signRs({ sub: 'bob' })))).toEqual(invalid('answered about another “sub” than the ID token (Core §5.3.2)'));
  });
});
