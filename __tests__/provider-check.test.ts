import { describe, expect, it } from '@jest/globals';
import { resolveConfig } from '../lib/plumbing/config.js';
import type { ServerMetadata } from '../lib/protocol/discovery.js';
import { assertProviderReady, assessProvider } from '../lib/protocol/provider-requirements.js';

const config = resolveConfig({ issuerBaseURL: 'https://as.example', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's' });
const complete: ServerMetadata = {
  issuer: 'https://as.example',
  authorization_endpoint: 'https://as.example/authorize',
  token_endpoint: 'https://as.example/token',
  pushed_authorization_request_endpoint: 'https://as.example/par',
  code_challenge_methods_supported: ['S256'],
  token_endpoint_auth_methods_supported: ['client_secret_basic'],
  authorization_response_iss_parameter_supported: true,
};

describe('the start-up self-check', () => {
  it('finds nothing to report on a server with everything configured', () => {
    expect(assessProvider(config, complete)).toEqual({ issuer: 'https://as.example', problems: [], warnings: [] });
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

  it('assumes support for what the server does not advertise at all', () => {
    const { code_challenge_methods_supported: _c, token_endpoint_auth_methods_supported: _t, ...quiet } = complete;
    expect(assessProvider(config, quiet as ServerMetadata).problems).toEqual([]);
  });
});
