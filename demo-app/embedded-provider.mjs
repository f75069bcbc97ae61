/**
 * An embedded OpenID Provider for the demo (panva's oidc-provider, a dev dependency): loopback only,
 * PAR required, PKCE (S256) required, and the built-in development login form, which accepts any user
 * name and password. Not for production use.
 *
 * A Koa middleware records what the provider sees, so the demo can show it: the parameters of every
 * pushed authorization request with the `request_uri` it was given, and every token response (tokens
 * redacted; the raw values are kept only so the end-to-end test can check the pages never show them).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { escapeHtml, redactParams, redactTokenResponse } from './redact.mjs';

const KEEP = 200; // records kept in memory, oldest dropped first
/** The API a payment is for (RFC 9396 needs a resource indicator at oidc-provider; this one is the default). */
export const PAYMENTS_API = 'https://payments.demo.example/';
const PAR_PATH = '/request'; // oidc-provider's default routes
const TOKEN_PATH = '/token';

// oidc-provider prints development notices; these are expected here.
const NOTICES = [/Unsupported runtime/, /devInteractions is enabled/, /default \S+ function called/, /in-memory adapter is used/];

function quietProviderNotices() {
  if (process.env.OIDC_PROVIDER_VERBOSE) return;
  for (const method of ['warn', 'info']) {
    const original = console[method];
    if (original.demoQuiet) continue;
    const quiet = (...args) => {
      const [first] = args;
      if (typeof first === 'string' && first.includes('oidc-provider') && NOTICES.some((re) => re.test(first))) return;
      original.apply(console, args);
    };
    quiet.demoQuiet = true;
    console[method] = quiet;
  }
}

function remember(map, key, value) {
  map.set(key, value);
  if (map.size > KEEP) map.delete(map.keys().next().value);
}

function nameOf(sub) {
  return sub.charAt(0).toUpperCase() + sub.slice(1);
}

function logoutPage(ctx, form) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1f2430}
button{font:inherit;padding:.5rem 1rem;margin-right:.5rem;border-radius:6px;border:1px solid #3b5bdb;background:#3b5bdb;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#3b5bdb}</style></head><body>
<h1>Sign out of ${escapeHtml(String(ctx.host))}?</h1><p>The embedded demo provider asks before it ends its own session.</p>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button></body></html>`;
}

/**
 * Rich authorization requests (RFC 9396) for the "Pay" page: the `payment_initiation` type, granted as the
 * user consented on the provider's consent page. oidc-provider wants a resource indicator with them: a
 * request with authorization_details and no `resource` is for the payments API.
 */
function paymentFeatures() {
  return {
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, _client, oneOf) => oneOf ?? (ctx.oidc.params.authorization_details ? PAYMENTS_API : undefined),
      useGrantedResource: async () => false,
      getResourceServerInfo: async () => ({ scope: 'payments', accessTokenFormat: 'opaque' }),
    },
    richAuthorizationRequests: {
      enabled: true,
      types: {
        payment_initiation: {
          validate(_ctx, detail) {
            if (typeof detail.instructedAmount?.amount !== 'string') throw new TypeError('instructedAmount.amount is required');
          },
        },
      },
      authorizationDetailsForGrantSource: async (ctx) => ctx.oidc.grant.rar,
      authorizationDetailsForAccessToken: async (_ctx, _token, source) => source.rar,
      authorizationDetailsForIntrospection: async (_ctx, token) => token.rar,
    },
  };
}

function configuration({ clientID, clientSecret, redirectUri, postLogoutRedirectUri, keys }) {
  return {
    clients: [
      {
        client_id: clientID,
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
        post_logout_redirect_uris: [postLogoutRedirectUri],
        id_token_signed_response_alg: 'RS256',
        authorization_details_types: ['payment_initiation'],
      },
    ],
    jwks: { keys },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      long: { httpOnly: true, sameSite: 'lax', secure: false }, // plain http on 127.0.0.1
      short: { httpOnly: true, sameSite: 'lax', secure: false },
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = logoutPage(ctx, form);
        },
      },
      ...paymentFeatures(),
    },
    claims: { openid: ['sub'], profile: ['name', 'groups'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    // The demo's "Call the API" renews the access token: issue a refresh token with every code.
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    // screen_hint: the demo's "Sign up" link sends it per request (res.oidc.login); declared so it is kept.
    extraParams: ['audience', 'screen_hint'],
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          // The "Staff only" page is gated on this claim: user names starting with "staff" get it.
          return { sub, name: nameOf(sub), email: `${sub}@example.com`, email_verified: true, groups: /^staff/i.test(sub) ? ['staff'] : [] };
        },
      };
    },
  };
}

/** Records pushed requests and token responses; strips the dev pages' web-font import (offline, private). */
function recorder(records) {
  return async (ctx, next) => {
    await next();
    if (ctx.method === 'POST' && ctx.path === PAR_PATH && ctx.status === 201 && ctx.body?.request_uri) {
      remember(records.pushed, ctx.body.request_uri, {
        params: redactParams({ ...(ctx.oidc?.body ?? {}) }),
        response: { request_uri: ctx.body.request_uri, expires_in: ctx.body.expires_in },
        receivedAt: new Date().toISOString(),
      });
    }
    if (ctx.method === 'POST' && ctx.path === TOKEN_PATH && ctx.status === 200 && typeof ctx.oidc?.body?.code === 'string') {
      remember(records.tokens, ctx.oidc.body.code, { response: redactTokenResponse(ctx.body) });
      for (const name of ['access_token', 'id_token', 'refresh_token']) {
        if (typeof ctx.body[name] === 'string') records.issued.push(ctx.body[name]);
      }
      records.issued.splice(0, Math.max(0, records.issued.length - KEEP));
    }
    if (typeof ctx.body === 'string' && ctx.body.includes('@import url(https://fonts.googleapis.com')) {
      ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);/, '');
    }
  };
}

/**
 * Starts the provider on 127.0.0.1 (`port` 0: any free port) for one client whose redirect URI is
 * `redirectUri`. Resolves to `{ issuer, clientID, clientSecret, pushed(requestUri), tokenResponse(code),
 * issuedTokens(), close() }`.
 */
export async function startEmbeddedProvider({ port = 0, redirectUri, postLogoutRedirectUri }) {
  quietProviderNotices();
  const { Provider } = await import('oidc-provider');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const keys = [{ ...(await exportJWK(privateKey)), kid: 'demo-rs256', alg: 'RS256', use: 'sig' }];

  let handler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const clientID = 'express-par-demo';
  const clientSecret = randomBytes(32).toString('base64url');
  const records = { pushed: new Map(), tokens: new Map(), issued: [] };

  const provider = new Provider(issuer, configuration({ clientID, clientSecret, redirectUri, postLogoutRedirectUri, keys }));
  provider.proxy = false;
  provider.use(recorder(records));
  handler = provider.callback();

  return {
    issuer,
    clientID,
    clientSecret,
    /** What the provider received for this request_uri (client credentials redacted). */
    pushed: (requestUri) => records.pushed.get(requestUri),
    /** The token response the provider sent for this authorization code (tokens redacted). */
    tokenResponse: (code) => records.tokens.get(code),
    /** Raw token values issued so far: for tests that check no page shows them. */
    issuedTokens: () => [...records.issued],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
