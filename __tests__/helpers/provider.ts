/**
 * An in-process OpenID Provider (panva's oidc-provider v9) for integration tests.
 *
 * PAR is required, PKCE (S256) is required for every client, the built-in dev interactions accept
 * any login name, RFC 9207 `iss` is always added to authorization responses (oidc-provider default).
 *
 * Clients with keys: register a `jwks_uri`, not inline `jwks`. oidc-provider copies static clients with
 * `structuredClone`, which under jest's VM realm yields objects it then rejects as "client JSON Web Key Set
 * is invalid" (see __tests__/client-auth.test.ts for a small key server).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export interface StartProviderOptions {
  /** oidc-provider ClientMetadata; default: one confidential client (TEST_CLIENT_ID). */
  clients?: Array<Record<string, unknown>>;
  /** redirect_uris of the default client. */
  redirectUris?: string[];
  /** post_logout_redirect_uris of the default client. */
  postLogoutRedirectUris?: string[];
  /** Tweak the provider configuration before construction (features, clientAuthMethods, enabledJWA, ...). */
  configure?: (config: Record<string, any>) => void;
  /**
   * Entries oidc-provider's in-memory store keeps (its default LRU holds 1,000, about 150 logins' worth:
   * many concurrent logins evict each other's codes and fail with invalid_grant).
   */
  storeSize?: number;
  /** Koa middleware run before oidc-provider's routes (installed before the request handler is built). */
  middleware?: Array<(ctx: any, next: () => Promise<void>) => Promise<void>>;
}

export interface TestProvider {
  /** e.g. http://127.0.0.1:54321 (no trailing slash). */
  issuer: string;
  /** The oidc-provider instance. */
  provider: any;
  /** Body parameters of every successful (201) PAR request, newest last (incl. client auth params). */
  pushedRequests: Array<Record<string, string | string[]>>;
  /** Body parameters of every request to the token endpoint, newest last. */
  tokenRequests: Array<Record<string, string | string[]>>;
  close(): Promise<void>;
}

export const TEST_CLIENT_ID = 'test-client';
export const TEST_CLIENT_SECRET = 'test-client-secret-that-is-long-enough-for-hs256-0123456789';

/** The redirect_uris of an app mounted at appBaseUrl. */
export function redirectUrisFor(appBaseUrl: string, callbackPath = '/callback'): string[] {
  return [new URL(callbackPath, appBaseUrl.endsWith('/') ? appBaseUrl : `${appBaseUrl}/`).href];
}

// ---------------------------------------------------------------------------------------------
// Console noise: oidc-provider prints development notices through console.warn / console.info
// ("Unsupported runtime" on Node 20, devInteractions, default function called...). Drop those
// known-harmless ones; everything else (and everything when OIDC_PROVIDER_VERBOSE=1) is kept.
const NOISE = [
  /Unsupported runtime/,
  /devInteractions is enabled/,
  /default \S+ function called/,
  /in-memory adapter is used/,
];
let consoleFiltered = false;
function filterConsole(): void {
  if (consoleFiltered || process.env.OIDC_PROVIDER_VERBOSE) return;
  consoleFiltered = true;
  for (const method of ['warn', 'info'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const [first] = args;
      if (typeof first === 'string' && first.includes('oidc-provider') && NOISE.some((re) => re.test(first))) return;
      original(...args);
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Signing keys: generated once per process (per jest module registry) and reused by every provider.
let keysPromise: Promise<JWK[]> | undefined;
export function providerSigningKeys(): Promise<JWK[]> {
  keysPromise ??= (async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    return [
      { ...(await exportJWK(rsa.privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.privateKey)), kid: 'test-es256', alg: 'ES256', use: 'sig' },
    ];
  })();
  return keysPromise;
}

let providerClass: Promise<any> | undefined;
/** oidc-provider's Provider class (loaded once, with the console noise filter on). */
export function loadProviderClass(): Promise<any> {
  filterConsole();
  // A non-literal specifier: oidc-provider ships no type declarations.
  const specifier: string = 'oidc-provider';
  providerClass ??= import(specifier).then((mod: any) => mod.Provider ?? mod.default);
  return providerClass;
}

/** A confidential client (client_secret_basic, RS256 ID tokens, code and refresh grants) with these URIs. */
export function testClient(clientId: string, redirectUris: string[], postLogoutRedirectUris: string[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: clientId,
    client_secret: TEST_CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    id_token_signed_response_alg: 'RS256',
    ...extra,
  };
}

function defaultClient(opts: StartProviderOptions): Record<string, unknown> {
  return testClient(TEST_CLIENT_ID, opts.redirectUris ?? ['http://127.0.0.1/callback'], opts.postLogoutRedirectUris ?? []);
}

function htmlEscape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** oidc-provider's own in-memory adapter over a larger LRU (deep imports: the package has no exports map). */
async function memoryAdapter(maxSize: number): Promise<(model: string) => unknown> {
  const adapterPath: string = 'oidc-provider/lib/adapters/memory_adapter.js';
  const lruPath: string = 'oidc-provider/lib/helpers/lru.js';
  const [{ default: MemoryAdapter }, { default: LRU }] = await Promise.all([import(adapterPath), import(lruPath)]);
  const store = new LRU({ maxSize });
  return (model) => new MemoryAdapter(model, store, 0);
}

/** The provider configuration used by startProvider (before opts.configure). */
export async function defaultConfiguration(opts: StartProviderOptions = {}): Promise<Record<string, any>> {
  return {
    clients: opts.clients ?? [defaultClient(opts)],
    jwks: { keys: await providerSigningKeys() },
    cookies: {
      keys: ['test-cookie-signing-key-0123456789abcdef'],
      // plain http on 127.0.0.1: never mark cookies Secure (oidc-provider only does so when ctx.secure)
      long: { httpOnly: true, sameSite: 'lax', secure: false },
      short: { httpOnly: true, sameSite: 'lax', secure: false },
    },
    pkce: { required: () => true }, // v9 supports only S256 (no `methods` option anymore)
    features: {
      devInteractions: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: any, form: string) {
          ctx.body = `<!DOCTYPE html><html><head><title>Logout Request</title></head><body>
<h1>Do you want to sign-out from ${htmlEscape(String(ctx.host))}?</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></body></html>`;
        },
        async postLogoutSuccessSource(ctx: any) {
          ctx.body = '<!DOCTYPE html><html><head><title>Sign-out Success</title></head><body><h1>Sign-out Success</h1></body></html>';
        },
      },
      revocation: { enabled: true, allowedPolicy: async () => true },
    },
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    extraParams: ['audience', 'organization'],
    async findAccount(_ctx: unknown, sub: string) {
      return {
        accountId: sub,
        async claims() {
          return { sub, name: `User ${sub}`, email: `${sub}@example.com`, email_verified: true };
        },
      };
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
  };
}

/** Starts oidc-provider on 127.0.0.1:<random port> with issuer http://127.0.0.1:<port>. */
export async function startProvider(opts: StartProviderOptions = {}): Promise<TestProvider> {
  const Provider = await loadProviderClass();

  // Listen first: the issuer (and so the provider) needs the port.
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  let provider: any;
  const pushedRequests: TestProvider['pushedRequests'] = [];
  const tokenRequests: TestProvider['tokenRequests'] = [];
  try {
    const config = await defaultConfiguration(opts);
    if (opts.storeSize) config.adapter = await memoryAdapter(opts.storeSize);
    opts.configure?.(config);
    const routes = { pushed_authorization_request: '/request', token: '/token', ...(config.routes ?? {}) };
    provider = new Provider(issuer, config);
    provider.proxy = false;

    provider.use(async (ctx: any, next: () => Promise<void>) => {
      await next();
      if (ctx.method !== 'POST') return;
      const isPar = ctx.path === routes.pushed_authorization_request;
      const isToken = ctx.path === routes.token;
      if (!isPar && !isToken) return;
      const body: Record<string, string | string[]> = { ...(ctx.oidc?.body ?? {}) };
      if (isPar && ctx.status === 201) pushedRequests.push(body);
      if (isToken) tokenRequests.push(body);
    });
    for (const fn of opts.middleware ?? []) provider.use(fn);
    handler = provider.callback();
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }

  return {
    issuer,
    provider,
    pushedRequests,
    tokenRequests,
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

export interface ClientJwksServer {
  /** Base URL; a client's key set is at `${url}/<client_id>`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves clients' public keys as jwks_uri documents (path /<client_id>). Inline `jwks` client metadata
 * cannot be used under jest: oidc-provider structuredClone()s static clients into another realm and
 * then rejects the JWK objects as not plain.
 */
export async function serveClientJwks(sets: Record<string, { keys: JWK[] }>): Promise<ClientJwksServer> {
  const server = http.createServer((req, res) => {
    const set = sets[(req.url ?? '').slice(1)];
    res.writeHead(set ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(set ?? {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
