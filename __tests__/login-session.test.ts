/** lib/state/login.ts: the stored login built from, or updated by, a token response. */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { clearLogin, idTokenPayload, readLogin, storeLogin, withTokens, type StoredLogin } from '../lib/state/login.js';
import type { RequestWithSession } from '../lib/core/model.js';
import type { LoginSession } from '../lib/core/types.js';

const NOW_MS = 1_700_000_000_000;
const base: LoginSession = { idToken: 'id-1', claims: { sub: 'u1' }, accessToken: 'at-1', refreshToken: 'rt-1', tokenType: 'Bearer', scope: 'openid', expiresAt: 1, dpopJwk: { kty: 'EC' } };

afterEach(() => {
  jest.restoreAllMocks();
});

describe('withTokens', () => {
  it('applies every field of a full response, computing expiresAt from expires_in', () => {
    jest.spyOn(Date, 'now').mockReturnValue(NOW_MS + 999);
    const next = withTokens(base, { id_token: 'id-2', access_token: 'at-2', refresh_token: 'rt-2', token_type: 'DPoP', scope: 'openid offline_access', expires_in: 300 }, { sub: 'u1', n: 2 });
    expect(next).toEqual({ ...base, idToken: 'id-2', claims: { sub: 'u1', n: 2 }, accessToken: 'at-2', refreshToken: 'rt-2', tokenType: 'DPoP', scope: 'openid offline_access', expiresAt: NOW_MS / 1000 + 300 });
  });

  it('keeps the refresh token, access token and scope when the response has none (no rotation)', () => {
    const next = withTokens(base, { token_type: 'Bearer' } as never);
    expect(next).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1', scope: 'openid' });
  });

  it('defaults the token type to Bearer', () => {
    expect(withTokens({ ...base, tokenType: 'DPoP' }, {} as never).tokenType).toBe('Bearer');
  });

  it('drops expiresAt when the response has no expires_in', () => {
    expect('expiresAt' in withTokens(base, { access_token: 'at-2' } as never)).toBe(false);
  });

  it('replaces the ID token and claims only when both a new ID token and its validated claims are given', () => {
    expect(withTokens(base, { id_token: 'id-2' } as never)).toMatchObject({ idToken: 'id-1', claims: { sub: 'u1' } });
    expect(withTokens(base, { access_token: 'x' } as never, { sub: 'u1', n: 3 })).toMatchObject({ idToken: 'id-1', claims: { sub: 'u1' } });
    expect(withTokens(base, { id_token: 'id-3' } as never, { sub: 'u1', n: 3 })).toMatchObject({ idToken: 'id-3', claims: { sub: 'u1', n: 3 } });
  });

  it('records a certificate binding (RFC 8705 §3) and drops an earlier one when the new token is not bound', () => {
    const binding = { certificateBound: true as const, cnf: { 'x5t#S256': 'thumb-1' } };
    const bound = withTokens(base, { access_token: 'at-2' } as never, undefined, binding);
    expect(bound).toMatchObject({ accessToken: 'at-2', certificateBound: true, cnf: { 'x5t#S256': 'thumb-1' } });
    const unbound = withTokens(bound, { access_token: 'at-3' } as never);
    expect('certificateBound' in unbound || 'cnf' in unbound).toBe(false);
    expect(unbound.accessToken).toBe('at-3');
  });

  it('keeps fields it does not set itself (an afterCallback hook\'s, the generation, loginAt)', () => {
    const next = withTokens({ ...base, loginAt: 7, generation: 2, custom: { team: 'a' } } as LoginSession, { access_token: 'at-2' } as never);
    expect(next).toMatchObject({ loginAt: 7, generation: 2, custom: { team: 'a' }, idToken: 'id-1', dpopJwk: { kty: 'EC' }, accessToken: 'at-2' });
  });

  it('copies claims that are not enumerable (read lazily from the ID token) as a plain field', () => {
    const lazy = { ...base } as LoginSession;
    Object.defineProperty(lazy, 'claims', { value: { sub: 'u1', lazy: true }, enumerable: false, writable: true, configurable: true });
    const next = withTokens(lazy, { access_token: 'at-2' } as never);
    expect(Object.getOwnPropertyDescriptor(next, 'claims')).toMatchObject({ value: { sub: 'u1', lazy: true }, enumerable: true });
  });

  it('never takes a prototype from a tampered store: a "__proto__" key is dropped', () => {
    const tampered = JSON.parse('{"idToken":"id-1","__proto__":{"accessToken":"planted","refreshToken":"planted"}}') as LoginSession;
    const next = withTokens(tampered, { token_type: 'Bearer' } as never);
    expect(Object.getPrototypeOf(next)).toBe(Object.prototype);
    expect(Object.hasOwn(next, '__proto__')).toBe(false);
    expect(next.accessToken).toBeUndefined();
    expect(next).toEqual({ idToken: 'id-1', claims: undefined, tokenType: 'Bearer' });
  });

  it('does not change the login it was given', () => {
    const copy = structuredClone(base);
    withTokens(base, { id_token: 'id-2', access_token: 'at-2', expires_in: 5 }, { sub: 'u1' });
    expect(base).toEqual(copy);
  });
});

describe('the stored login: what names it, and how it is read, stored and cleared', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = { iss: 'https://op.example.com', sub: 'alice', sid: 's-1' };
  const idToken = `${b64({ alg: 'RS256' })}.${b64(payload)}.sig`;
  const session = () => ({ session: {} }) as unknown as RequestWithSession;

  it("idTokenPayload: the ID token's payload for a login as the session holds it (no claims), kept on it", () => {
    const login: StoredLogin = { idToken };
    expect(idTokenPayload(login)).toEqual(payload);
    expect(Object.getOwnPropertyDescriptor(login, 'claims')).toMatchObject({ value: payload, enumerable: false });
  });

  it('idTokenPayload: the token\'s payload, not the claims an afterCallback shaped; {} for a token that is not a JWT', () => {
    const shaped = { sub: 'shaped', role: 'admin' };
    const login: StoredLogin = { idToken, claims: shaped };
    expect(idTokenPayload(login)).toEqual(payload);
    expect(login.claims).toBe(shaped); // left as the app shaped them
    expect(idTokenPayload({ idToken: 'not-a-jwt', claims: { sub: 'shaped' } })).toEqual({});
  });

  it('idTokenPayload: the claims themselves when they are the token\'s own (not parsed again)', () => {
    const req = session();
    storeLogin(req, 'a', { idToken, claims: { ...payload } });
    const stored = readLogin(req, 'a')!;
    expect(idTokenPayload(stored)).toBe(stored.claims);
  });

  it("reads the token's claims into a plain data property: writable and configurable, not enumerable", () => {
    const req = session();
    storeLogin(req, 'a', { idToken, claims: { ...payload } });
    const login = readLogin(req, 'a')!;
    expect(Object.getOwnPropertyDescriptor(login, 'claims')).toEqual({ value: payload, writable: true, enumerable: false, configurable: true });
  });

  it('stores a login given without claims as one whose claims are the token\'s', () => {
    const req = session();
    storeLogin(req, 'a', { idToken, claims: undefined } as never);
    expect(readLogin(req, 'a')?.claims).toEqual(payload);
    expect(JSON.parse(JSON.stringify(req.session))).toEqual({ par: { a: { login: { idToken } } } });
  });

  it('clearLogin: false without a login; otherwise the login goes, and the sign-in entry with it when empty', () => {
    const req = session();
    expect(clearLogin(req, 'a')).toBe(false);
    expect(req.session).toEqual({});
    storeLogin(req, 'a', { idToken, claims: { ...payload } });
    expect(clearLogin(req, 'a')).toBe(true);
    expect(req.session).toEqual({});
  });
});
