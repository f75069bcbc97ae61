/**
 * The pure parts of "around the login": merging per-request authorization parameters, logout options and
 * the end_session URL, page-load detection for attemptSilentLogin(), and the silent-login mark in the
 * session (kept across regenerate, separate per sign-in), and the stored login's claims.
 */
import { describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { resolveConfig } from '../lib/config/resolve.js';
import { mergeAuthorizationParams } from '../lib/config/params.js';
import { endSessionUrl } from '../lib/protocol/end-session.js';
import { resolveLogout } from '../lib/config/logout.js';
import { isPageLoad, refusesCrossSiteLogin } from '../lib/protocol/browser.js';
import { carryOver, markSilentAttempted, silentAttempted } from '../lib/state/layout.js';
import { clearLogin, readLogin, readStoredLogin, storeLogin } from '../lib/state/login.js';
import type { RequestWithSession } from '../lib/core/model.js';

const config = resolveConfig({
  issuerBaseURL: 'https://op.example.com',
  baseURL: 'https://app.example.com/base',
  clientID: 'client',
  clientSecret: 'secret',
  authorizationParams: { scope: 'openid profile', audience: 'https://api', resource: ['https://a', 'https://b'] },
  routes: { postLogoutRedirect: '/bye' },
});

describe('mergeAuthorizationParams', () => {
  it('returns the configured parameters when there is nothing per request', () => {
    expect(mergeAuthorizationParams(config.authorizationParams, undefined)).toBe(config.authorizationParams);
  });

  it('replaces a configured parameter (all its values) and adds new ones, leaving the configuration unchanged', () => {
    const merged = mergeAuthorizationParams(config.authorizationParams, { resource: 'https://c', screen_hint: 'signup', max_age: 0, audience: undefined });
    expect([...merged]).toEqual([['scope', 'openid profile'], ['audience', 'https://api'], ['resource', 'https://c'], ['screen_hint', 'signup'], ['max_age', '0']]);
    expect(config.authorizationParams.getAll('resource')).toEqual(['https://a', 'https://b']);
  });

  it('encodes arrays and JSON objects like the options do', () => {
    const merged = mergeAuthorizationParams(config.authorizationParams, { ui_locales: ['fr', 'de'], authorization_details: [{ type: 'payment' }] });
    expect(merged.getAll('ui_locales')).toEqual(['fr', 'de']);
    expect(merged.get('authorization_details')).toBe('[{"type":"payment"}]');
  });

  it.each([
    ['state'], ['nonce'], ['redirect_uri'], ['response_type'], ['client_id'], ['request_uri'], ['request'], ['dpop_jkt'],
    ['client_secret'], ['client_assertion'], ['client_assertion_type'], ['code_challenge'], ['code_challenge_method'], ['code_challenge_anything'],
  ])('refuses the protocol parameter %s with a TypeError naming it', (name) => {
    expect(() => mergeAuthorizationParams(config.authorizationParams, { [name]: 'x' })).toThrow(new TypeError(`"authorizationParams.${name}" is set by express-par itself and cannot be overridden`));
  });

  it.each([
    [{ scope: 'profile' }, /"authorizationParams.scope" must include "openid"/],
    [{ response_mode: 'form_post' }, /"authorizationParams.response_mode" must be "query"/],
    [{ prompt: () => 'none' }, /"authorizationParams.prompt" must be a string/],
    [null, /"authorizationParams" must be an object/],
    ['prompt=none', /"authorizationParams" must be an object/],
    [['prompt'], /"authorizationParams" must be an object/],
  ])('refuses %p', (input, message) => {
    expect(() => mergeAuthorizationParams(config.authorizationParams, input)).toThrow(message);
  });
});

describe('resolveLogout and endSessionUrl', () => {
  it('defaults post_logout_redirect_uri to routes.postLogoutRedirect under baseURL', () => {
    expect(resolveLogout(config)).toEqual({ postLogoutRedirectUri: 'https://app.example.com/base/bye', logoutParams: new URLSearchParams() });
  });

  it.each([
    ['/goodbye?from=app', 'https://app.example.com/base/goodbye?from=app'],
    ['https://evil.example/', 'https://app.example.com/base/bye'],
    ['//evil.example/', 'https://app.example.com/base/bye'],
    ['/\\evil.example', 'https://app.example.com/base/bye'],
    ['goodbye', 'https://app.example.com/base/bye'],
  ])('turns returnTo %p into %p', (returnTo, expected) => {
    expect(resolveLogout(config, { returnTo }).postLogoutRedirectUri).toBe(expected);
  });

  it.each([
    [{ logoutParams: { id_token_hint: 'x' } }, '"logoutParams.id_token_hint" is set by express-par itself'],
    [{ logoutParams: { client_id: 'x' } }, '"logoutParams.client_id" is set by express-par itself'],
    [{ logoutParams: { post_logout_redirect_uri: 'https://evil' } }, '"logoutParams.post_logout_redirect_uri" is set by express-par itself'],
    [{ logoutParams: { ui_locales: ['fr'] } }, '"logoutParams.ui_locales" must be a string, number or boolean'],
    [{ logoutParams: 'ui_locales=fr' }, '"logoutParams" must be an object'],
    [{ returnTo: 42 }, '"returnTo" must be a path string'],
    [{ returnto: '/x' }, '"returnto" is not a logout option'],
    [null, 'logout options must be an object'],
  ])('refuses %p with a TypeError', (options, message) => {
    expect(() => resolveLogout(config, options)).toThrow(TypeError);
    expect(() => resolveLogout(config, options)).toThrow(message);
  });

  it('puts the protocol parameters first, then the extra ones, keeping the endpoint query', () => {
    const logout = resolveLogout(config, { returnTo: '/goodbye', logoutParams: { ui_locales: 'fr', logout_hint: 'alice', skipped: undefined } });
    const url = endSessionUrl('https://op.example.com/logout?tenant=t1', { idToken: 'eyJ.x.y', clientID: 'client', ...logout });
    expect([...new URL(url).searchParams]).toEqual([
      ['tenant', 't1'], ['id_token_hint', 'eyJ.x.y'], ['client_id', 'client'],
      ['post_logout_redirect_uri', 'https://app.example.com/base/goodbye'], ['ui_locales', 'fr'], ['logout_hint', 'alice'],
    ]);
  });
});

describe('isPageLoad: the one browser rule (requiresAuth() and attemptSilentLogin())', () => {
  const req = (method: string, headers: Record<string, string>) => ({ method, headers }) as unknown as Request;
  it.each([
    ['GET', { accept: 'text/html,application/xhtml+xml' }, true],
    ['GET', { accept: 'text/html', 'sec-fetch-dest': 'document', 'sec-fetch-mode': 'navigate' }, true],
    ['GET', { accept: 'TEXT/HTML', 'sec-fetch-dest': 'Document' }, true],
    ['GET', { accept: 'text/html', 'sec-fetch-dest': ' document ' }, true],
    ['HEAD', { accept: 'text/html' }, false],
    ['POST', { accept: 'text/html' }, false],
    ['GET', { accept: '*/*' }, false],
    ['GET', { accept: '' }, false],
    ['GET', {}, false],
    ['GET', { accept: 'application/json' }, false],
    ['GET', { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }, false],
    ['GET', { accept: 'text/html', 'x-requested-with': 'xmlhttprequest' }, false],
    ['GET', { accept: 'text/html', 'sec-fetch-dest': 'empty' }, false],
    ['GET', { accept: 'text/html', 'sec-fetch-dest': 'iframe' }, false],
  ])('%s %p → %p', (method, headers, expected) => {
    expect(isPageLoad(req(method, headers))).toBe(expected);
    expect(isPageLoad(req(method, headers), { forSilentLogin: true })).toBe(expected);
  });

  it.each([
    [{ accept: 'text/html', 'sec-purpose': 'prefetch;prerender' }],
    [{ accept: 'text/html', purpose: 'prefetch' }],
  ])('a prefetch %p is a page load to guard, not one to spend the silent attempt on', (headers) => {
    expect(isPageLoad(req('GET', headers))).toBe(true);
    expect(isPageLoad(req('GET', headers), { forSilentLogin: true })).toBe(false);
  });
});

describe('refusesCrossSiteLogin: profile fapi2 refuses a login another site started (Fetch Metadata)', () => {
  const req = (method: string, site?: string) =>
    ({ method, headers: site === undefined ? {} : { 'sec-fetch-site': site } }) as unknown as Request;
  it.each<[string | undefined, string, string | undefined, boolean]>([
    ['fapi2', 'GET', 'cross-site', true],
    ['fapi2', 'HEAD', 'cross-site', true],
    ['fapi2', 'GET', ' Cross-Site ', true],
    ['fapi2', 'POST', 'cross-site', false],
    ['fapi2', 'GET', 'same-origin', false],
    ['fapi2', 'GET', 'same-site', false],
    ['fapi2', 'GET', 'none', false],
    ['fapi2', 'GET', undefined, false],
    [undefined, 'GET', 'cross-site', false],
  ])('profile %p, %s with Sec-Fetch-Site %p → %p', (profile, method, site, expected) => {
    expect(refusesCrossSiteLogin(profile, req(method, site))).toBe(expected);
  });
});

describe('the silent-login mark in the session', () => {
  const session = () => ({ session: {} }) as unknown as RequestWithSession;
  const login = { idToken: 'eyJ.x.y', claims: { sub: 'alice' } };

  it('is per sign-in', () => {
    const req = session();
    markSilentAttempted(req, 'a');
    expect(silentAttempted(req, 'a')).toBe(true);
    expect(silentAttempted(req, 'b')).toBe(false);
  });

  it('survives the end of the login and the regenerate at login and logout; the login does not', () => {
    const req = session();
    markSilentAttempted(req, 'a');
    storeLogin(req, 'a', login);
    storeLogin(req, 'b', login);
    expect(carryOver(req, 'a')).toEqual({ a: { silentAttempted: true }, b: { login } });
    expect(clearLogin(req, 'a')).toBe(true);
    expect(silentAttempted(req, 'a')).toBe(true);
  });

  it('is not there until marked, and a tampered value does not count', () => {
    const req = session();
    expect(carryOver(req, 'a')).toBeUndefined();
    (req.session as unknown as { par: unknown }).par = { a: { silentAttempted: 'yes' } };
    expect(silentAttempted(req, 'a')).toBe(false);
  });
});

describe('the stored login and its claims', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = { iss: 'https://op.example.com', sub: 'alice', aud: 'client', email: 'a@example.com' };
  const idToken = `${b64({ alg: 'RS256' })}.${b64(payload)}.sig`;
  const session = () => ({ session: {} }) as unknown as RequestWithSession;

  it("keeps the ID token's own claims out of the saved session and reads them back from the token", () => {
    const req = session();
    storeLogin(req, 'a', { idToken, accessToken: 'at', claims: { ...payload } });
    expect(JSON.parse(JSON.stringify(req.session))).toEqual({ par: { a: { login: { idToken, accessToken: 'at' } } } });
    // in the request that stored them, and in a later one that loads the saved session
    expect(readLogin(req, 'a')?.claims).toEqual(payload);
    const later = { session: JSON.parse(JSON.stringify(req.session)) as unknown };
    expect(readLogin(later, 'a')?.claims).toEqual(payload);
    expect(Object.keys(readLogin(later, 'a')!)).toEqual(['idToken', 'accessToken']);
    expect(JSON.stringify(later.session)).toBe(JSON.stringify(req.session));
  });

  it('stores claims that differ from the token (afterCallback reshaped them), and returns them as stored', () => {
    const req = session();
    const shaped = { ...payload, role: 'admin' };
    storeLogin(req, 'a', { idToken, claims: shaped });
    const later = { session: JSON.parse(JSON.stringify(req.session)) as unknown };
    expect(readLogin(later, 'a')?.claims).toEqual(shaped);
    expect(readStoredLogin(later, 'a')?.claims).toEqual(shaped);
  });

  it('claimsFromIdToken: claims the caller vouches are the token payload are not stored, and read as given', () => {
    const req = session();
    const claims = { ...payload };
    storeLogin(req, 'a', { idToken, claims }, { claimsFromIdToken: true });
    expect(JSON.parse(JSON.stringify(req.session))).toEqual({ par: { a: { login: { idToken } } } });
    expect(readLogin(req, 'a')?.claims).toBe(claims);
    // without the option, the same login is compared with the token and stored the same way
    const other = session();
    storeLogin(other, 'a', { idToken, claims: { ...payload } });
    expect(JSON.stringify(other.session)).toBe(JSON.stringify(req.session));
  });

  it('stores a copy: the login given keeps its claims, and a "__proto__" key is not carried into the session', () => {
    const req = session();
    const login = JSON.parse(JSON.stringify({ idToken, accessToken: 'at', claims: payload })) as Record<string, unknown>;
    Object.defineProperty(login, '__proto__', { value: { refreshToken: 'planted' }, enumerable: true, configurable: true, writable: true });
    storeLogin(req, 'a', login as never);
    expect(login.claims).toEqual(payload);
    const stored = readStoredLogin(req, 'a')!;
    expect(stored).not.toBe(login);
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
    expect(Object.keys(stored)).toEqual(['idToken', 'accessToken']);
    expect(stored.refreshToken).toBeUndefined();
  });

  it('readStoredLogin gives the tokens without touching the login; a malformed login reads as none', () => {
    const stored = { idToken, accessToken: 'at', refreshToken: 'rt' };
    const req = { session: { par: { a: { login: stored } } } };
    expect(readStoredLogin(req, 'a')).toBe(stored);
    expect(Object.getOwnPropertyNames(stored)).toEqual(['idToken', 'accessToken', 'refreshToken']);
    expect(readStoredLogin(req, 'b')).toBeUndefined();
    for (const login of [{ accessToken: 'at' }, { idToken: 7 }, { idToken, claims: 'x' }, { idToken, claims: null }, ['x'], 'x']) {
      const bad = { session: { par: { a: { login } } } };
      expect(readStoredLogin(bad, 'a')).toBeUndefined();
      expect(readLogin(bad, 'a')).toBeUndefined();
    }
  });

  it('reads an ID token that is not a JWT as a login with no claims', () => {
    const req = { session: { par: { a: { login: { idToken: 'not-a-jwt' } } } } };
    expect(readLogin(req, 'a')?.claims).toEqual({});
  });
});
