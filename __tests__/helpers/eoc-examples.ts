/**
 * express-openid-connect's examples (vendored in __tests__/fixtures/eoc-examples/, MIT, their one change
 * `require('../')` → `require('express-par')`) run on the packed express-par: copied into the scratch
 * project that examples.test.ts installs, each started as run_example.js starts it (configured from the
 * environment), against an oidc-provider with EOC's end-to-end fixture clients (v9 translation).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { root } from './pack.js';
import { serveClientJwks, startProvider, type ClientJwksServer, type TestProvider } from './provider.js';

export const EOC_EXAMPLES = [
  'basic', 'routes', 'custom-routes', 'custom-session-store', 'attempt-silent-login', 'userinfo', 'client-secret-jwt',
  'private-key-jwt', 'jar', 'access-an-api',
] as const;
export type EocExample = (typeof EOC_EXAMPLES)[number];

/** What the scratch project links from the checkout for the examples (their own dependencies). */
export const EOC_EXAMPLE_LINKS = { memorystore: 'memorystore', 'express-oauth2-jwt-bearer': 'express-oauth2-jwt-bearer' };

const FIXTURE = join(root, '__tests__/fixtures/eoc-examples');
const CLIENT_SECRET = 'test-express-openid-connect-client-secret';
const API = 'https://api.example.com/products';

/** EOC's fixture key pair (the key private-key-jwt.js and jar.js sign with). */
function fixtureKeys(): { publicJWK: JWK } {
  return createRequire(import.meta.url)(join(FIXTURE, 'end-to-end/fixture/jwk.js')) as { publicJWK: JWK };
}

/**
 * Our own run_example.js: requires the example (configured from the environment, as EOC's runner does),
 * adds EOC's end-to-end `/context` route, and listens. Also a stand-in for `request-promise-native`
 * (deprecated; access-an-api.js uses its `get(url, { headers, json })`).
 */
const RUNNER = `const app = require(process.env.EXAMPLE_PATH);
if (process.env.WITH_CONTEXT) {
  app.get('/context', (req, res) => {
    const at = req.oidc.accessToken;
    res.json({
      accessToken: at ? { access_token: at.access_token, token_type: at.token_type, expires_in: at.expires_in, isExpired: at.isExpired() } : {},
      refreshToken: req.oidc.refreshToken, idTokenClaims: req.oidc.idTokenClaims, user: req.oidc.user, isAuthenticated: req.oidc.isAuthenticated(),
    });
  });
}
app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
`;
const REQUEST_SHIM = `exports.get = async (url, { headers = {}, json } = {}) => {
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error('request failed: ' + res.status);
  return json ? res.json() : res.text();
};
`;

/** Copies the vendored examples into `project/eoc/` and writes the runner and the request shim. */
export async function prepareEocExamples(project: string): Promise<void> {
  await cp(FIXTURE, join(project, 'eoc'), { recursive: true });
  await writeFile(join(project, 'eoc/run.cjs'), RUNNER);
  const shim = join(project, 'node_modules/request-promise-native');
  await mkdir(shim, { recursive: true });
  await writeFile(join(shim, 'package.json'), JSON.stringify({ name: 'request-promise-native', version: '0.0.0-shim', main: 'index.js' }));
  await writeFile(join(shim, 'index.js'), REQUEST_SHIM);
}

/** EOC's fixture clients (end-to-end/fixture/oidc-provider.js) for these redirect URIs; keys by jwks_uri (jest). */
function clients(redirectUris: string[], postLogoutRedirectUris: string[], jwksUrl: string): Array<Record<string, unknown>> {
  const client = {
    client_id: 'test-express-openid-connect-client-id',
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_post',
    response_types: ['id_token', 'code', 'code id_token'],
    grant_types: ['implicit', 'authorization_code', 'refresh_token'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
  };
  return [
    client,
    { ...client, client_id: 'private-key-jwt-client', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${jwksUrl}/private-key-jwt-client` },
    { ...client, client_id: 'client-secret-jwt-client', token_endpoint_auth_method: 'client_secret_jwt' },
    {
      ...client, client_id: 'jar-client', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${jwksUrl}/jar-client`,
      request_object_signing_alg: 'RS256',
    },
  ];
}

/** EOC's fixture settings on top of the test provider's: its scopes, accounts with only `sub`, JWT access tokens for the API. */
function configure(config: Record<string, any>): void {
  config.scopes = ['openid', 'offline_access', 'read:products'];
  config.findAccount = (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) });
  config.features.requestObjects = { enabled: true };
  config.features.resourceIndicators = {
    enabled: true,
    defaultResource: (ctx: any) => (ctx.oidc.params?.audience ? API : undefined),
    getResourceServerInfo: () => ({ scope: 'read:products', audience: API, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    useGrantedResource: () => true,
  };
}

export interface EocProvider {
  provider: TestProvider;
  jwks: ClientJwksServer;
  close(): Promise<void>;
}

/** oidc-provider registered like EOC's end-to-end fixture, for apps at `origins`. */
export async function startEocProvider(origins: string[]): Promise<EocProvider> {
  const { publicJWK } = fixtureKeys();
  const jwks = await serveClientJwks({ 'private-key-jwt-client': { keys: [publicJWK] }, 'jar-client': { keys: [publicJWK] } });
  const postLogout = origins.flatMap((origin) => [origin, `${origin}/custom-logout`]);
  const provider = await startProvider({ clients: clients(origins.map((o) => `${o}/callback`), postLogout, jwks.url), configure });
  // EOC's fixture patch: implicit response types (registered, never used by express-par) on http localhost.
  const schema = provider.provider.Client.Schema.prototype;
  const { invalidate } = schema;
  schema.invalidate = function (this: unknown, message: string, code: string) {
    if (code === 'implicit-force-https' || code === 'implicit-forbid-localhost') return;
    invalidate.call(this, message, code);
  };
  return { provider, jwks, close: async () => void (await Promise.all([provider.close(), jwks.close()])) };
}

/**
 * custom-routes.js names its URLs itself (`http://localhost:3000/callback`, as EOC's fixture registers
 * them): it is configured with that baseURL and listens elsewhere; tests reach it through `toListener`.
 */
export const CUSTOM_ROUTES_BASE_URL = 'http://localhost:3000';

/** Where an example says it is (BASE_URL): its own port, but custom-routes.js's fixed one. */
export function baseUrlOf(name: EocExample, port: number): string {
  return name === 'custom-routes' ? CUSTOM_ROUTES_BASE_URL : `http://127.0.0.1:${port}`;
}

export interface RunningExample {
  /** Where it listens. */
  url: string;
  /** Its BASE_URL. */
  baseURL: string;
  /** A URL under its BASE_URL as one where it listens (a port mapping in front of it). */
  toListener(url: string): string;
  child: ChildProcess;
  stdout: string;
  stderr: string;
}

/** Starts `name` (or api.js) from `project/eoc/examples` with run_example.js's environment. */
export function startEocExample(
  project: string,
  name: EocExample | 'api',
  env: { port: number; apiPort: number; issuer: string },
): Promise<RunningExample> {
  const url = `http://127.0.0.1:${env.port}`;
  const baseURL = name === 'api' ? url : baseUrlOf(name, env.port);
  const toListener = (target: string) => (target.startsWith(baseURL) ? `${url}${target.slice(baseURL.length)}` : target);
  const variables = {
    PATH: process.env.PATH,
    EXAMPLE_PATH: join(project, 'eoc/examples', `${name}.js`),
    PORT: String(env.port),
    API_PORT: String(env.apiPort),
    ISSUER_BASE_URL: env.issuer,
    BASE_URL: baseURL,
    CLIENT_ID: name === 'jar' ? 'jar-client' : 'test-express-openid-connect-client-id',
    CLIENT_SECRET,
    SECRET: 'LONG_RANDOM_VALUE',
    ...(name === 'api' ? {} : { WITH_CONTEXT: '1' }),
  };
  const child = spawn(process.execPath, [join(project, 'eoc/run.cjs')], { cwd: project, env: variables, stdio: ['ignore', 'pipe', 'pipe'] });
  const running: RunningExample = { url, baseURL, toListener, child, stdout: '', stderr: '' };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`EOC example ${name} ${why}: ${running.stderr || running.stdout}`));
    const timer = setTimeout(() => fail('did not start within 30 s'), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => (running.stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      running.stdout += chunk.toString();
      if (running.stdout.includes(`listening on ${env.port}`)) {
        clearTimeout(timer);
        resolve(running);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(`exited (${signal ?? code}) before listening`);
    });
  });
}
