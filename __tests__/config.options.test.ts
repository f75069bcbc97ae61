/**
 * resolveConfig option by option: each mistake's exact TypeError message, the boundaries of the numeric
 * options, and what each accepted option resolves to. config.test.ts has the contract-level cases.
 */
import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from './helpers/keys.js';
import { resolveConfig } from '../lib/config/resolve.js';
import { isReservedParam, mergeAuthorizationParams } from '../lib/config/params.js';
import { isLoopbackHost } from '../lib/core/url.js';
import type { ParAuthConfig } from '../lib/core/types.js';

const valid: ParAuthConfig = { issuerBaseURL: 'https://op.example', baseURL: 'https://app.example', clientID: 'abc', clientSecret: 'shh' };
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const ecJwk = { ...ec.export({ format: 'jwk' }), kid: 'key-1' };
const resolve = (change: Record<string, unknown>) => resolveConfig({ ...valid, ...change } as ParAuthConfig);
const message = (change: Record<string, unknown>, extra?: { callbackPath?: string }): string => {
  try {
    resolveConfig({ ...valid, ...change } as ParAuthConfig, extra);
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  }
  throw new Error('no TypeError');
};

describe('the exact message for each mistake', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['options that are not an object', { __replace: 42 }, 'express-par options must be an object'],
    ['an ftp: issuer', { issuerBaseURL: 'ftp://op.example' }, '"issuerBaseURL" must be an http(s) URL (got "ftp:")'],
    ['an issuer with a fragment', { issuerBaseURL: 'https://op.example/#x' }, '"issuerBaseURL" must not have a query or fragment'],
    ['an issuer with a user name', { issuerBaseURL: 'https://user@op.example' }, '"issuerBaseURL" must not contain credentials'],
    ['an issuer with only a password', { issuerBaseURL: 'https://:pw@op.example' }, '"issuerBaseURL" must not contain credentials'],
    ['a blank clientID', { clientID: '   ' }, '"clientID" must be a non-empty string'],
    ['an empty clientSecret', { clientSecret: '' }, '"clientSecret" must be a non-empty string'],
    ['clientSecret: undefined (an unset variable)', { clientSecret: undefined }, '"clientSecret" is undefined (an unset environment variable?): set it, or set clientAuthMethod "none" for a public client'],
    ['clientAssertionSigningKey: undefined', { clientSecret: undefined, clientAssertionSigningKey: undefined }, '"clientSecret" is undefined (an unset environment variable?): set it, or set clientAuthMethod "none" for a public client'],
    ['a clientSecret with clientAuthMethod none', { clientAuthMethod: 'none' }, '"clientSecret" is set but clientAuthMethod is "none" (a public client has no secret): remove one of them'],
    ['a back-channel route without back-channel logout', { routes: { backchannelLogout: '/bcl' } }, '"routes.backchannelLogout" is set but "backchannelLogout" is off: turn it on, or remove the route'],
    ['an unknown auth method', { clientAuthMethod: 'x' }, '"clientAuthMethod" must be one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none, tls_client_auth, self_signed_tls_client_auth'],
    ['a short client_secret_jwt secret', { clientSecret: 'a'.repeat(31), clientAuthMethod: 'client_secret_jwt' }, '"clientSecret" must be at least 32 bytes for client_secret_jwt (HS256)'],
    ['a signing key with a secret method', { clientAuthMethod: 'client_secret_basic', clientAssertionSigningKey: ec }, '"clientAssertionSigningKey" is only used with clientAuthMethod "private_key_jwt" (got "client_secret_basic")'],
    ['an assertion alg with client_secret_basic', { clientAssertionSigningAlg: 'HS256' }, '"clientAssertionSigningAlg" is not used with clientAuthMethod "client_secret_basic"'],
    ['an asymmetric alg with client_secret_jwt', { clientSecret: 'a'.repeat(32), clientAuthMethod: 'client_secret_jwt', clientAssertionSigningAlg: 'RS256' }, '"clientAssertionSigningAlg" must be HS256, HS384 or HS512 for client_secret_jwt'],
    ['an HMAC alg for private_key_jwt', { clientSecret: undefined, clientAssertionSigningKey: ec, clientAssertionSigningAlg: 'HS256' }, '"clientAssertionSigningAlg" must be an asymmetric algorithm (RS256, PS256, ES256, EdDSA, …), got "HS256"'],
    ['an alg that does not fit the key', { clientSecret: undefined, clientAssertionSigningKey: ec, clientAssertionSigningAlg: 'RS256' }, '"clientAssertionSigningAlg" "RS256" does not fit the ec key'],
    ['routes that are not an object', { routes: 'x' }, '"routes" must be an object'],
    ['null routes', { routes: null }, '"routes" must be an object'],
    ['a route with a query', { routes: { logout: '/out?x' } }, '"routes.logout" must be a path starting with "/" (or false to turn the route off)'],
    ['a route with a fragment', { routes: { login: '/in#x' } }, '"routes.login" must be a path starting with "/" (or false to turn the route off)'],
    ['a route with a space', { routes: { login: '/in x' } }, '"routes.login" must be a path starting with "/" (or false to turn the route off)'],
    ['a route with a backslash', { routes: { login: '/in\\x' } }, '"routes.login" must be a path starting with "/" (or false to turn the route off)'],
    ['a numeric route', { routes: { login: 5 } }, '"routes.login" must be a path starting with "/" (or false to turn the route off)'],
    ['a true route', { routes: { login: true } }, '"routes.login" must be a path starting with "/" (or false to turn the route off)'],
    ['postLogoutRedirect turned off', { routes: { postLogoutRedirect: false } }, '"routes.postLogoutRedirect" cannot be false'],
    ['authorizationParams that are not an object', { authorizationParams: 'scope=openid' }, '"authorizationParams" must be an object'],
    ['null authorizationParams', { authorizationParams: null }, '"authorizationParams" must be an object'],
    ['response_type token', { authorizationParams: { response_type: 'token' } }, '"authorizationParams.response_type" is set by express-par itself and cannot be configured'],
    ['response_mode fragment', { authorizationParams: { response_mode: 'fragment' } }, '"authorizationParams.response_mode" must be "query" (the callback route is GET)'],
    ['a function parameter', { authorizationParams: { x: () => 1 } }, '"authorizationParams.x" must be a string, number, boolean, string array or JSON object'],
    ['a null parameter', { authorizationParams: { x: null } }, '"authorizationParams.x" must be a string, number, boolean, string array or JSON object'],
    ['httpTimeout 0', { httpTimeout: 0 }, '"httpTimeout" must be a number from 1 to 120000'],
    ['httpTimeout above 120 s', { httpTimeout: 120_001 }, '"httpTimeout" must be a number from 1 to 120000'],
    ['httpTimeout NaN', { httpTimeout: Number.NaN }, '"httpTimeout" must be a number from 1 to 120000'],
    ['clockTolerance above 600', { clockTolerance: 601 }, '"clockTolerance" must be a number from 0 to 600'],
    ['clockTolerance Infinity', { clockTolerance: Number.POSITIVE_INFINITY }, '"clockTolerance" must be a number from 0 to 600'],
    ['an empty idTokenSigningAlgs', { idTokenSigningAlgs: [] }, '"idTokenSigningAlgs" must be a non-empty array of JWS algorithms, e.g. ["RS256"]'],
    ['a non-array idTokenSigningAlgs', { idTokenSigningAlgs: 'RS256' }, '"idTokenSigningAlgs" must be a non-empty array of JWS algorithms, e.g. ["RS256"]'],
    ['HMAC ID tokens without a secret', { clientSecret: undefined, clientAuthMethod: 'none', idTokenSigningAlgs: ['RS256', 'HS256'] }, '"idTokenSigningAlgs" lists an HMAC algorithm, which needs "clientSecret"'],
    ['a non-function onEvent', { onEvent: {} }, '"onEvent" must be a function'],
    ['dpop as a number', { dpop: 1 }, '"dpop" must be true, false or a private key (JWK, PEM string or KeyObject)'],
    ['dpop null', { dpop: null }, '"dpop" must be true, false or a private key (JWK, PEM string or KeyObject)'],
    ['a request object alg without a key', { requestObjectSigningAlg: 'ES256' }, '"requestObjectSigningAlg" needs "requestObjectSigningKey"'],
  ])('%s', (_name, change, expected) => {
    const input = '__replace' in change ? change.__replace : { ...valid, ...change };
    let got = '';
    try {
      resolveConfig(input as ParAuthConfig);
    } catch (err) {
      expect(err).toBeInstanceOf(TypeError);
      got = (err as Error).message;
    }
    expect(got).toBe(expected);
  });

  it('names callbackPath (the strategy option) rather than routes.callback', () => {
    expect(message({}, { callbackPath: 'cb' })).toBe('"callbackPath" must be a path starting with "/" (or false to turn the route off)');
    expect(message({ routes: { callback: 'cb' } })).toBe('"routes.callback" must be a path starting with "/" (or false to turn the route off)');
  });

  it('needs an options object, not null', () => {
    expect(() => resolveConfig(null as unknown as ParAuthConfig)).toThrow(new TypeError('express-par options must be an object'));
  });
});

describe('what accepted options resolve to', () => {
  it('takes the numeric options at their limits', () => {
    expect(resolve({ httpTimeout: 1, clockTolerance: 0 })).toMatchObject({ httpTimeout: 1, clockTolerance: 0 });
    expect(resolve({ httpTimeout: 120_000, clockTolerance: 600 })).toMatchObject({ httpTimeout: 120_000, clockTolerance: 600 });
  });

  it('turns routes off with false, keeping the redirect_uri on /callback', () => {
    const config = resolve({ routes: { login: false, callback: false, logout: false } });
    expect(config.routes).toEqual({ login: false, callback: false, logout: false, postLogoutRedirect: '/', backchannelLogout: false });
    expect(config.redirectUri).toBe('https://app.example/callback');
  });

  it('joins baseURL and routes with or without a trailing slash', () => {
    expect(resolve({ baseURL: 'https://app.example/base', routes: { callback: '/cb', postLogoutRedirect: '/bye' } })).toMatchObject({ redirectUri: 'https://app.example/base/cb', postLogoutRedirectUri: 'https://app.example/base/bye' });
    expect(resolve({ baseURL: 'https://app.example/base/' }).redirectUri).toBe('https://app.example/base/callback');
    expect(resolve({ baseURL: 'http://app.example' }).redirectUri).toBe('http://app.example/callback');
  });

  it('drops one trailing slash from the issuer (the rule of lib/protocol/issuer.ts), not more', () => {
    expect(resolve({ issuerBaseURL: 'https://op.example/tenant/' }).issuer).toBe('https://op.example/tenant');
    expect(resolve({ issuerBaseURL: 'https://op.example/tenant//' }).issuer).toBe('https://op.example/tenant/');
  });

  it('encodes parameter types as documented and skips undefined ones', () => {
    const params = resolve({ authorizationParams: { scope: 'openid email', n: 5, b: true, s: 'x', u: undefined, claims: { id_token: { acr: null } }, resource: ['https://a'], response_type: undefined } }).authorizationParams;
    expect([...params]).toEqual([['scope', 'openid email'], ['n', '5'], ['b', 'true'], ['s', 'x'], ['claims', '{"id_token":{"acr":null}}'], ['resource', 'https://a']]);
    expect(resolve({ authorizationParams: { response_mode: 'query' } }).authorizationParams.get('response_mode')).toBe('query');
    expect(resolve({ authorizationParams: { mixed: ['a', 1] } }).authorizationParams.get('mixed')).toBe('["a",1]');
  });

  it('resolves client_secret_jwt to HS256 unless another HMAC alg is named', () => {
    expect(resolve({ clientSecret: 'a'.repeat(32), clientAuthMethod: 'client_secret_jwt' }).clientAssertionAlg).toBe('HS256');
    expect(resolve({ clientSecret: 'a'.repeat(32), clientAuthMethod: 'client_secret_jwt', clientAssertionSigningAlg: 'HS384' }).clientAssertionAlg).toBe('HS384');
    expect(resolve({ clientAuthMethod: 'client_secret_post' }).clientAssertionAlg).toBeUndefined();
  });

  it('keeps a private_key_jwt JWK\'s kid and takes its alg from the key', () => {
    const config = resolve({ clientSecret: undefined, clientAssertionSigningKey: ecJwk });
    expect(config).toMatchObject({ clientAuthMethod: 'private_key_jwt', clientAssertionAlg: 'ES256', clientAssertionKid: 'key-1' });
    expect('clientAssertionKid' in resolve({ clientSecret: undefined, clientAssertionSigningKey: ec })).toBe(false);
  });

  it('resolves dpop: true to a key per session with ES256, and a key to that key', () => {
    expect(resolve({ dpop: true })).toMatchObject({ dpop: 'per-session', dpopAlg: 'ES256' });
    expect(resolve({ dpop: false })).toMatchObject({ dpop: false });
    expect('dpopAlg' in resolve({})).toBe(false);
    const keyed = resolve({ dpop: ecJwk });
    expect(keyed.dpopAlg).toBe('ES256');
    expect(typeof keyed.dpop).toBe('object');
  });

  it('keeps the request object key, alg and kid', () => {
    const config = resolve({ requestObjectSigningKey: ecJwk });
    expect(config).toMatchObject({ requestObjectAlg: 'ES256', requestObjectKid: 'key-1' });
    expect(config.requestObjectKey?.asymmetricKeyType).toBe('ec');
    expect('requestObjectKid' in resolve({ requestObjectSigningKey: ec })).toBe(false);
  });

  it('keeps the hooks it was given, and only those', () => {
    const afterCallback = (_req: unknown, _res: unknown, s: unknown) => s;
    const onEvent = () => {};
    const config = resolve({ afterCallback, onEvent });
    expect(config.afterCallback).toBe(afterCallback);
    expect(config.onEvent).toBe(onEvent);
    expect(Object.keys(resolve({})).filter((k) => ['afterCallback', 'onEvent', 'idTokenSigningAlgs', 'profile', 'clientSecret'].includes(k))).toEqual(['clientSecret']);
  });

  it('copies idTokenSigningAlgs rather than keeping the caller\'s array', () => {
    const algs = ['RS256'];
    const config = resolve({ idTokenSigningAlgs: algs });
    expect(config.idTokenSigningAlgs).toEqual(['RS256']);
    expect(config.idTokenSigningAlgs).not.toBe(algs);
    expect(resolve({ idTokenSigningAlgs: ['none'] }).idTokenSigningAlgs).toEqual(['none']);
  });
});

describe('options added with back-channel logout and trusted audiences', () => {
  it('accepts trustedAudiences as non-empty strings, keeps a copy, and leaves an empty list out', () => {
    const list = ['https://api.example', 'other-client'];
    const resolved = resolve({ trustedAudiences: list });
    expect(resolved.trustedAudiences).toEqual(list);
    list.push('added later');
    expect(resolved.trustedAudiences).toEqual(['https://api.example', 'other-client']);
    expect('trustedAudiences' in resolve({ trustedAudiences: [] })).toBe(false);
    expect('trustedAudiences' in resolve({})).toBe(false);
  });

  it.each([['a string', 'api'], ['an empty string in the list', ['api', '']], ['a number in the list', ['api', 7]], ['an object', { api: true }]])('refuses trustedAudiences as %s', (_name, trustedAudiences) => {
    expect(message({ trustedAudiences })).toBe('"trustedAudiences" must be an array of non-empty strings (audiences besides clientID accepted in an ID token)');
  });

  it('mounts the back-channel route only with backchannelLogout: true, at routes.backchannelLogout', () => {
    expect(resolve({ backchannelLogout: true }).routes.backchannelLogout).toBe('/backchannel-logout');
    expect(resolve({ backchannelLogout: true, routes: { backchannelLogout: '/bcl' } }).routes.backchannelLogout).toBe('/bcl');
    expect(resolve({ backchannelLogout: false }).routes.backchannelLogout).toBe(false);
    expect(resolve({}).routes.backchannelLogout).toBe(false);
    expect(message({ backchannelLogout: 'yes' })).toMatch(/^"backchannelLogout" must be /);
    expect(message({ backchannelLogout: true, routes: { backchannelLogout: 'bcl' } })).toMatch(/routes\.backchannelLogout/);
  });

  it('backchannelLogout: true or { maxSessionAge, maxStaleness } in ms, with defaults; off leaves no options', () => {
    const DAY = 24 * 3600_000;
    expect(resolve({ backchannelLogout: true }).backchannelLogout).toEqual({ maxSessionAge: 7 * DAY, maxStaleness: 1000 });
    expect(resolve({ backchannelLogout: { maxSessionAge: DAY, maxStaleness: 0 } })).toMatchObject({
      backchannelLogout: { maxSessionAge: DAY, maxStaleness: 0 },
      routes: { backchannelLogout: '/backchannel-logout' },
    });
    expect(resolve({ backchannelLogout: false }).backchannelLogout).toBeUndefined();
    expect(resolve({}).backchannelLogout).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['a string', 'yes', '"backchannelLogout" must be true, false or { maxSessionAge?, maxStaleness? }'],
    ['an array', [], '"backchannelLogout" must be true, false or { maxSessionAge?, maxStaleness? }'],
    ['an unknown key', { ttl: 1 }, '"backchannelLogout.ttl" is not an option (use maxSessionAge or maxStaleness)'],
    ['a maxSessionAge under a minute', { maxSessionAge: 59_999 }, '"backchannelLogout.maxSessionAge" must be a number from 60000 to 34560000000'],
    ['a maxSessionAge in seconds as a string', { maxSessionAge: '7d' }, '"backchannelLogout.maxSessionAge" must be a number from 60000 to 34560000000'],
    ['a negative maxStaleness', { maxStaleness: -1 }, '"backchannelLogout.maxStaleness" must be a number from 0 to 60000'],
    ['a maxStaleness over a minute', { maxStaleness: 60_001 }, '"backchannelLogout.maxStaleness" must be a number from 0 to 60000'],
  ])('refuses backchannelLogout as %s, naming the option', (_name, backchannelLogout, expected) => {
    expect(message({ backchannelLogout })).toBe(expected);
  });

  it('names routes.postLogoutRedirect when it is not a path', () => {
    expect(message({ routes: { postLogoutRedirect: 'bye' } })).toMatch(/routes\.postLogoutRedirect/);
  });
});

describe('keys and algorithms: the option named in each message', () => {
  it('names the option whose key fits no signing algorithm', () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    expect(message({ clientSecret: undefined, clientAssertionSigningKey: k1 })).toBe('"clientAssertionSigningAlg": unsupported EC curve secp256k1');
    expect(message({ requestObjectSigningKey: k1 })).toBe('"requestObjectSigningAlg": unsupported EC curve secp256k1');
    expect(message({ dpop: k1 })).toBe('"dpop": unsupported EC curve secp256k1');
  });

  it('refuses a dpop value that is neither true, false nor a key', () => {
    for (const dpop of [42, null]) expect(message({ dpop })).toBe('"dpop" must be true, false or a private key (JWK, PEM string or KeyObject)');
  });

  it('keeps the signing key only for the assertion methods, and the secret only when given', () => {
    expect(resolve({ clientSecret: undefined, clientAssertionSigningKey: ec }).clientAssertionKey).toBeDefined();
    const basic = resolve({});
    expect('clientAssertionKey' in basic).toBe(false);
    expect(basic.clientSecret).toBe('shh');
    expect('clientSecret' in resolve({ clientSecret: undefined, clientAssertionSigningKey: ec })).toBe(false);
  });

  it('checks every idTokenSigningAlgs entry, and under fapi2 that every one is a FAPI 2.0 algorithm', () => {
    expect(message({ idTokenSigningAlgs: ['RS256', 42] })).toMatch(/^"idTokenSigningAlgs" /);
    expect(message({ idTokenSigningAlgs: ['RS256', 'none2'] })).toMatch(/^"idTokenSigningAlgs" /);
    expect(message({ profile: 'fapi2', clientSecret: undefined, clientAssertionSigningKey: ec, idTokenSigningAlgs: ['PS256', 'RS256'] })).toMatch(/^"idTokenSigningAlgs" may only hold/);
  });
});

describe('authorization parameters set by express-par itself', () => {
  it.each(['client_id', 'redirect_uri', 'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'request', 'request_uri', 'dpop_jkt', 'client_secret', 'client_assertion', 'client_assertion_type', 'client_assertion_other', 'code_challenge_other'])('refuses %s in authorizationParams', (key) => {
    expect(message({ authorizationParams: { [key]: 'x' } })).toMatch(new RegExp(`^"authorizationParams\\.${key}" is set by express-par itself`));
  });

  it('lets other parameters through, whose names only contain a protocol one', () => {
    expect(isReservedParam('my_client_assertion')).toBe(false);
    expect(isReservedParam('x_code_challenge')).toBe(false);
    expect(isReservedParam('audience')).toBe(false);
  });
});

describe('mergeAuthorizationParams (per-request parameters over the configured ones)', () => {
  const configured = new URLSearchParams([['scope', 'openid profile'], ['audience', 'https://api.example'], ['acr_values', 'a'], ['acr_values', 'b']]);

  it('returns the configured parameters as they are when there are none per request', () => {
    expect(mergeAuthorizationParams(configured, undefined)).toBe(configured);
  });

  it('replaces a configured parameter by the per-request one, all its values, and leaves the configured set unchanged', () => {
    const merged = mergeAuthorizationParams(configured, { acr_values: 'c', screen_hint: 'signup', audience: undefined });
    expect([...merged]).toEqual([['scope', 'openid profile'], ['audience', 'https://api.example'], ['acr_values', 'c'], ['screen_hint', 'signup']]);
    expect(configured.getAll('acr_values')).toEqual(['a', 'b']);
  });

  it.each([['null', null], ['an array', ['a']], ['a string', 'scope=openid']])('refuses per-request parameters given as %s', (_name, perRequest) => {
    expect(() => mergeAuthorizationParams(configured, perRequest)).toThrow(new TypeError('"authorizationParams" must be an object'));
  });

  it('refuses a protocol parameter per request, naming it', () => {
    expect(() => mergeAuthorizationParams(configured, { state: 'mine' })).toThrow(/^"authorizationParams\.state" is set by express-par itself and cannot be /);
  });
});

describe('isLoopbackHost (development over http)', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '[::1]', 'app.localhost'])('takes %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(['localhost.example.com', 'evil-localhost', 'xlocalhost', '127.0.0.1.evil.com', '1127.0.0.1', '127.0.0.1000', '127.0.0', 'a.b.localhost', '[::2]'])('refuses %s', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});
