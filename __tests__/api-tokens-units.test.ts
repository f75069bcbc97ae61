/**
 * The pure parts of issue #27, table-driven: which API an option names (and the key its token is kept
 * under), the audience check of an API's access token, the shape and the types of `authorization_details`
 * in a token response, and the cap on the API tokens a login keeps.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { resolveApiTarget } from '../lib/config/api-target.js';
import type { LoginSession } from '../lib/core/types.js';
import { audienceMismatch } from '../lib/protocol/access-token-audience.js';
import { checkGrantedTypes, processAuthorizationDetails } from '../lib/protocol/authorization-details.js';
import { MAX_API_TOKENS, readApiToken, withApiToken } from '../lib/state/api-tokens.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (payload: unknown, header: unknown = { alg: 'RS256', typ: 'at+jwt' }) => `${b64(header)}.${b64(payload)}.c2ln`;

describe('resolveApiTarget', () => {
  const key = (options: Record<string, unknown>) => resolveApiTarget(options, 'getAccessToken()')!.key;

  it('is undefined for the login\'s own token', () => {
    expect(resolveApiTarget({}, 'x')).toBeUndefined();
  });

  it('keeps one token per API and scope: the scope\'s order and repeats do not matter, the kind of API does', () => {
    expect(key({ audience: 'https://a', scope: 'read write' })).toBe(key({ audience: 'https://a', scope: 'write read' }));
    expect(key({ audience: 'https://a', scope: 'read write' })).toBe(key({ audience: 'https://a', scope: 'write read read' }));
    expect(key({ audience: 'https://a' })).not.toBe(key({ audience: 'https://a', scope: 'read' }));
    expect(key({ audience: 'https://a/' })).not.toBe(key({ resource: 'https://a/' }));
    expect(key({ resource: ['https://a/', 'https://b/'] })).toBe(key({ resource: ['https://b/', 'https://a/', 'https://b/'] }));
    expect(key({ audience: 'https://a' })).toMatch(/^[A-Za-z0-9_-]{11}$/);
  });

  it('takes a resource string as one resource, and drops repeats from what is sent', () => {
    expect(resolveApiTarget({ resource: 'urn:example:api' }, 'x')).toMatchObject({ resource: ['urn:example:api'], label: 'urn:example:api' });
    expect(resolveApiTarget({ resource: ['https://a/', 'https://a/'] }, 'x')!.resource).toEqual(['https://a/']);
  });
});

describe('audienceMismatch (the payload is read, not verified)', () => {
  it.each([
    ['an opaque token', 'opaque-token-value', ['https://a']],
    ['aud equal to the audience', jwt({ aud: 'https://a' }), ['https://a']],
    ['aud an array holding every resource', jwt({ aud: ['https://b/', 'https://a/', 'x'] }), ['https://a/', 'https://b/']],
    ['an encrypted token (five parts)', 'a.b.c.d.e', ['https://a']],
    ['three parts that are not a JWS (no alg)', jwt({ aud: 'other' }, { typ: 'JWT' }), ['https://a']],
    ['three parts whose payload is not JSON', `${b64({ alg: 'RS256' })}.bm90IGpzb24.c2ln`, ['https://a']],
  ])('accepts %s', (_what, token, asked) => {
    expect(audienceMismatch(token, asked)).toBeUndefined();
  });

  it.each([
    ['aud another audience', jwt({ aud: 'https://default' }), ['https://a']],
    ['aud missing one of the resources', jwt({ aud: ['https://a/'] }), ['https://a/', 'https://b/']],
    ['no aud at all', jwt({ sub: 'alice' }), ['https://a']],
    ['aud that differs only by a trailing slash', jwt({ aud: 'https://a' }), ['https://a/']],
  ])('refuses %s with 502 access_token_audience_mismatch, quoting no token', (_what, token, asked) => {
    const err = audienceMismatch(token, asked)!;
    expect(err).toMatchObject({ code: 'access_token_audience_mismatch', status: 502 });
    expect(err.message).not.toContain(token.split('.')[1]!);
  });
});

describe('authorization_details in a token response', () => {
  const pay = { type: 'payment_initiation', actions: ['initiate'] };

  it.each([
    [undefined, undefined],
    [null, undefined],
    [[], undefined],
    [[pay], [pay]],
  ])('%j reads as %j', (value, expected) => {
    expect(processAuthorizationDetails(value, 'https://op/token')).toEqual(expected);
  });

  it.each([
    ['an object', pay],
    ['a string', JSON.stringify([pay])],
    ['an entry that is not an object', ['payment_initiation']],
    ['an entry with a numeric type', [{ type: 7 }]],
    ['an identifier that is not a string', [{ ...pay, identifier: 42 }]],
    ['datatypes that are not strings', [{ ...pay, datatypes: 'x' }]],
  ])('refuses %s: 502 authorization_details_invalid', (_what, value) => {
    expect(() => processAuthorizationDetails(value, 'https://op/token')).toThrow(expect.objectContaining({ code: 'authorization_details_invalid', status: 502 }));
  });

  it.each([
    [[pay], ['payment_initiation'], true],
    [[pay, { type: 'account_information' }], ['payment_initiation'], false],
    [[pay], undefined, false],
    [[pay], 'payment_initiation_and_more', false], // a tampered store: not an array, nothing was asked
    [undefined, undefined, true],
  ])('grants %j where %j was asked: allowed %s', (granted, asked, allowed) => {
    const check = () => checkGrantedTypes(granted, asked);
    if (allowed) expect(check).not.toThrow();
    else expect(check).toThrow(expect.objectContaining({ code: 'authorization_details_invalid' }));
  });
});

describe('the API tokens a login keeps', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });
  const login = (): LoginSession => ({ idToken: 'h.e30.s', refreshToken: 'rt-0', accessToken: 'own', claims: {} });
  const answer = (n: number, extra: Record<string, unknown> = {}) => ({ access_token: `api-${n}`, token_type: 'Bearer', expires_in: 300, ...extra });

  it(`keeps the ${MAX_API_TOKENS} obtained last (in the same millisecond too), leaves the login's own token, and takes a rotated refresh token`, () => {
    jest.spyOn(Date, 'now').mockReturnValue(1_800_000_000_000); // every token obtained at the same moment
    let current = login();
    for (let n = 0; n <= MAX_API_TOKENS; n += 1) current = withApiToken(current, `k${n}`, answer(n, n === 3 ? { refresh_token: 'rt-3' } : {}));
    expect(Object.keys(current.apis!)).toHaveLength(MAX_API_TOKENS);
    expect(readApiToken(current, 'k0')).toBeUndefined();
    expect(readApiToken(current, `k${MAX_API_TOKENS}`)).toMatchObject({ accessToken: `api-${MAX_API_TOKENS}`, tokenType: 'Bearer', certificateBound: false });
    expect(current).toMatchObject({ accessToken: 'own', refreshToken: 'rt-3' });
  });

  it('drops expired tokens when it stores another, and records DPoP and certificate binding', () => {
    const stale = { ...login(), apis: { old: { t: 'expired', r: 1, e: 1 }, bad: { t: 5 }, ok: { t: 'live', r: 2 } } };
    const next = withApiToken(stale, 'new', answer(1, { token_type: 'DPoP' }), { certificateBound: true, cnf: { 'x5t#S256': 'x' } });
    expect(Object.keys(next.apis!).sort()).toEqual(['new', 'ok']);
    expect(readApiToken(next, 'new')).toMatchObject({ tokenType: 'DPoP', certificateBound: true });
    expect(readApiToken(next, 'ok')).toMatchObject({ accessToken: 'live' });
    expect(readApiToken(stale, 'bad')).toBeUndefined();
    expect(readApiToken({ ...login(), apis: ['x'] as unknown as Record<string, unknown> }, '0')).toBeUndefined();
  });
});
