/**
 * Security review #15, item 4: with an `https:` issuer, metadata that lists an `http:` endpoint (PAR,
 * token, userinfo, JWKS, end session, revocation, …) fails the self-check with a report that names the
 * endpoint, so the client secret, the code and the tokens never travel in the clear. A loopback issuer
 * over `http:` (development) may use loopback endpoints, and nothing else in the clear.
 */
import { describe, expect, it } from '@jest/globals';
import { resolveConfig } from '../lib/config/resolve.js';
import type { ServerMetadata } from '../lib/core/model.js';
import { ParError } from '../lib/core/errors.js';
import { assertProviderReady, assessProvider, cleartextEndpoints } from '../lib/protocol/provider-report.js';
import { TestBrowser } from './helpers/browser.js';
import { type FaultyServer } from './helpers/faulty-server.js';
import { startHostileApp, useFaultyServer } from './helpers/hostile.js';

let server: FaultyServer;
useFaultyServer((started) => {
  server = started;
});

const config = resolveConfig({ issuerBaseURL: 'https://as.example', baseURL: 'https://app.example', clientID: 'c', clientSecret: 's' });
const secure: ServerMetadata = {
  issuer: 'https://as.example',
  authorization_endpoint: 'https://as.example/authorize',
  token_endpoint: 'https://as.example/token',
  pushed_authorization_request_endpoint: 'https://as.example/par',
  userinfo_endpoint: 'https://as.example/userinfo',
  jwks_uri: 'https://as.example/jwks',
  end_session_endpoint: 'https://as.example/logout',
  revocation_endpoint: 'https://as.example/revoke',
  introspection_endpoint: 'https://as.example/introspect',
  authorization_response_iss_parameter_supported: true,
};

describe('an https issuer', () => {
  const fields = ['authorization_endpoint', 'token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint'];

  it('passes with every endpoint on https', () => {
    expect(cleartextEndpoints(secure)).toEqual([]);
    expect(assessProvider(config, secure).problems).toEqual([]);
  });

  it.each(fields)('fails the self-check when %s is http:, naming it', (field) => {
    const metadata = { ...secure, [field]: String(secure[field]).replace('https:', 'http:') };
    expect(cleartextEndpoints(metadata)).toEqual([field]);
    const report = assessProvider(config, metadata);
    expect(report.problems).toEqual([expect.stringContaining(`its ${field} is not https:`)]);
    let error: unknown;
    try {
      assertProviderReady(report, metadata);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ParError);
    expect(error).toMatchObject({ status: 502, code: 'provider_unsupported' });
    expect((error as Error).message).toContain(field);
  });

  it('refuses an http: loopback endpoint too (the exception is for a loopback issuer only)', () => {
    expect(cleartextEndpoints({ ...secure, token_endpoint: 'http://127.0.0.1:8080/token' })).toEqual(['token_endpoint']);
  });
});

describe('a loopback issuer over http: (development)', () => {
  const local: ServerMetadata = { ...secure, issuer: 'http://localhost:3001', token_endpoint: 'http://127.0.0.1:3001/token', jwks_uri: 'http://localhost:3001/jwks' };

  it('may use loopback endpoints over http:', () => {
    expect(cleartextEndpoints(local)).toEqual([]);
  });

  it('may not send anything to another host over http:', () => {
    expect(cleartextEndpoints({ ...local, token_endpoint: 'http://as.example/token', end_session_endpoint: 'http://as.example/logout' })).toEqual(['token_endpoint', 'end_session_endpoint']);
  });

  it.each(['pushed_authorization_request_endpoint', 'token_endpoint'])('a %s in the clear receives no credentials: /login fails with 502 naming it', async (field) => {
    const app = await startHostileApp(server);
    server.fault.discovery = { merge: { [field]: 'http://as.example.invalid/steal' } };
    const res = await new TestBrowser().get(`${app.url}/login`);
    expect(res.status).toBe(502);
    const body = JSON.parse(res.body) as { code: string; message: string };
    expect(body.code).toBe('provider_unsupported');
    expect(body.message).toContain(`its ${field} is not https:`);
    expect(server.requestsTo('/par')).toHaveLength(0);
  });
});
