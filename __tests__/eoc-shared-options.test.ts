/**
 * Issue #26, first list: ordinary express-openid-connect (EOC) configurations that threw at start-up
 * although the migration table said "same" (response_type code, an absolute postLogoutRedirect, a
 * config-level logoutParams, a PEM Buffer as key), now taken by parAuth() too; and parAuth()'s unknown
 * options that are EOC options naming what to use instead.
 */
import { webcrypto } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { resolveConfig } from '../lib/config/resolve.js';
import { resolveLogout } from '../lib/config/logout.js';
import { mergeAuthorizationParams } from '../lib/config/params.js';
import { endSessionUrl } from '../lib/protocol/end-session.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { generateKeyPairSync } from './helpers/keys.js';

const base = { issuerBaseURL: 'https://tenant.example.com', baseURL: 'https://app.example.com', clientID: 'client', clientSecret: 'secret' };
const config = (extra: Record<string, unknown>) => resolveConfig({ ...base, ...extra } as ParAuthConfig);
const message = (extra: Record<string, unknown>): string => {
  try {
    config(extra);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('no error');
};
const rsaPem = (): string => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('EOC options that parAuth() takes as EOC means them', () => {
  it('takes authorizationParams.response_type "code" (the code flow is what it does), configured and per login', () => {
    const resolved = config({ authorizationParams: { response_type: 'code', scope: 'openid email' } });
    expect([...resolved.authorizationParams.keys()]).toEqual(['scope']);
    expect(mergeAuthorizationParams(resolved.authorizationParams, { response_type: 'code' }).has('response_type')).toBe(false);
    expect(message({ authorizationParams: { response_type: 'id_token' } })).toMatch(/^"authorizationParams.response_type" is set by express-par itself/);
  });

  it('takes an absolute routes.postLogoutRedirect (https, or http on loopback) as post_logout_redirect_uri', () => {
    const resolved = config({ routes: { postLogoutRedirect: 'https://www.example.com/signed-out' } });
    expect(resolved.postLogoutRedirectUri).toBe('https://www.example.com/signed-out');
    expect(resolveLogout(resolved).postLogoutRedirectUri).toBe('https://www.example.com/signed-out');
    // a returnTo that is not a same-origin path falls back to the configured page, not to "/"
    expect(resolveLogout(resolved, { returnTo: 'https://evil.example/' }).postLogoutRedirectUri).toBe('https://www.example.com/signed-out');
    expect(resolveLogout(resolved, { returnTo: '/bye' }).postLogoutRedirectUri).toBe('https://app.example.com/bye');
    expect(message({ routes: { postLogoutRedirect: 'http://www.example.com/' } })).toMatch(/^"routes.postLogoutRedirect" must use https:/);
    expect(message({ routes: { postLogoutRedirect: 'javascript:alert(1)' } })).toMatch(/^"routes.postLogoutRedirect" must be a path/);
  });

  it('takes a config-level logoutParams, merged under the per-call ones', () => {
    const resolved = config({ logoutParams: { ui_locales: 'fr', federated: '', skipped: undefined } });
    const logout = resolveLogout(resolved, { logoutParams: { ui_locales: 'de' } });
    expect([...logout.logoutParams]).toEqual([['ui_locales', 'de'], ['federated', '']]);
    const url = new URL(endSessionUrl('https://tenant.example.com/logout', { idToken: 'h.p.s', clientID: 'client', ...resolveLogout(resolved) }));
    expect(url.searchParams.get('ui_locales')).toBe('fr');
    expect(message({ logoutParams: { client_id: 'x' } })).toBe('"logoutParams.client_id" is set by express-par itself and cannot be overridden');
    expect(message({ logoutParams: 'ui_locales=fr' })).toBe('"logoutParams" must be an object');
  });

  it('reads logoutParams.id_token_hint: null as EOC does: no id_token_hint on the logout URL', () => {
    const logout = resolveLogout(config({}), { logoutParams: { id_token_hint: null } });
    const url = new URL(endSessionUrl('https://tenant.example.com/logout', { idToken: 'h.p.s', clientID: 'client', ...logout }));
    expect(url.searchParams.has('id_token_hint')).toBe(false);
    expect(url.searchParams.get('client_id')).toBe('client');
  });

  it('takes a PEM Buffer and a WebCrypto CryptoKey as clientAssertionSigningKey', async () => {
    const pem = rsaPem();
    const fromBuffer = config({ clientSecret: undefined, clientAssertionSigningKey: Buffer.from(pem) });
    expect(fromBuffer.clientAuthMethod).toBe('private_key_jwt');
    expect(fromBuffer.clientAssertionKey?.asymmetricKeyType).toBe('rsa');
    const der = fromBuffer.clientAssertionKey!.export({ format: 'der', type: 'pkcs8' });
    const cryptoKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['sign']);
    expect(config({ clientSecret: undefined, clientAssertionSigningKey: cryptoKey }).clientAssertionAlg).toBe('RS256');
    expect(message({ clientSecret: undefined, clientAssertionSigningKey: Buffer.from('not a key') }))
      .toMatch(/^"clientAssertionSigningKey" must be a private key/);
  });
});

describe('parAuth() options that are EOC options', () => {
  it('names auth() and the parAuth() equivalent for "secret"', () => {
    expect(message({ secret: 'a long random value' })).toBe(
      '"secret" is an express-openid-connect option: use auth() for EOC options, or express-session\'s secret with parAuth()',
    );
  });

  it.each([
    ['authRequired', /^"authRequired" is an express-openid-connect option: use auth\(\) for EOC options, or requiresAuth\(\)/],
    ['idpLogout', /^"idpLogout" is an express-openid-connect option: .*end_session_endpoint/],
    ['attemptSilentLogin', /^"attemptSilentLogin" is an express-openid-connect option: .*attemptSilentLogin\(\) middleware/],
    ['session', /^"session" is an express-openid-connect option: .*express-session/],
    ['idTokenSigningAlg', /^"idTokenSigningAlg" is an express-openid-connect option: .*idTokenSigningAlgs/],
    ['errorOnRequiredAuth', /^"errorOnRequiredAuth" is an express-openid-connect option/],
  ])('names auth() for %s', (option, expected) => {
    expect(message({ [option]: true })).toMatch(expected);
  });

  it('keeps the plain message for options that are nobody\'s', () => {
    expect(message({ clientId: 'typo' })).toBe('"clientId" is not an express-par option');
  });
});
