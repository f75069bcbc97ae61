import { describe, expect, it } from '@jest/globals';
import { authorizationUrl } from '../lib/protocol/authorize.js';
import { checkAuthorizationError, checkIss, parseCallbackParams } from '../lib/protocol/callback.js';
import { processPushedAuthorizationResponse } from '../lib/protocol/par.js';
import { processTokenResponse } from '../lib/protocol/token.js';
import { atHash } from '../lib/protocol/id-token.js';
import type { HttpResponse } from '../lib/net/http.js';

const res = (status: number, body: unknown): HttpResponse => ({ status, headers: {}, body: typeof body === 'string' ? body : JSON.stringify(body) });
const parCtx = { endpoint: 'https://as/par', redirectUri: 'https://app/callback', clientAuthMethod: 'client_secret_basic' };

describe('processing the PAR response (RFC 9126 §2.2, §2.3)', () => {
  it('accepts a 201 with request_uri and a positive expires_in', () => {
    expect(processPushedAuthorizationResponse(res(201, { request_uri: 'urn:x', expires_in: 90 }), parCtx)).toEqual({ request_uri: 'urn:x', expires_in: 90 });
  });

  it.each<[string, number, unknown, string]>([
    ['200 instead of 201', 200, { request_uri: 'urn:x', expires_in: 90 }, 'par_failed'],
    ['an OAuth error', 400, { error: 'invalid_request', error_description: 'bad scope' }, 'par_failed'],
    ['HTML', 201, '<html></html>', 'par_response_invalid'],
    ['no request_uri', 201, { expires_in: 90 }, 'par_response_invalid'],
    ['a numeric request_uri', 201, { request_uri: 5, expires_in: 90 }, 'par_response_invalid'],
    ['no expires_in', 201, { request_uri: 'urn:x' }, 'par_response_invalid'],
    ['a string expires_in', 201, { request_uri: 'urn:x', expires_in: '90' }, 'par_response_invalid'],
    ['a zero expires_in', 201, { request_uri: 'urn:x', expires_in: 0 }, 'par_response_invalid'],
  ])('rejects %s with a 502', (_what, status, body, code) => {
    expect(() => processPushedAuthorizationResponse(res(status, body), parCtx)).toThrow(expect.objectContaining({ code, status: 502 }));
  });

  it('carries the server error, the redirect_uri and the auth method in a PAR failure', () => {
    let error: unknown;
    try {
      processPushedAuthorizationResponse(res(400, { error: 'invalid_redirect_uri', error_description: 'not registered' }), parCtx);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ error: 'invalid_redirect_uri', error_description: 'not registered', upstreamStatus: 400, details: { redirect_uri: 'https://app/callback', client_auth_method: 'client_secret_basic' } });
    expect((error as Error).message).toContain('https://app/callback');
  });
});

describe('processing the token response (RFC 6749 §5.1)', () => {
  const ok = { access_token: 'at', token_type: 'Bearer', id_token: 'x.y.z', expires_in: 3600 };
  const ctx = { endpoint: 'https://as/token', dpop: false, requireIdToken: true };

  it('accepts a Bearer response with an id_token', () => {
    expect(processTokenResponse(res(200, ok), ctx)).toMatchObject({ access_token: 'at', token_type: 'Bearer', expires_in: 3600 });
  });

  it.each<[string, number, unknown, string]>([
    ['an OAuth error', 400, { error: 'invalid_grant' }, 'token_exchange_failed'],
    ['not JSON', 200, 'oops', 'token_response_invalid'],
    ['no access_token', 200, { ...ok, access_token: undefined }, 'token_response_invalid'],
    ['no id_token', 200, { ...ok, id_token: undefined }, 'token_response_invalid'],
    ['token_type mac', 200, { ...ok, token_type: 'mac' }, 'token_response_invalid'],
    ['token_type DPoP without DPoP', 200, { ...ok, token_type: 'DPoP' }, 'token_response_invalid'],
    ['a negative expires_in', 200, { ...ok, expires_in: -5 }, 'token_response_invalid'],
  ])('rejects %s with a 502', (_what, status, body, code) => {
    expect(() => processTokenResponse(res(status, body), ctx)).toThrow(expect.objectContaining({ code, status: 502 }));
  });
});

describe('the callback parameters (RFC 6749 §4.1.2, RFC 9207)', () => {
  it('reads single parameters from the raw query', () => {
    expect(parseCallbackParams('/callback?code=c&state=s&iss=https%3A%2F%2Fas')).toEqual({ code: 'c', state: 's', iss: 'https://as' });
  });

  it('refuses a repeated parameter', () => {
    expect(() => parseCallbackParams('/callback?state=a&state=b')).toThrow(expect.objectContaining({ code: 'callback_params_invalid', status: 400 }));
  });

  it('compares iss exactly and requires it when advertised', () => {
    expect(() => checkIss({ iss: 'https://as/' }, 'https://as', false)).toThrow(expect.objectContaining({ code: 'iss_mismatch' }));
    expect(() => checkIss({}, 'https://as', true)).toThrow(expect.objectContaining({ code: 'iss_missing' }));
    expect(() => checkIss({}, 'https://as', false)).not.toThrow();
    expect(() => checkIss({ iss: 'https://as' }, 'https://as', true)).not.toThrow();
  });

  it.each([
    ['access_denied', 403, 'access_denied'],
    ['login_required', 401, 'login_required'],
    ['server_error', 400, 'authorization_error'],
  ])('maps error=%s to %d %s', (error, status, code) => {
    expect(() => checkAuthorizationError({ error, error_description: 'x' })).toThrow(expect.objectContaining({ status, code, error }));
  });
});

describe('the authorization redirect (RFC 9126 §4)', () => {
  it('keeps the query the authorization endpoint already has', () => {
    const url = new URL(authorizationUrl('https://as/authorize?tenant=t1', 'cid', 'urn:r'));
    expect(Object.fromEntries(url.searchParams)).toEqual({ tenant: 't1', client_id: 'cid', request_uri: 'urn:r' });
  });

  it('is exactly what URL.searchParams would build, for every shape of endpoint and value', () => {
    const reference = (endpoint: string, clientID: string, requestUri: string) => {
      const url = new URL(endpoint);
      url.searchParams.set('client_id', clientID);
      url.searchParams.set('request_uri', requestUri);
      return url.href;
    };
    const endpoints = [
      'https://as.example.com/authorize',
      'HTTPS://AS.Example.COM:443/a/../authorize',
      'https://as.example.com:8443/t/%7Euser/authorize',
      'https://as.example.com/authorize?',
      'https://as.example.com/authorize#',
      'https://as.example.com/authorize?client_id=old&x=1',
      'https://as.example.com/authorize#frag',
      'http://127.0.0.1:3000/auth',
    ];
    const values: Array<[string, string]> = [
      ['cid', 'urn:ietf:params:oauth:request_uri:abc-DEF_123'],
      ['client id+/?&=#é~*!\'()', 'urn:r:with spaces&and=equals'],
    ];
    for (const endpoint of endpoints) {
      for (const [clientID, requestUri] of values) {
        // twice: the second call reads the remembered endpoint
        expect(authorizationUrl(endpoint, clientID, requestUri)).toBe(reference(endpoint, clientID, requestUri));
        expect(authorizationUrl(endpoint, clientID, requestUri)).toBe(reference(endpoint, clientID, requestUri));
      }
    }
  });
});

describe('at_hash (OpenID Connect Core §3.1.3.6)', () => {
  it('matches the example in Core Appendix A.3', () => {
    expect(atHash('jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y', 'RS256')).toBe('77QmUPtjPfzWtF2AnpK9RQ');
  });
});
