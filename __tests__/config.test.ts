import { describe, expect, it } from '@jest/globals';
import { resolveConfig } from '../lib/config/resolve.js';
import { parAuth } from '../lib/index.js';
import type { ParAuthConfig } from '../lib/core/types.js';

const valid: ParAuthConfig = { issuerBaseURL: 'https://tenant.auth0.com', baseURL: 'https://app.example.com', clientID: 'abc', clientSecret: 'shh' };

describe('configuration', () => {
  it('resolves the contract defaults', () => {
    const config = resolveConfig(valid);
    expect(config).toMatchObject({
      issuer: 'https://tenant.auth0.com',
      clientAuthMethod: 'client_secret_basic',
      redirectUri: 'https://app.example.com/callback',
      postLogoutRedirectUri: 'https://app.example.com/',
      routes: { login: '/login', callback: '/callback', logout: '/logout', postLogoutRedirect: '/' },
      httpTimeout: 5000,
      clockTolerance: 30,
      dpop: false,
    });
    expect(config.authorizationParams.get('scope')).toBe('openid profile email');
  });

  it('keeps the path of baseURL in redirect_uri', () => {
    expect(resolveConfig({ ...valid, baseURL: 'https://example.com/app/' }).redirectUri).toBe('https://example.com/app/callback');
  });

  it('encodes arrays and objects in authorizationParams', () => {
    const params = resolveConfig({ ...valid, authorizationParams: { resource: ['https://a', 'https://b'], authorization_details: [{ type: 'payment' }], max_age: 300 } }).authorizationParams;
    expect(params.getAll('resource')).toEqual(['https://a', 'https://b']);
    expect(params.get('authorization_details')).toBe('[{"type":"payment"}]');
    expect(params.get('max_age')).toBe('300');
  });

  it.each<[string, Partial<ParAuthConfig> & Record<string, unknown>, RegExp]>([
    ['a missing issuerBaseURL', { issuerBaseURL: undefined as unknown as string }, /"issuerBaseURL" must be a non-empty string/],
    ['a relative issuerBaseURL', { issuerBaseURL: 'tenant.auth0.com' }, /"issuerBaseURL" must be an absolute URL/],
    ['http: off loopback', { issuerBaseURL: 'http://tenant.auth0.com' }, /"issuerBaseURL" must use https:/],
    ['an issuer with a query', { issuerBaseURL: 'https://tenant.auth0.com/?x=1' }, /"issuerBaseURL" must not have a query/],
    ['a missing baseURL', { baseURL: '' }, /"baseURL" must be a non-empty string/],
    ['a missing clientID', { clientID: '' }, /"clientID" must be a non-empty string/],
    ['an unknown option', { clientId: 'typo' }, /"clientId" is not an express-par option/],
    ['an unknown auth method', { clientAuthMethod: 'client_secret_jws' as never }, /"clientAuthMethod" must be one of/],
    ['a secret method without a secret', { clientSecret: undefined, clientAuthMethod: 'client_secret_post' }, /"clientSecret" is required/],
    ['private_key_jwt without a key', { clientAuthMethod: 'private_key_jwt' }, /"clientAssertionSigningKey" is required/],
    ['a key that is not a key', { clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: 'nope' }, /"clientAssertionSigningKey" must be a private key/],
    ['a route without a leading slash', { routes: { login: 'login' } }, /"routes.login" must be a path/],
    ['a protocol-relative route', { routes: { callback: '//evil' } }, /"routes.callback" must be a path/],
    ['a reserved authorization parameter', { authorizationParams: { state: 'x' } }, /"authorizationParams.state" is set by express-par/],
    ['a scope without openid', { authorizationParams: { scope: 'profile' } }, /must include "openid"/],
    ['response_mode form_post', { authorizationParams: { response_mode: 'form_post' } }, /"authorizationParams.response_mode" must be "query"/],
    ['a negative httpTimeout', { httpTimeout: -1 }, /"httpTimeout" must be a number/],
    ['a string clockTolerance', { clockTolerance: '30' as unknown as number }, /"clockTolerance" must be a number/],
    ['an unknown ID token alg', { idTokenSigningAlgs: ['XX1'] }, /"idTokenSigningAlgs" must be a non-empty array/],
    ['HMAC without a secret', { clientSecret: undefined, clientAuthMethod: 'none', idTokenSigningAlgs: ['HS256'] }, /needs "clientSecret"/],
    ['a non-function afterCallback', { afterCallback: 'x' as never }, /"afterCallback" must be a function/],
    ['an unknown profile', { profile: 'fapi1' as never }, /"profile" must be "fapi2"/],
  ])('throws at parAuth() for %s, naming the option', (_what, change, message) => {
    expect(() => parAuth({ ...valid, ...change } as ParAuthConfig)).toThrow(TypeError);
    expect(() => parAuth({ ...valid, ...change } as ParAuthConfig)).toThrow(message);
  });

  it('allows http: issuers on loopback hosts', () => {
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'idp.localhost']) {
      expect(resolveConfig({ ...valid, issuerBaseURL: `http://${host}:8080` }).issuer).toBe(`http://${host}:8080`);
    }
  });

  it('defaults to no client authentication for a public client (no clientSecret given at all)', () => {
    const { clientSecret: _secret, ...publicClient } = valid;
    expect(resolveConfig(publicClient).clientAuthMethod).toBe('none');
    // clientSecret: undefined (an unset environment variable) is a mistake, not a public client: startup-mistakes.test.ts
    expect(resolveConfig({ ...valid, clientSecret: undefined, clientAuthMethod: 'none' }).clientAuthMethod).toBe('none');
  });
});
