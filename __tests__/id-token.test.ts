/**
 * ID token validation as a unit (lib/protocol/id-token.ts), OpenID Connect Core 1.0 §3.1.3.7 step by step, with
 * a frozen clock and a local key set. hostile-token-idtoken.test.ts runs the same rules over HTTP.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, errors as joseErrors, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { atHash, resolveIdTokenAlgs, validateIdToken, type IdTokenExpectations } from '../lib/protocol/id-token.js';
import { UpstreamError } from '../lib/core/errors.js';

const NOW = 1_700_000_000;
const ISSUER = 'https://as.example';
const CLIENT = 'client-1';
const NONCE = 'nonce-1';
const SECRET = 'a-client-secret-of-at-least-32-bytes!!';

let rsa: CryptoKey;
let jwks: JWTVerifyGetKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  rsa = pair.privateKey;
  jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' }] });
});

const claims = (extra: Record<string, unknown> = {}): JWTPayload => {
  const out: Record<string, unknown> = { iss: ISSUER, sub: 'user-1', aud: CLIENT, exp: NOW + 300, iat: NOW, nonce: NONCE, ...extra };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out as JWTPayload;
};

const sign = (payload: JWTPayload, alg = 'RS256') =>
  new SignJWT(payload).setProtectedHeader({ alg, kid: 'k1' }).sign(alg.startsWith('HS') ? new TextEncoder().encode(SECRET) : rsa);

const expectations = (extra: Partial<IdTokenExpectations> = {}): IdTokenExpectations =>
  ({ issuer: ISSUER, clientID: CLIENT, nonce: NONCE, algorithms: ['RS256'], clockTolerance: 30, jwks, now: NOW, ...extra });

async function refusal(token: string | Promise<string>, extra: Partial<IdTokenExpectations> = {}): Promise<{ code: string; status: number; message: string }> {
  try {
    await validateIdToken(await token, expectations(extra));
  } catch (err) {
    // Messages quote with typographic quotes (no markup character ever reaches err.message): compared here
    // in plain quotes.
    const error = err as { code: string; status: number; message: string };
    error.message = error.message.replace(/[\u201c\u201d]/g, '"').replace(/\u2019/g, "'");
    return error;
  }
  throw new Error('the ID token was accepted');
}

describe('a valid ID token', () => {
  it('is accepted and its claims returned', async () => {
    await expect(validateIdToken(await sign(claims({ name: 'A' })), expectations())).resolves.toMatchObject({ sub: 'user-1', name: 'A' });
  });

  it('is accepted with several audiences when azp is the client', async () => {
    await expect(validateIdToken(await sign(claims({ aud: [CLIENT, 'api'], azp: CLIENT })), expectations({ trustedAudiences: ['api'] }))).resolves.toMatchObject({ azp: CLIENT });
  });

  it('is refused with an audience the client does not trust, listed or not (Core §3.1.3.7 step 3)', async () => {
    const message = 'The ID token "aud" lists an audience this client does not trust (Core §3.1.3.7; see trustedAudiences).';
    expect((await refusal(sign(claims({ aud: [CLIENT, 'api'], azp: CLIENT })))).message).toBe(message);
    expect((await refusal(sign(claims({ aud: [CLIENT, 'api', 'other'], azp: CLIENT })), { trustedAudiences: ['api'] })).message).toBe(message);
    await expect(validateIdToken(await sign(claims({ aud: [CLIENT, 'api', 'other'], azp: CLIENT })), expectations({ trustedAudiences: ['other', 'api'] }))).resolves.toBeDefined();
  });

  it('uses the clock of the machine when none is injected', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect(validateIdToken(await sign(claims({ iat: now, exp: now + 60 })), { ...expectations(), now: undefined })).resolves.toMatchObject({ sub: 'user-1' });
    expect((await refusal(sign(claims({ iat: NOW, exp: NOW + 60 })), { now: undefined })).message).toBe('The ID token has expired.');
  });
});

describe('the signature and algorithm (steps 6–8)', () => {
  it('refuses what is not a JWS', async () => {
    expect(await refusal('not-a-jwt')).toMatchObject({ code: 'id_token_invalid', status: 502, message: 'The ID token is not a JWS compact serialization.' });
  });

  it('refuses an algorithm outside the list, naming it (cut to 20 characters) and the list', async () => {
    const token = `${Buffer.from(JSON.stringify({ alg: `HS256${'x'.repeat(40)}` })).toString('base64url')}.e30.sig`;
    expect((await refusal(token, { algorithms: ['RS256', 'ES256'] })).message).toBe(`The ID token is signed with "HS256${'x'.repeat(15)}", which is not in the allowed list (RS256, ES256).`.replace('xxxxx"', 'xxxxx…"'));
  });

  it('refuses alg none unless listed, and checks the claims of an unsigned token when it is', async () => {
    const unsigned = new UnsecuredJWT(claims()).encode();
    expect((await refusal(unsigned)).message).toContain('"none"');
    await expect(validateIdToken(unsigned, expectations({ algorithms: ['none'] }))).resolves.toMatchObject({ sub: 'user-1' });
    expect((await refusal(new UnsecuredJWT(claims({ nonce: 'other' })).encode(), { algorithms: ['none'] })).message).toBe('The ID token "nonce" does not match the login.');
  });

  it('verifies HMAC with the client secret only when HS256 is listed', async () => {
    const token = await sign(claims(), 'HS256');
    expect((await refusal(token)).message).toContain('"HS256"');
    await expect(validateIdToken(token, expectations({ algorithms: ['HS256'], clientSecret: SECRET }))).resolves.toMatchObject({ sub: 'user-1' });
    expect((await refusal(token, { algorithms: ['HS256'], clientSecret: `${SECRET}x` })).message).toBe('The ID token signature is invalid.');
    // no client secret: an empty key, which jose refuses outright (not as a wrong signature)
    const noSecret = await refusal(token, { algorithms: ['HS256'] });
    expect(noSecret.code).toBe('id_token_invalid');
    expect(noSecret.message).not.toBe('The ID token signature is invalid.');
  });

  it('refuses a token signed by another key, and needs a key set for asymmetric algorithms', async () => {
    const other = await generateKeyPair('RS256');
    const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(other.privateKey);
    expect((await refusal(forged)).message).toBe('The ID token signature is invalid.');
    const unknownKid = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k2' }).sign(rsa);
    expect((await refusal(unknownKid)).message).toBe('No key in the server\'s JWKS matches the ID token (kid/alg), even after refetching it.');
    expect((await refusal(sign(claims()), { jwks: undefined })).message).toBe('The server publishes no jwks_uri, so the ID token signature cannot be checked.');
  });
});

describe('the claims', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['another issuer', { iss: 'https://evil.example' }, 'The ID token "iss" claim is invalid (check_failed).'],
    ['another audience', { aud: 'other' }, 'The ID token "aud" claim is invalid (check_failed).'],
    ['no sub', { sub: undefined }, 'The ID token "sub" claim is invalid (missing).'],
    ['an empty sub', { sub: '' }, 'The ID token has no "sub" (Core §2).'],
    ['a numeric sub', { sub: 123 }, 'The ID token has no "sub" (Core §2).'],
    ['no exp', { exp: undefined }, 'The ID token "exp" claim is invalid (missing).'],
    ['no iat', { iat: undefined }, 'The ID token "iat" claim is invalid (missing).'],
    ['several audiences and no azp', { aud: [CLIENT, 'api'] }, 'The ID token has several audiences and no "azp" (Core §3.1.3.7).'],
    ['an azp of another client', { aud: [CLIENT, 'api'], azp: 'api' }, 'The ID token "azp" is not this client (Core §3.1.3.7).'],
    ['a single audience and a foreign azp', { azp: 'api' }, 'The ID token "azp" is not this client (Core §3.1.3.7).'],
    ['no nonce', { nonce: undefined }, 'The ID token "nonce" does not match the login.'],
    ['another nonce', { nonce: 'nonce-2' }, 'The ID token "nonce" does not match the login.'],
    ['a numeric nonce', { nonce: 1 }, 'The ID token "nonce" does not match the login.'],
  ])('refuses %s', async (_name, extra, message) => {
    const err = await refusal(sign(claims(extra)));
    expect({ code: err.code, status: err.status, message: err.message }).toEqual({ code: 'id_token_invalid', status: 502, message });
  });

  it('needs a nonce to compare with: a login without one refuses any token', async () => {
    expect((await refusal(sign(claims()), { nonce: undefined })).message).toBe('The ID token "nonce" does not match the login.');
    expect((await refusal(sign(claims({ nonce: undefined })), { nonce: undefined })).message).toBe('The ID token "nonce" does not match the login.');
  });
});

describe('time, with a 30 s clock tolerance (steps 9, 10)', () => {
  it('accepts exp 29 s ago and refuses it 31 s ago', async () => {
    await expect(validateIdToken(await sign(claims({ exp: NOW - 29, iat: NOW - 600 })), expectations())).resolves.toBeDefined();
    expect(await refusal(sign(claims({ exp: NOW - 31, iat: NOW - 600 })))).toMatchObject({ code: 'id_token_invalid', message: 'The ID token has expired.' });
  });

  it('accepts iat 30 s ahead and refuses 31 s ahead', async () => {
    await expect(validateIdToken(await sign(claims({ iat: NOW + 30 })), expectations())).resolves.toBeDefined();
    expect((await refusal(sign(claims({ iat: NOW + 31 })))).message).toBe('The ID token "iat" is in the future.');
  });

  it('applies the configured tolerance, not a fixed one', async () => {
    expect((await refusal(sign(claims({ iat: NOW + 5 })), { clockTolerance: 0 })).message).toBe('The ID token "iat" is in the future.');
    expect((await refusal(sign(claims({ exp: NOW - 1, iat: NOW - 60 })), { clockTolerance: 0 })).message).toBe('The ID token has expired.');
  });

  it('refuses a non-numeric iat', async () => {
    expect((await refusal(sign(claims({ iat: 'now' })))).code).toBe('id_token_invalid');
  });
});

describe('auth_time with max_age (step 13)', () => {
  const maxAge = 600;

  it('accepts auth_time up to max_age + tolerance ago, and refuses one second more', async () => {
    await expect(validateIdToken(await sign(claims({ auth_time: NOW - maxAge - 30 })), expectations({ maxAge }))).resolves.toBeDefined();
    expect((await refusal(sign(claims({ auth_time: NOW - maxAge - 31 })), { maxAge })).message).toBe('The ID token "auth_time" is older than max_age allows.');
  });

  it('refuses a token without auth_time, or with a non-numeric one', async () => {
    const message = 'The ID token has no "auth_time" although max_age was requested (Core §3.1.3.7).';
    expect((await refusal(sign(claims()), { maxAge })).message).toBe(message);
    expect((await refusal(sign(claims({ auth_time: String(NOW) })), { maxAge })).message).toBe(message);
  });

  it('checks auth_time for max_age 0 too, and not at all without max_age', async () => {
    expect((await refusal(sign(claims()), { maxAge: 0 })).message).toContain('auth_time');
    await expect(validateIdToken(await sign(claims({ auth_time: NOW - 10 ** 6 })), expectations())).resolves.toBeDefined();
  });
});

describe('at_hash (Core §3.1.3.6)', () => {
  it('accepts a matching at_hash, refuses another, and skips it without an access token', async () => {
    const good = atHash('access-token-1', 'RS256');
    await expect(validateIdToken(await sign(claims({ at_hash: good })), expectations({ accessToken: 'access-token-1' }))).resolves.toBeDefined();
    expect((await refusal(sign(claims({ at_hash: good })), { accessToken: 'access-token-2' })).message).toBe('The ID token "at_hash" does not match the access token.');
    await expect(validateIdToken(await sign(claims({ at_hash: 'whatever' })), expectations())).resolves.toBeDefined();
    await expect(validateIdToken(await sign(claims()), expectations({ accessToken: 'access-token-1' }))).resolves.toBeDefined();
  });

  it('skips at_hash on an unsigned token (alg none is only ever accepted when listed)', async () => {
    const unsigned = new UnsecuredJWT(claims({ at_hash: 'x' })).encode();
    await expect(validateIdToken(unsigned, expectations({ algorithms: ['none'], accessToken: 'access-token-1' }))).resolves.toBeDefined();
  });

  it.each([
    ['ES256K', 'sha256', 16],
    ['RS256', 'sha256', 16], ['ES384', 'sha384', 24], ['PS512', 'sha512', 32], ['EdDSA', 'sha512', 32], ['Ed25519', 'sha512', 32], ['HS256', 'sha256', 16],
  ])('hashes with %s as %s, keeping the left %d bytes', async (alg, hash, bytes) => {
    const { createHash } = await import('node:crypto');
    const expected = createHash(hash).update('token-x', 'ascii').digest().subarray(0, bytes).toString('base64url');
    expect(atHash('token-x', alg)).toBe(expected);
  });
});

describe('an ID token from a refresh (Core §12.2)', () => {
  // the claims of the login's current ID token (Core §12.2 compares the refreshed one with them)
  const refreshOf = claims();

  it('is accepted for the same sub, with the original nonce or none', async () => {
    await expect(validateIdToken(await sign(claims()), expectations({ nonce: undefined, refreshOf }))).resolves.toBeDefined();
    await expect(validateIdToken(await sign(claims({ nonce: undefined })), expectations({ nonce: undefined, refreshOf }))).resolves.toBeDefined();
  });

  it('is refused for another sub, or another nonce', async () => {
    expect((await refusal(sign(claims({ sub: 'user-2' })), { nonce: undefined, refreshOf })).message).toBe('The refreshed ID token is about another "sub" (Core §12.2).');
    expect((await refusal(sign(claims({ nonce: 'nonce-2' })), { nonce: undefined, refreshOf })).message).toBe('The refreshed ID token "nonce" is not the original one (Core §12.2).');
    expect((await refusal(sign(claims()), { nonce: undefined, refreshOf: claims({ nonce: undefined }) })).message).toContain('nonce');
  });

  it('is refused with another aud, or an azp the original lacked or had otherwise; the same audiences in any order pass', async () => {
    const many = claims({ aud: [CLIENT, 'api'], azp: CLIENT });
    const trusted = { nonce: undefined, trustedAudiences: ['api', 'other'] };
    await expect(validateIdToken(await sign(claims({ aud: ['api', CLIENT, 'api'], azp: CLIENT })), expectations({ ...trusted, refreshOf: many }))).resolves.toBeDefined();
    expect((await refusal(sign(claims({ aud: [CLIENT, 'other'], azp: CLIENT })), { ...trusted, refreshOf: many })).message).toBe('The refreshed ID token has another "aud" (Core §12.2).');
    expect((await refusal(sign(claims({ aud: [CLIENT, 'api'], azp: CLIENT })), { ...trusted, refreshOf: claims() })).message).toBe('The refreshed ID token has another "aud" (Core §12.2).');
    // audiences compared as a set of whole values: [a, b] is not [ab]
    const pieces = { nonce: undefined, trustedAudiences: ['a', 'b', 'ab'] };
    expect((await refusal(sign(claims({ aud: [CLIENT, 'a', 'b'], azp: CLIENT })), { ...pieces, refreshOf: claims({ aud: [CLIENT, 'ab'], azp: CLIENT }) })).message).toBe('The refreshed ID token has another "aud" (Core §12.2).');
    expect((await refusal(sign(claims({ azp: CLIENT })), { nonce: undefined, refreshOf: claims() })).message).toBe('The refreshed ID token has another "azp" (Core §12.2).');
    await expect(validateIdToken(await sign(claims({ azp: CLIENT })), expectations({ nonce: undefined, refreshOf: claims({ azp: CLIENT }) }))).resolves.toBeDefined();
    await expect(validateIdToken(await sign(claims()), expectations({ nonce: undefined, refreshOf: claims({ azp: CLIENT }) }))).resolves.toBeDefined();
  });

  it('is refused with another auth_time; one left out on either side passes', async () => {
    const authTime = NOW - 60;
    expect((await refusal(sign(claims({ auth_time: authTime + 1 })), { nonce: undefined, refreshOf: claims({ auth_time: authTime }) })).message).toBe('The refreshed ID token has another "auth_time" (Core §12.2).');
    await expect(validateIdToken(await sign(claims({ auth_time: authTime })), expectations({ nonce: undefined, refreshOf: claims({ auth_time: authTime }) }))).resolves.toBeDefined();
    await expect(validateIdToken(await sign(claims()), expectations({ nonce: undefined, refreshOf: claims({ auth_time: authTime }) }))).resolves.toBeDefined();
    await expect(validateIdToken(await sign(claims({ auth_time: authTime })), expectations({ nonce: undefined, refreshOf: claims() }))).resolves.toBeDefined();
  });
});

describe('key set failures keep their own codes', () => {
  const failingJwks = (err: unknown): JWTVerifyGetKey => async () => {
    throw err;
  };

  it.each<[string, unknown, { code: string; status: number; message?: string }]>([
    ['a JWKS timeout', new joseErrors.JWKSTimeout(), { code: 'upstream_timeout', status: 504, message: 'The JWKS endpoint did not answer within httpTimeout.' }],
    ['an invalid JWKS', new joseErrors.JWKSInvalid(), { code: 'jwks_failed', status: 502, message: 'The JWKS endpoint did not answer with a valid JSON Web Key Set.' }],
    ['our own fetch error', new UpstreamError('upstream_response_too_large', 'too big'), { code: 'upstream_response_too_large', status: 502, message: 'too big' }],
    ['our fetch error wrapped by jose', Object.assign(new joseErrors.JOSEError('wrapped'), { cause: new UpstreamError('jwks_failed', 'HTTP 500') }), { code: 'jwks_failed', status: 502, message: 'HTTP 500' }],
    ['another jose error', new joseErrors.JWKInvalid('bad key'), { code: 'id_token_invalid', status: 502, message: 'The ID token is invalid (ERR_JWK_INVALID).' }],
    ['something else', new Error('boom'), { code: 'id_token_invalid', status: 502, message: 'The ID token could not be validated.' }],
  ])('maps %s', async (_name, err, expected) => {
    const mapped = await refusal(sign(claims()), { jwks: failingJwks(err) });
    expect(mapped).toMatchObject(expected);
    // the original error stays reachable for logs (ours is passed on as it is)
    if (err instanceof UpstreamError) expect(mapped).toBe(err);
    else if (err instanceof joseErrors.JOSEError && (err as { cause?: unknown }).cause instanceof UpstreamError) expect(mapped).toBe((err as { cause?: unknown }).cause);
    else expect((mapped as { cause?: unknown }).cause).toBe(err);
  });

  it('keeps the jose error as the cause of expiry, claim and signature failures', async () => {
    const other = await generateKeyPair('RS256');
    const cases: Array<[Promise<string>, unknown]> = [
      [sign(claims({ exp: NOW - 100, iat: NOW - 600 })), joseErrors.JWTExpired],
      [sign(claims({ iss: 'https://evil.example' })), joseErrors.JWTClaimValidationFailed],
      [new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(other.privateKey), joseErrors.JWSSignatureVerificationFailed],
      [new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'k9' }).sign(rsa), joseErrors.JWKSNoMatchingKey],
    ];
    for (const [token, type] of cases) {
      const err = await refusal(token);
      expect((err as { cause?: unknown }).cause).toBeInstanceOf(type as new () => Error);
    }
  });
});

describe('resolveIdTokenAlgs', () => {
  it('takes the configured list as it is', () => {
    expect(resolveIdTokenAlgs(['HS256'], ['RS256'])).toEqual(['HS256']);
  });

  it('otherwise keeps the asymmetric algorithms the server advertises, never none or HMAC', () => {
    expect(resolveIdTokenAlgs(undefined, ['none', 'HS256', 'RS256', 'ES256', 42, 'EdDSA'])).toEqual(['RS256', 'ES256', 'EdDSA']);
  });

  it('falls back to RS256 when nothing usable is advertised', () => {
    expect(resolveIdTokenAlgs(undefined, undefined)).toEqual(['RS256']);
    expect(resolveIdTokenAlgs(undefined, 'RS256')).toEqual(['RS256']);
    expect(resolveIdTokenAlgs(undefined, ['none', 'HS256'])).toEqual(['RS256']);
  });
});
