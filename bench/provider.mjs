/**
 * The benchmark's OpenID Provider (panva's oidc-provider 9), meant to run in a child process of
 * bench.mjs so its CPU time never lands in the measured app process.
 *
 * Same idea as __tests__/helpers/provider.ts, reduced to what a login needs: PAR required, PKCE (S256)
 * required, RFC 9207 `iss` (oidc-provider default), DPoP enabled (used only when a client asks for it),
 * one confidential client (client_secret_basic, RS256 ID tokens). Refresh tokens: issued when the
 * authorization request asks for offline_access with prompt=consent (oidc-provider's default); by default
 * not rotated for a confidential client (until 70% of their 1-day TTL has passed), every refresh answers
 * the same refresh token with a new access token and ID token. `rotateRefreshTokens: true` rotates them
 * on every use (a used one presented again revokes the grant).
 *
 * Logins are non-interactive without dev interactions: the interaction URL is answered by a Koa
 * middleware that signs in `bench-user` and grants the requested scope. A benchmark browser goes
 * through it once (warm-up); after that it holds an OP session and a grant, so `/auth` answers straight
 * with a 303 to the redirect_uri carrying `code`, `state` and `iss` (the SSO case, one hop at the OP).
 *
 * Protocol (IPC): the parent forks this file with `{ redirectUris, rotateRefreshTokens }` as JSON in argv[2]; the child
 * answers `{ issuer }` once it listens on 127.0.0.1:<random port>.
 */
import http from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';

export const CLIENT_ID = 'bench-client';
export const CLIENT_SECRET = 'bench-client-secret-that-is-long-enough-for-hs256-0123456789';
export const ACCOUNT_ID = 'bench-user';

// oidc-provider's development notices (unsupported runtime, in-memory adapter, ...) are noise here.
for (const method of ['warn', 'info']) {
  const original = console[method].bind(console);
  console[method] = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider')) return;
    original(...args);
  };
}

/**
 * The store under oidc-provider's own memory adapter, without the cap of the adapter's default store (an
 * LRU of 1,000 entries: a full run's logins evicted the refresh tokens and grants the refresh path still
 * used, and its refreshes failed with invalid_grant). Entries expire as in the LRU (maxAge); expired
 * ones are swept every 10,000 writes.
 */
class UnboundedStore {
  #entries = new Map();
  #writes = 0;

  get(key) {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) this.#entries.delete(key);
    else return entry?.value;
    return undefined;
  }

  set(key, value, { maxAge } = {}) {
    this.#entries.set(key, { value, expiresAt: maxAge === undefined ? Infinity : Date.now() + maxAge });
    if (++this.#writes % 10_000 === 0) {
      const now = Date.now();
      for (const [k, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(k);
    }
  }

  delete(key) {
    this.#entries.delete(key);
  }
}

async function signingKeys() {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  return [{ ...(await exportJWK(rsa.privateKey)), kid: 'bench-rs256', alg: 'RS256', use: 'sig' }];
}

export async function startProvider({ redirectUris, rotateRefreshTokens = false }) {
  // Imported here, after the console filter, and only in the process that runs the provider.
  const { Provider } = await import('oidc-provider');
  // Not in the package's documented API, but the package has no exports map; its MemoryAdapter takes a store.
  const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
  const storage = new UnboundedStore();
  const server = http.createServer();
  // Idle keep-alive sockets stay open for the whole run: a server closing one just as a client reuses
  // it makes that request fail with ECONNRESET (node's client does not retry a POST).
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: await signingKeys() },
    cookies: {
      keys: ['bench-cookie-signing-key-0123456789abcdef'],
      long: { httpOnly: true, sameSite: 'lax', secure: false },
      short: { httpOnly: true, sameSite: 'lax', secure: false },
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      dPoP: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    adapter: (model) => new MemoryAdapter(model, storage),
    ...(rotateRefreshTokens ? { rotateRefreshToken: true } : {}),
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub, name: `User ${sub}`, email: `${sub}@example.com`, email_verified: true }) };
    },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86400, Interaction: 3600, Session: 86400, Grant: 86400 },
  });
  provider.proxy = false;

  // The non-interactive "user": sign in and grant whatever the request asked for.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/interaction/')) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: ACCOUNT_ID, clientId: details.params.client_id });
    if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
    if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: ACCOUNT_ID }, consent: { grantId } }, { mergeWithLastSubmission: false });
  });

  server.on('request', provider.callback());
  return { issuer, close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))) };
}

if (process.send && process.argv[2]) {
  const { issuer } = await startProvider(JSON.parse(process.argv[2]));
  process.on('message', (msg) => {
    if (msg?.cmd === 'cpu') process.send({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ issuer });
}
