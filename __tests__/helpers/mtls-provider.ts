/**
 * oidc-provider over TLS on two loopback hosts, as Auth0 serves mTLS: the issuer host
 * (https://localhost:<port>, no client certificate asked) serves discovery, JWKS and the browser's
 * authorization endpoint; the alias host (https://127.0.0.1:<port>) asks every client for a certificate
 * (`requestCert`) and is advertised in `mtls_endpoint_aliases` (RFC 8705 §5) for PAR, token, userinfo,
 * revocation and introspection. oidc-provider's `features.mTLS` reads the peer certificate from the
 * socket. Every request is recorded with the host it reached and the certificate it presented.
 */
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TestCertificates } from './certs.js';
import { x5tS256 } from './certs.js';
import { defaultConfiguration, loadProviderClass, type StartProviderOptions } from './provider.js';

export interface RecordedRequest {
  host: 'issuer' | 'alias';
  method: string;
  path: string;
  /** RFC 8705 §3.1 thumbprint of the client certificate presented, if any. */
  certificate?: string;
  status: number;
  /** The client's port: requests with the same value came over one (kept-alive) connection. */
  connection: number;
}

export interface MtlsProvider {
  /** https://localhost:<port> */
  issuer: string;
  /** https://127.0.0.1:<port> */
  aliasOrigin: string;
  provider: any;
  requests: RecordedRequest[];
  /** Body parameters of successful PAR requests and of every token request, newest last. */
  pushedRequests: Array<Record<string, unknown>>;
  tokenRequests: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

const ALIASED = ['token_endpoint', 'pushed_authorization_request_endpoint', 'userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint'];

function peerCertificate(ctx: any): string | undefined {
  const socket = ctx.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate();
  return peer?.raw ? `-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64')}\n-----END CERTIFICATE-----` : undefined;
}

async function listen(server: https.Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function startMtlsProvider(certs: TestCertificates, opts: StartProviderOptions = {}): Promise<MtlsProvider> {
  const Provider = await loadProviderClass();
  let handler: (req: any, res: any) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const issuerServer = https.createServer({ ...certs.server }, (req, res) => handler(req, res));
  // rejectUnauthorized: false lets oidc-provider decide (self-signed certificates, invalid_client).
  const aliasServer = https.createServer({ ...certs.server, requestCert: true, rejectUnauthorized: false, ca: [certs.clientCa] }, (req, res) => handler(req, res));
  // Idle connections stay open for a minute, so a test can see the client reuse them.
  for (const server of [issuerServer, aliasServer]) server.keepAliveTimeout = 60_000;
  const issuer = `https://localhost:${await listen(issuerServer, 'localhost')}`;
  const aliasOrigin = `https://127.0.0.1:${await listen(aliasServer, '127.0.0.1')}`;

  const config = await defaultConfiguration(opts);
  config.features.mTLS = {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: peerCertificate,
    // tls_client_auth: the chain was verified against clientCa by the alias host's TLS stack.
    certificateAuthorized: (ctx: any) => (ctx.socket as TLSSocket).authorized === true,
    certificateSubjectMatches(ctx: any, property: string, expected: string) {
      const pem = peerCertificate(ctx);
      return property === 'tls_client_auth_subject_dn' && pem !== undefined && new X509Certificate(pem).subject === expected;
    },
  };
  config.features.userinfo = { enabled: true };
  config.clientAuthMethods = ['client_secret_basic', 'private_key_jwt', 'none', 'tls_client_auth', 'self_signed_tls_client_auth'];
  opts.configure?.(config);

  const provider = new Provider(issuer, config);
  provider.proxy = false;
  const requests: RecordedRequest[] = [];
  const pushedRequests: MtlsProvider['pushedRequests'] = [];
  const tokenRequests: MtlsProvider['tokenRequests'] = [];
  provider.use(async (ctx: any, next: () => Promise<void>) => {
    await next();
    const host = (ctx.socket.localPort as number) === Number(new URL(aliasOrigin).port) ? 'alias' : 'issuer';
    const pem = peerCertificate(ctx);
    requests.push({ host, method: ctx.method, path: ctx.path, status: ctx.status, connection: ctx.socket.remotePort, ...(pem ? { certificate: x5tS256(pem) } : {}) });
    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      const aliases: Record<string, string> = {};
      for (const name of ALIASED) {
        if (typeof ctx.body[name] === 'string') aliases[name] = ctx.body[name].replace(issuer, aliasOrigin);
      }
      ctx.body.mtls_endpoint_aliases = aliases;
    }
    if (ctx.method === 'POST' && ctx.path === '/request' && ctx.status === 201) pushedRequests.push({ ...(ctx.oidc?.body ?? {}) });
    if (ctx.method === 'POST' && ctx.path === '/token') tokenRequests.push({ ...(ctx.oidc?.body ?? {}) });
  });
  handler = provider.callback();

  const close = (server: https.Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { issuer, aliasOrigin, provider, requests, pushedRequests, tokenRequests, close: async () => void (await Promise.all([close(issuerServer), close(aliasServer)])) };
}

/** A fetch for TestBrowser that trusts `ca` for https: URLs (global fetch cannot be given a CA). */
export function fetchTrusting(ca: string): typeof fetch {
  const agent = new https.Agent({ ca });
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'https:') return fetch(input, init);
    return new Promise<Response>((resolve, reject) => {
      const outgoing = https.request(url, { method: init?.method ?? 'GET', headers: init?.headers as Record<string, string>, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const status = res.statusCode ?? 500;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers }));
        });
      });
      outgoing.on('error', reject);
      outgoing.end(typeof init?.body === 'string' ? init.body : undefined);
    });
  }) as typeof fetch;
}
