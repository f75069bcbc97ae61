import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from './helpers/keys.js';
import { resolveConfig } from '../lib/config/resolve.js';
import type { ServerMetadata } from '../lib/core/model.js';
import { assertProviderReady, assessProvider, cleartextEndpoints } from '../lib/protocol/provider-report.js';

const config = resolveConfig({ issuerBaseURL: 'https://as.example', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's' });
const complete: ServerMetadata = {
  issuer: 'https://as.example',
  authorization_endpoint: 'https://as.example/authorize',
  token_endpoint: 'https://as.example/token',
  pushed_authorization_request_endpoint: 'https://as.example/par',
  require_pushed_authorization_requests: true,
  code_challenge_methods_supported: ['S256'],
  token_endpoint_auth_methods_supported: ['client_secret_basic'],
  authorization_response_iss_parameter_supported: true,
};

describe('the start-up self-check', () => {
  it('finds nothing to report on a server with everything configured', () => {
    expect(assessProvider(config, complete)).toEqual({ issuer: 'https://as.example', problems: [], warnings: [], findings: { problems: [], warnings: [] } });
  });

  it('lists every problem in one error, par_not_supported when PAR itself is missing', () => {
    const metadata: ServerMetadata = { ...complete, pushed_authorization_request_endpoint: undefined, code_challenge_methods_supported: ['plain'], token_endpoint_auth_methods_supported: ['private_key_jwt'] };
    const report = assessProvider(config, metadata);
    expect(report.problems).toHaveLength(3);
    let error: unknown;
    try {
      assertProviderReady(report, metadata);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'par_not_supported', status: 502 });
    const message = (error as Error).message;
    for (const lack of ['pushed_authorization_request_endpoint', 'S256', '“client_secret_basic” (clientAuthMethod)']) expect(message).toContain(lack);
  });

  it('calls a server with PAR but without S256 provider_unsupported', () => {
    const metadata = { ...complete, code_challenge_methods_supported: ['plain'] };
    expect(() => assertProviderReady(assessProvider(config, metadata), metadata)).toThrow(expect.objectContaining({ code: 'provider_unsupported' }));
  });

  it('warns, without failing, when the server does not send iss (RFC 9207)', () => {
    const report = assessProvider(config, { ...complete, authorization_response_iss_parameter_supported: undefined });
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([expect.stringContaining('authorization_response_iss_parameter_supported')]);
  });

  it('adds the mTLS set-up: its problems and the certificate warnings (protocol/mtls.ts)', () => {
    const day = 24 * 3600 * 1000;
    const tls = { agent: undefined as never, x5tS256: 'thumb', validFrom: new Date(Date.now() - day), validTo: new Date(Date.now() + 2 * day) };
    const report = assessProvider({ ...config, tls }, { ...complete, mtls_endpoint_aliases: { token_endpoint: 'http://as.example/token' } });
    expect(report.problems).toEqual(['its mtls_endpoint_aliases.token_endpoint is not an https URL (RFC 8705 §5)']);
    expect(report.warnings).toEqual([expect.stringMatching(/^the client certificate \(tls.cert\) expires on .+: renew it/)]);
  });

  it('assumes support for what the server does not advertise at all', () => {
    const { code_challenge_methods_supported: _c, token_endpoint_auth_methods_supported: _t, ...quiet } = complete;
    expect(assessProvider(config, quiet as ServerMetadata).problems).toEqual([]);
  });
});

describe('what the self-check compares, option by option', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const base = { issuerBaseURL: 'https://as.example', baseURL: 'https://app.example', clientID: 'c' };
  const pkjwt = resolveConfig({ ...base, clientAssertionSigningKey: ec });
  const secretJwt = resolveConfig({ ...base, clientSecret: 's'.repeat(32), clientAuthMethod: 'client_secret_jwt' });
  const withDpop = resolveConfig({ ...base, clientSecret: 's', dpop: true });
  const withJar = resolveConfig({ ...base, clientSecret: 's', requestObjectSigningKey: ec });
  const fapi2 = resolveConfig({ ...base, profile: 'fapi2', clientAssertionSigningKey: ec });
  const server = (extra: Record<string, unknown>): ServerMetadata => ({ ...complete, token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_jwt', 'private_key_jwt'], ...extra });

  it.each<[string, ReturnType<typeof resolveConfig>, Record<string, unknown>, string[]]>([
    ['private_key_jwt with an assertion alg the server lacks', pkjwt, { token_endpoint_auth_signing_alg_values_supported: ['RS256'] }, ['its token_endpoint_auth_signing_alg_values_supported lacks "ES256" (clientAssertionSigningAlg)']],
    ['private_key_jwt with an assertion alg the server lists', pkjwt, { token_endpoint_auth_signing_alg_values_supported: ['RS256', 'ES256'] }, []],
    ['client_secret_jwt with HS256 the server lacks', secretJwt, { token_endpoint_auth_signing_alg_values_supported: ['RS256'] }, ['its token_endpoint_auth_signing_alg_values_supported lacks "HS256" (clientAssertionSigningAlg)']],
    ['client_secret_basic, whatever assertion algs the server lists', config, { token_endpoint_auth_signing_alg_values_supported: ['RS256'] }, []],
    ['DPoP with an alg the server lacks', withDpop, { dpop_signing_alg_values_supported: ['PS256'] }, ['its dpop_signing_alg_values_supported lacks "ES256" (dpop)']],
    ['DPoP with an alg the server lists', withDpop, { dpop_signing_alg_values_supported: ['ES256'] }, []],
    ['no DPoP, whatever DPoP algs the server lists', config, { dpop_signing_alg_values_supported: ['PS256'] }, []],
    ['a request object alg the server lacks', withJar, { request_object_signing_alg_values_supported: ['RS256'] }, ['its request_object_signing_alg_values_supported lacks "ES256" (requestObjectSigningKey)']],
    ['no request object, whatever the server lists', config, { request_object_signing_alg_values_supported: ['RS256'] }, []],
    ['a list that is not an array (assumed supported)', config, { code_challenge_methods_supported: 'plain' }, []],
    ['client auth method missing from the list', config, { token_endpoint_auth_methods_supported: ['private_key_jwt'] }, ['its token_endpoint_auth_methods_supported lacks "client_secret_basic" (clientAuthMethod)']],
    ['fapi2 on a server with DPoP and iss', fapi2, { dpop_signing_alg_values_supported: ['ES256'] }, []],
    ['fapi2 on a server without DPoP', fapi2, {}, ['it advertises no dpop_signing_alg_values_supported (FAPI 2.0 needs sender-constrained tokens)']],
    ['fapi2 on a server without iss', fapi2, { dpop_signing_alg_values_supported: ['ES256'], authorization_response_iss_parameter_supported: false }, ['it does not advertise authorization_response_iss_parameter_supported (RFC 9207): mix-up protection relies on distinct redirect URIs']],
  ])('%s', (_name, cfg, extra, problems) => {
    expect(assessProvider(cfg, server(extra)).problems).toEqual(problems);
  });

  it('lists every problem, in order, in one message', () => {
    const metadata: ServerMetadata = { ...complete, pushed_authorization_request_endpoint: undefined, code_challenge_methods_supported: ['plain'] };
    const report = assessProvider(config, metadata);
    expect(report.problems).toEqual(['it advertises no pushed_authorization_request_endpoint (RFC 9126 §5)', 'its code_challenge_methods_supported lacks S256 (RFC 7636 §4.2)']);
    expect(() => assertProviderReady(report, metadata)).toThrow(new Error('The authorization server https://as.example cannot be used as configured: it advertises no pushed_authorization_request_endpoint (RFC 9126 §5); its code_challenge_methods_supported lacks S256 (RFC 7636 §4.2).'));
  });

  it('passes a report without problems, even with warnings', () => {
    const findings = { problems: [], warnings: [{ id: 'par_not_required', message: 'w', fix: 'f' }] };
    expect(() => assertProviderReady({ issuer: 'https://as.example', problems: [], warnings: ['w'], findings }, complete)).not.toThrow();
  });
});

describe('endpoints in the clear (RFC 6749 §3.1, §3.2; RFC 9126 §2)', () => {
  const FIELDS = ['authorization_endpoint', 'token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint'];
  const problem = (field: string) => `its ${field} is not https: (client credentials, codes and tokens would travel in the clear)`;

  it('names every http endpoint of an https issuer, in the order of the metadata fields, before the other problems', () => {
    const metadata = { ...complete, pushed_authorization_request_endpoint: undefined } as ServerMetadata;
    for (const field of FIELDS) (metadata as Record<string, unknown>)[field] = `http://as.example/${field}`;
    expect(cleartextEndpoints(metadata)).toEqual(FIELDS);
    expect(assessProvider(config, metadata).problems).toEqual([...FIELDS.map(problem)]);
    expect(assessProvider(config, { ...complete, token_endpoint: 'http://as.example/token' }).problems).toEqual([problem('token_endpoint')]);
  });

  it('allows http only between a loopback issuer and loopback endpoints (development)', () => {
    const dev = { ...complete, issuer: 'http://127.0.0.1:4000', token_endpoint: 'http://localhost:4000/token', authorization_endpoint: 'http://[::1]:4000/auth', pushed_authorization_request_endpoint: 'http://127.0.0.1:4000/par' };
    expect(cleartextEndpoints(dev)).toEqual([]);
    expect(cleartextEndpoints({ ...dev, jwks_uri: 'http://keys.example/jwks' })).toEqual(['jwks_uri']);
    // a loopback endpoint under an https issuer, or under a loopback issuer over https, is still cleartext
    expect(cleartextEndpoints({ ...complete, token_endpoint: 'http://127.0.0.1:4000/token' })).toEqual(['token_endpoint']);
    expect(cleartextEndpoints({ ...dev, issuer: 'https://127.0.0.1:4000' })).toEqual(['authorization_endpoint', 'token_endpoint', 'pushed_authorization_request_endpoint']);
  });

  it('leaves values that are not URLs to discovery, and ignores fields that are not strings', () => {
    expect(cleartextEndpoints({ ...complete, userinfo_endpoint: 'not a url', jwks_uri: 42 as unknown as string })).toEqual([]);
    expect(cleartextEndpoints({ ...complete, jwks_uri: ['http://as.example/jwks'] as unknown as string })).toEqual([]);
    expect(cleartextEndpoints({ ...complete, issuer: 'not a url', token_endpoint: 'http://127.0.0.1/token' })).toEqual(['token_endpoint']);
  });

  it('asks a DPoP client without profile fapi2 for nothing when the server lists no DPoP algorithms', () => {
    const withDpop = resolveConfig({ issuerBaseURL: 'https://as.example', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's', dpop: true });
    expect(assessProvider(withDpop, complete).problems).toEqual([]);
  });
});

describe('each finding with its fix (checkProvider() and npx express-par check)', () => {
  const auth0: ServerMetadata = {
    ...complete,
    issuer: 'https://tenant.eu.auth0.com/',
    authorization_endpoint: 'https://tenant.eu.auth0.com/authorize',
    token_endpoint: 'https://tenant.eu.auth0.com/oauth/token',
    pushed_authorization_request_endpoint: undefined,
    require_pushed_authorization_requests: false,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
  };
  const tenant = resolveConfig({ issuerBaseURL: 'https://tenant.eu.auth0.com', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's' });

  it('gives the same messages as problems and warnings, in the same order, each with a fix and its field', () => {
    const metadata: ServerMetadata = { ...complete, pushed_authorization_request_endpoint: undefined, code_challenge_methods_supported: ['plain'], authorization_response_iss_parameter_supported: false };
    const report = assessProvider(config, metadata);
    expect(report.findings.problems.map((f) => f.message)).toEqual(report.problems);
    expect(report.findings.warnings.map((f) => f.message)).toEqual(report.warnings);
    expect(report.findings.problems).toEqual([
      { id: 'par_endpoint_missing', message: report.problems[0], field: 'pushed_authorization_request_endpoint', fix: 'turn on Pushed Authorization Requests (RFC 9126) at the server, so that its metadata advertises pushed_authorization_request_endpoint' },
      { id: 'pkce_s256_missing', message: report.problems[1], field: 'code_challenge_methods_supported', fix: 'turn on PKCE with S256 at the server (code_challenge_methods_supported must list S256)' },
    ]);
    expect(report.findings.warnings).toEqual([expect.objectContaining({ id: 'iss_parameter_missing', field: 'authorization_response_iss_parameter_supported' })]);
    expect(report.provider).toBeUndefined();
  });

  it('names the Auth0 Dashboard settings for an Auth0 tenant: the plan, the tenant switch, the application switch', () => {
    const report = assessProvider(tenant, auth0);
    expect(report.provider).toBe('auth0');
    expect(report.findings.problems).toEqual([
      expect.objectContaining({
        id: 'par_endpoint_missing',
        fix: 'PAR needs an Enterprise plan with the Highly Regulated Identity add-on; then turn it on for the tenant: Dashboard → Settings → Advanced → "Allow Pushed Authorization Requests (PAR)"',
      }),
    ]);
    const withPar = assessProvider(tenant, { ...auth0, pushed_authorization_request_endpoint: 'https://tenant.eu.auth0.com/oauth/par' });
    expect(withPar.problems).toEqual([]);
    expect(withPar.findings.warnings).toEqual([
      {
        id: 'par_not_required',
        field: 'require_pushed_authorization_requests',
        message: 'its require_pushed_authorization_requests is not true: a login can also start at authorization_endpoint without PAR, unless this client requires PAR',
        fix: 'require it for the application: Applications → <your app> → Settings → Authorization Requests → "Require Pushed Authorization Requests (PAR)" (Management API: require_pushed_authorization_requests: true)',
      },
    ]);
  });

  it('recognizes Auth0 behind a custom domain by its endpoints, and not a look-alike host', () => {
    const custom = { ...complete, issuer: 'https://login.example.com/', token_endpoint: 'https://login.example.com/oauth/token', mfa_challenge_endpoint: 'https://login.example.com/mfa/challenge' };
    expect(assessProvider(config, custom).provider).toBe('auth0');
    expect(assessProvider(config, { ...custom, mfa_challenge_endpoint: undefined }).provider).toBeUndefined();
    expect(assessProvider(config, { ...complete, issuer: 'https://auth0.com.evil.example/' }).provider).toBeUndefined();
  });

  it('says which methods the server offers when the configured one is missing; for Auth0, where to choose it', () => {
    const metadata = { ...complete, token_endpoint_auth_methods_supported: ['private_key_jwt', 'tls_client_auth'] };
    expect(assessProvider(config, metadata).findings.problems[0]).toMatchObject({
      id: 'auth_method_unsupported', option: 'clientAuthMethod',
      fix: 'set clientAuthMethod (--auth-method) to one the server lists (private_key_jwt, tls_client_auth), or enable "client_secret_basic" there',
    });
    const jwtOnly = assessProvider(resolveConfig({ issuerBaseURL: 'https://tenant.eu.auth0.com', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's'.repeat(32), clientAuthMethod: 'client_secret_jwt' }), { ...auth0, pushed_authorization_request_endpoint: 'https://tenant.eu.auth0.com/oauth/par' });
    expect(jwtOnly.findings.problems[0]!.fix).toBe("choose the application's method in Applications → <your app> → Credentials → Authentication Method, and set clientAuthMethod (--auth-method) to the same; this tenant offers client_secret_basic, client_secret_post, private_key_jwt");
  });

  it('warns that a server without dpop_signing_alg_values_supported may ignore the DPoP proofs (a problem under fapi2)', () => {
    const withDpop = resolveConfig({ issuerBaseURL: 'https://as.example', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's', dpop: true });
    const report = assessProvider(withDpop, complete);
    expect(report.problems).toEqual([]);
    expect(report.findings.warnings).toEqual([expect.objectContaining({ id: 'dpop_not_advertised', option: 'dpop', message: 'it advertises no dpop_signing_alg_values_supported: it may ignore the DPoP proofs and issue Bearer tokens (dpop)' })]);
    expect(assessProvider(withDpop, { ...complete, dpop_signing_alg_values_supported: ['ES256'] }).warnings).toEqual([]);
  });
});
