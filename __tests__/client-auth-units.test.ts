/**
 * clientAuthentication() on its own: the exact header and parameters of each method (the integration
 * tests in client-auth.test.ts prove that oidc-provider accepts them; these pin what is sent).
 */
import { describe, expect, it } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { CLIENT_ASSERTION_TYPE, clientAuthentication } from '../lib/protocol/client-auth.js';
import { resolveConfig } from '../lib/config/resolve.js';
import type { ResolvedConfig } from '../lib/core/model.js';

const base = { issuerBaseURL: 'https://op.example.com', baseURL: 'https://app.example.com' };
const ISSUER = 'https://op.example.com';

describe('client_secret_basic (RFC 6749 §2.3.1)', () => {
  it('form-urlencodes id and secret before joining them: space as +, and ! \' ( ) * ~ as upper-case %XX', async () => {
    const config = resolveConfig({ ...base, clientID: "id with space!'()*~:é", clientSecret: 'secret/with+plus and %25 (32 bytes or more here)' });
    const auth = await clientAuthentication(config, ISSUER);
    expect(auth.params).toEqual({});
    const [scheme, value] = auth.headers.authorization!.split(' ');
    expect(scheme).toBe('Basic');
    expect(Buffer.from(value!, 'base64').toString('utf8')).toBe('id+with+space%21%27%28%29%2A%7E%3A%C3%A9:secret%2Fwith%2Bplus+and+%2525+%2832+bytes+or+more+here%29');
    expect(Object.keys(auth.headers)).toEqual(['authorization']);
  });

  it('is the default method when a secret is given', async () => {
    const auth = await clientAuthentication(resolveConfig({ ...base, clientID: 'plain', clientSecret: 'plain-secret' }), ISSUER);
    expect(auth.headers.authorization).toBe(`Basic ${Buffer.from('plain:plain-secret').toString('base64')}`);
  });

  it('is the same on every call of one configuration, and each configuration its own', async () => {
    const one = resolveConfig({ ...base, clientID: 'one', clientSecret: 'secret-one' });
    const two = resolveConfig({ ...base, clientID: 'one', clientSecret: 'secret-two' });
    for (let call = 0; call < 2; call++) {
      expect((await clientAuthentication(one, ISSUER)).headers.authorization).toBe(`Basic ${Buffer.from('one:secret-one').toString('base64')}`);
      expect((await clientAuthentication(two, ISSUER)).headers.authorization).toBe(`Basic ${Buffer.from('one:secret-two').toString('base64')}`);
    }
  });
});

describe('client_secret_post', () => {
  it('sends client_id and client_secret in the body, no header', async () => {
    const auth = await clientAuthentication(resolveConfig({ ...base, clientID: 'c', clientSecret: 's', clientAuthMethod: 'client_secret_post' }), ISSUER);
    expect(auth).toEqual({ headers: {}, params: { client_id: 'c', client_secret: 's' } });
  });
});

describe('client_secret_jwt (RFC 7523 §3, Core §9)', () => {
  it('signs an HS256 assertion typed JWT for the issuer, iss = sub = client_id, 60 s, a fresh jti', async () => {
    const config = resolveConfig({ ...base, clientID: 'jwt-client', clientSecret: 'a-client-secret-of-at-least-32-bytes!', clientAuthMethod: 'client_secret_jwt' });
    const one = await clientAuthentication(config, ISSUER);
    const two = await clientAuthentication(config, ISSUER);
    expect(one.headers).toEqual({});
    expect(one.params.client_id).toBe('jwt-client');
    expect(one.params.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(CLIENT_ASSERTION_TYPE).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(decodeProtectedHeader(one.params.client_assertion!)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(one.params.client_assertion!);
    expect(claims).toMatchObject({ iss: 'jwt-client', sub: 'jwt-client', aud: ISSUER });
    expect(claims.exp! - claims.iat!).toBe(60);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.jti).not.toBe(decodeJwt(two.params.client_assertion!).jti);
  });
});

describe('methods where nothing secret is sent', () => {
  // RFC 8705 §2: the client certificate authenticates; client_id still goes in the body.
  for (const method of ['none', 'tls_client_auth', 'self_signed_tls_client_auth'] as const) {
    it(`${method} sends only client_id`, async () => {
      const config = { clientID: 'public-client', clientAuthMethod: method } as ResolvedConfig;
      expect(await clientAuthentication(config, ISSUER)).toEqual({ headers: {}, params: { client_id: 'public-client' } });
    });
  }
});
