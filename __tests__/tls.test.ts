/**
 * The pure parts of mutual TLS (RFC 8705): the `tls` option's start-up checks, the endpoint aliases
 * (§5), certificate-bound tokens (§3), the self-check, and how TLS failures are told apart.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { resolveConfig } from '../lib/config/resolve.js';
import type { ResolvedTls, ServerMetadata } from '../lib/core/model.js';
import { assessProvider } from '../lib/protocol/provider-report.js';
import { certificateBinding, certificateWarnings, mtlsEndpoint } from '../lib/protocol/mtls.js';
import { resolveTls } from '../lib/config/tls.js';
import { tlsFailure } from '../lib/net/tls-failure.js';
import type { ParAuthConfig } from '../lib/core/types.js';
import { makeTestCertificates, x5tS256, type TestCertificates } from './helpers/certs.js';

let certs: TestCertificates;
beforeAll(() => {
  certs = makeTestCertificates();
});

const metadata: ServerMetadata = {
  issuer: 'https://as.example',
  authorization_endpoint: 'https://as.example/authorize',
  token_endpoint: 'https://as.example/oauth/token',
  pushed_authorization_request_endpoint: 'https://as.example/oauth/par',
  require_pushed_authorization_requests: true,
  userinfo_endpoint: 'https://as.example/userinfo',
  code_challenge_methods_supported: ['S256'],
  token_endpoint_auth_methods_supported: ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
  authorization_response_iss_parameter_supported: true,
  tls_client_certificate_bound_access_tokens: true,
  mtls_endpoint_aliases: {
    token_endpoint: 'https://mtls.as.example/oauth/token',
    pushed_authorization_request_endpoint: 'https://mtls.as.example/oauth/par',
    userinfo_endpoint: 'https://mtls.as.example/userinfo',
  },
};

const base = (extra: Partial<ParAuthConfig>): ParAuthConfig => ({ issuerBaseURL: 'https://as.example', baseURL: 'https://app.example', clientID: 'c', ...extra });

describe('the "tls" option', () => {
  it('accepts PEM strings and Buffers, and knows the RFC 8705 §3.1 thumbprint and validity', () => {
    for (const tls of [certs.client, { cert: Buffer.from(certs.client.cert), key: Buffer.from(certs.client.key), ca: [Buffer.from(certs.serverCa), certs.clientCa] }]) {
      const resolved = resolveTls(tls)!;
      expect(resolved.x5tS256).toBe(x5tS256(certs.client.cert));
      expect(resolved.validTo.getTime()).toBeGreaterThan(Date.now());
      expect(resolved.agent.options).toMatchObject({ keepAlive: true });
    }
  });

  it('keeps connections alive as the requests without a certificate do, the idle timeout included (issue #25)', () => {
    // The timeout closes idle pooled sockets and makes Node honour the server's Keep-Alive hint (net/agent.ts).
    expect(resolveTls(certs.client)!.agent.options).toMatchObject({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 64, timeout: 30_000 });
  });

  it('adds "ca" to the bundled roots instead of replacing them', () => {
    const ca = resolveTls({ ...certs.client, ca: certs.serverCa })!.agent.options.ca as string[];
    expect(ca.at(-1)).toContain(certs.serverCa.trim().split('\n')[1]);
    expect(ca.length).toBeGreaterThan(100);
  });

  it.each<[string, () => unknown, RegExp]>([
    ['not an object', () => 'cert.pem', /^"tls" must be an object \{ cert, key, ca\? \}/],
    ['without a key', () => ({ cert: certs.client.cert }), /^"tls.key" is required/],
    ['without a certificate', () => ({ key: certs.client.key }), /^"tls.cert" is required/],
    ['a file name instead of PEM', () => ({ cert: './client.pem', key: certs.client.key }), /^"tls.cert" must be a certificate in PEM form/],
    ['a key where the certificate goes', () => ({ cert: certs.client.key, key: certs.client.key }), /^"tls.cert" must be a certificate in PEM form/],
    ['a certificate where the key goes', () => ({ cert: certs.client.cert, key: certs.client.cert }), /^"tls.key" must be an unencrypted private key in PEM form/],
    ['the key of another certificate', () => ({ cert: certs.client.cert, key: certs.selfSigned.key }), /^"tls.key" does not match "tls.cert"/],
    ['a CA that is not PEM', () => ({ ...certs.client, ca: 'my-ca' }), /^"tls.ca" must be one or more certificates in PEM form/],
    ['a CA that is a key', () => ({ ...certs.client, ca: certs.client.key }), /^"tls.ca" must hold certificates in PEM form/],
    ['an option Node has but express-par does not take', () => ({ ...certs.client, passphrase: 'x' }), /^"tls.passphrase" is not an express-par option/],
  ])('throws a TypeError naming tls, without quoting it, for %s', (_name, value, message) => {
    let error: unknown;
    try {
      resolveConfig(base({ tls: value() as never }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/PRIVATE KEY|[A-Za-z0-9+/]{40}/); // no key or certificate body
  });

  it('is required by the mTLS client authentication methods', () => {
    for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'] as const) {
      expect(() => resolveConfig(base({ clientAuthMethod: method }))).toThrow(`"tls" (a client certificate and key) is required for clientAuthMethod "${method}"`);
      expect(resolveConfig(base({ clientAuthMethod: method, tls: certs.client })).clientAuthMethod).toBe(method);
    }
  });

  it('goes with any other method too (certificate-bound tokens), keeping that method', () => {
    const config = resolveConfig(base({ clientSecret: 'secret', tls: certs.client }));
    expect(config.clientAuthMethod).toBe('client_secret_basic');
    expect(config.tls?.x5tS256).toBe(x5tS256(certs.client.cert));
  });
});

describe('mtls_endpoint_aliases (RFC 8705 §5)', () => {
  it.each<[string, ServerMetadata, Parameters<typeof mtlsEndpoint>[1], boolean, string | undefined]>([
    ['the token alias, with a certificate', metadata, 'token_endpoint', true, 'https://mtls.as.example/oauth/token'],
    ['the PAR alias, with a certificate', metadata, 'pushed_authorization_request_endpoint', true, 'https://mtls.as.example/oauth/par'],
    ['the userinfo alias, with a certificate', metadata, 'userinfo_endpoint', true, 'https://mtls.as.example/userinfo'],
    ['the plain endpoint without a certificate', metadata, 'token_endpoint', false, 'https://as.example/oauth/token'],
    ['the plain endpoint when the alias list lacks it', { ...metadata, revocation_endpoint: 'https://as.example/oauth/revoke' }, 'revocation_endpoint', true, 'https://as.example/oauth/revoke'],
    ['the plain endpoint when there are no aliases', { ...metadata, mtls_endpoint_aliases: undefined }, 'token_endpoint', true, 'https://as.example/oauth/token'],
    ['the plain endpoint when the alias is not https', { ...metadata, mtls_endpoint_aliases: { token_endpoint: 'http://mtls.as.example/t' } }, 'token_endpoint', true, 'https://as.example/oauth/token'],
    ['the plain endpoint when the aliases are not an object', { ...metadata, mtls_endpoint_aliases: 'https://mtls.as.example' }, 'token_endpoint', true, 'https://as.example/oauth/token'],
    ['nothing when the server has no such endpoint', metadata, 'introspection_endpoint', true, undefined],
  ])('resolves %s', (_name, md, name, useAliases, expected) => {
    expect(mtlsEndpoint(md, name, useAliases)).toBe(expected);
  });
});

describe('certificate-bound access tokens (RFC 8705 §3)', () => {
  let tls: ResolvedTls;
  beforeAll(() => {
    tls = resolveTls(certs.client)!;
  });

  it('are recorded with the thumbprint when the server issues them and the token is Bearer', () => {
    expect(certificateBinding(tls, metadata, 'Bearer')).toEqual({ certificateBound: true, cnf: { 'x5t#S256': x5tS256(certs.client.cert) } });
  });

  it('are not recorded without a certificate, for a server without them, or for a DPoP token', () => {
    expect(certificateBinding(undefined, metadata, 'Bearer')).toBeUndefined();
    expect(certificateBinding(tls, { ...metadata, tls_client_certificate_bound_access_tokens: undefined }, 'Bearer')).toBeUndefined();
    expect(certificateBinding(tls, metadata, 'DPoP')).toBeUndefined();
  });
});

describe('the start-up self-check with mTLS', () => {
  it('reports a server that does not list the mTLS method, like any other method', () => {
    const config = resolveConfig(base({ clientAuthMethod: 'tls_client_auth', tls: certs.client }));
    const report = assessProvider(config, { ...metadata, token_endpoint_auth_methods_supported: ['private_key_jwt'] });
    expect(report.problems).toEqual(['its token_endpoint_auth_methods_supported lacks "tls_client_auth" (clientAuthMethod)']);
  });

  it('reports aliases that are not https URLs', () => {
    const config = resolveConfig(base({ clientAuthMethod: 'tls_client_auth', tls: certs.client }));
    expect(assessProvider(config, { ...metadata, mtls_endpoint_aliases: { token_endpoint: 'http://mtls.as.example/t' } }).problems).toEqual([
      'its mtls_endpoint_aliases.token_endpoint is not an https URL (RFC 8705 §5)',
    ]);
    expect(assessProvider(config, { ...metadata, mtls_endpoint_aliases: ['x'] }).problems).toEqual(['its mtls_endpoint_aliases is not an object (RFC 8705 §5)']);
  });

  it("under profile 'fapi2' needs certificate-bound tokens from the server when mTLS is the sender constraint", () => {
    const fapi = resolveConfig(base({ profile: 'fapi2', clientAuthMethod: 'tls_client_auth', tls: certs.client }));
    expect(assessProvider(fapi, metadata)).toMatchObject({ problems: [], warnings: [] });
    expect(assessProvider(fapi, { ...metadata, tls_client_certificate_bound_access_tokens: undefined }).problems).toEqual([
      expect.stringContaining('tls_client_certificate_bound_access_tokens'),
    ]);
    // With DPoP as the sender constraint, the server's DPoP support is what counts.
    const dpop = resolveConfig(base({ profile: 'fapi2', clientAuthMethod: 'tls_client_auth', tls: certs.client, dpop: true }));
    expect(assessProvider(dpop, { ...metadata, tls_client_certificate_bound_access_tokens: undefined }).problems).toEqual([expect.stringContaining('dpop_signing_alg_values_supported')]);
  });

  it('warns about an expired, not yet valid or soon expiring certificate', () => {
    const day = 24 * 3600 * 1000;
    const validity = { validFrom: new Date('2026-01-01T00:00:00Z'), validTo: new Date('2026-03-01T00:00:00Z') };
    expect(certificateWarnings(validity, Date.parse('2026-02-01T00:00:00Z'))).toEqual([]);
    expect(certificateWarnings(validity, validity.validTo.getTime() - 3 * day)).toEqual(['the client certificate (tls.cert) expires on 2026-03-01T00:00:00.000Z: renew it and register the new one']);
    expect(certificateWarnings(validity, validity.validTo.getTime())).toEqual(['the client certificate (tls.cert) expired on 2026-03-01T00:00:00.000Z: the server will refuse it']);
    expect(certificateWarnings(validity, Date.parse('2025-12-31T00:00:00Z'))).toEqual(['the client certificate (tls.cert) is not valid before 2026-01-01T00:00:00.000Z']);
  });
});

describe('TLS failures', () => {
  const fresh = { socket: { authorized: true }, reusedSocket: false, clientCert: true, step: 'PAR endpoint', where: 'https://mtls.as.example/oauth/par' };
  const error = (code: string) => Object.assign(new Error(`${code}: -----BEGIN CERTIFICATE----- details`), { code });

  it.each<[string, unknown, typeof fresh, RegExp | undefined]>([
    ['a self-signed server', error('DEPTH_ZERO_SELF_SIGNED_CERT'), fresh, /^TLS with the PAR endpoint \(https:\/\/mtls\.as\.example\/oauth\/par\) failed: the server certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)\. If a private CA issued it, add that CA to tls\.ca\.$/],
    ['an unknown issuer', error('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), fresh, /server certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/],
    ['a host name mismatch', error('ERR_TLS_CERT_ALTNAME_INVALID'), fresh, /server certificate is not trusted/],
    ['an expired server certificate', error('CERT_HAS_EXPIRED'), fresh, /server certificate is not trusted \(CERT_HAS_EXPIRED\)/],
    ['a certificate_required alert', error('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), fresh, /server refused the TLS handshake \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\); check that tls\.cert is registered/],
    ['a bad_certificate alert', error('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), fresh, /server refused the TLS handshake/],
    ['an unknown_ca alert without a certificate', error('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), { ...fresh, clientCert: false }, /the server wants a client certificate: configure tls/],
    ['another TLS error', error('ERR_SSL_WRONG_VERSION_NUMBER'), fresh, /^TLS with the PAR endpoint \(.*\) failed \(ERR_SSL_WRONG_VERSION_NUMBER\)\.$/],
    ['a hang-up right after the handshake', error('ECONNRESET'), fresh, /closed the connection right after the handshake without answering/],
    ['a hang-up on a kept-alive connection', error('ECONNRESET'), { ...fresh, reusedSocket: true }, undefined],
    ['a hang-up before the handshake', error('ECONNRESET'), { ...fresh, socket: { authorized: false } }, undefined],
    ['a hang-up without a client certificate', error('ECONNRESET'), { ...fresh, clientCert: false }, undefined],
    ['a refused connection', error('ECONNREFUSED'), fresh, undefined],
    ['an error without a code', new Error('boom'), fresh, undefined],
  ])('tells %s', (_name, cause, conn, message) => {
    const failure = tlsFailure(cause, conn);
    if (message === undefined) {
      expect(failure).toBeUndefined();
      return;
    }
    expect(failure).toMatchObject({ code: 'tls_failed', status: 502, message: expect.stringMatching(message) });
    expect(failure!.message).not.toMatch(/BEGIN|details|[<>"'&`]/);
  });
});
