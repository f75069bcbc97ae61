/**
 * The express-par demo as a function: `startDemo()` listens, starts the embedded provider when no
 * provider is configured, and serves the pages. It takes the library as an argument, so `server.mjs`
 * passes the built package and the end-to-end test passes the TypeScript sources.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import express from 'express';
import session from 'express-session';
import { startEmbeddedProvider } from './embedded-provider.mjs';
import { expressMode, PAYMENT, passportMode } from './modes.mjs';
import { apiPage, errorPage, homePage, notFoundPage, parPage, payPage, protectedPage, staffPage, userinfoPage } from './pages.mjs';
import { oneLine } from './redact.mjs';
import { captureCallback, captureLogin, eventRecorder, eventScope } from './trace.mjs';

const SCOPE = 'openid profile email';

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

/** What express-par pushes, as far as the app can know it (for providers that do not tell). */
function expectedParams(config) {
  return {
    response_type: 'code',
    client_id: config.clientID,
    redirect_uri: `${config.baseURL}/callback`,
    scope: SCOPE,
    ...(config.authorizationParams.audience ? { audience: config.authorizationParams.audience } : {}),
    state: '(random, per sign-in)',
    nonce: '(random, per sign-in)',
    code_challenge: '(BASE64URL(SHA-256(code_verifier)); the verifier stays on the server)',
    code_challenge_method: 'S256',
  };
}

/**
 * What the error page says: a fixed sentence per code. Never the error's message: a crafted link to
 * /callback?error=…&error_description=… would otherwise put its own text on the page ("Your account is
 * locked, call …").
 */
const SENTENCES = {
  access_denied: 'The sign-in was cancelled or refused.',
  insufficient_claims: 'The signed-in user does not have the claims this page requires.',
  login_required: 'Please sign in.',
  cross_site_login: 'Please start the sign-in from this site.',
  authorization_details_invalid: 'The identity provider granted something the app did not ask for; nothing was used.',
};

function sentenceFor(status, code) {
  if (code && Object.hasOwn(SENTENCES, code)) return SENTENCES[code];
  if (status >= 500) return code ? 'The identity provider did not answer as expected. Please try again later.' : 'Something went wrong.';
  return 'The sign-in could not be completed. Please start it again.';
}

/** Sessions end after this long (the demo's MemoryStore forgets nothing on its own). */
const SESSION_LIFETIME_MS = 8 * 60 * 60 * 1000;

function securityHeaders(_req, res, next) {
  res.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  res.set('referrer-policy', 'no-referrer');
  next();
}

function buildApp({ auth, demo, embedded, config, sessionSecret, log, silentLogin, apiUrl }) {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.use(eventScope);
  // An https base URL in front of this http server means a TLS-terminating proxy: trust its
  // X-Forwarded-Proto, so express-session sends the Secure cookie.
  const https = config.baseURL.startsWith('https:');
  if (https) app.set('trust proxy', 1);
  const cookie = { httpOnly: true, sameSite: 'lax', secure: https, maxAge: SESSION_LIFETIME_MS };
  app.use(session({ name: 'demo.sid', secret: sessionSecret, resave: false, saveUninitialized: false, cookie }));
  const capture = {
    login: captureLogin({ embedded, expectedParams: expectedParams(config) }),
    callback: captureCallback({ embedded, isSignedIn: auth.isSignedIn, tokenView: auth.tokenView }),
  };
  auth.mount(app, capture);

  const page = (render) => (req, res) => res.type('html').send(render({ user: auth.user(req), demo, trace: req.session?.demoTrace }));
  // DEMO_SILENT_LOGIN=1: a prompt=none sign-in once per session on the landing page (express mode).
  const silent = silentLogin && auth.silentLogin ? [auth.silentLogin] : [];
  app.get('/', ...silent, capture.login, page(homePage));
  app.get('/signup', capture.login, auth.signup);
  app.get('/protected', auth.guard, page(protectedPage));
  app.get('/staff', auth.staffOnly, page(staffPage));
  app.get('/par', page(parPage));
  // "Pay €123.50": a sign-in that asks for exactly this payment (RFC 9396), then what the provider granted.
  app.get('/pay', (req, res) => {
    res.type('html').send(payPage({ user: auth.user(req), demo, asked: PAYMENT, granted: auth.authorizationDetails(req) }));
  });
  app.get('/pay/start', capture.login, auth.pay);
  app.get('/userinfo', auth.guard, async (req, res, next) => {
    try {
      const userinfo = auth.userinfo ? await auth.userinfo(req) : undefined;
      res.type('html').send(userinfoPage({ user: auth.user(req), demo, userinfo }));
    } catch (err) {
      next(err);
    }
  });
  app.get('/api', auth.guard, async (req, res, next) => {
    try {
      const result = auth.callApi && req.query.call === '1' ? await auth.callApi(req, apiUrl) : undefined;
      res.type('html').send(apiPage({ user: auth.user(req), demo, result, available: !!auth.callApi }));
    } catch (err) {
      next(err);
    }
  });
  app.use((req, res) => res.status(404).type('html').send(notFoundPage({ user: auth.user(req), demo })));
  app.use((err, req, res, _next) => {
    const status = Number.isInteger(err.status) && err.status >= 400 ? err.status : 500;
    log?.(oneLine(`[demo] ${req.method} ${req.path} failed: ${status} ${err.code ?? err.name ?? ''} ${String(err.message)}`));
    res.status(status).type('html').send(errorPage({ status, code: err.code, message: sentenceFor(status, err.code), user: auth.user(req), demo }));
  });
  return app;
}

/**
 * Starts the demo.
 *
 * @param {object} options
 * @param {{ parAuth: Function, requiresAuth: Function }} options.lib  express-par (built or source)
 * @param {{ ParStrategy: Function }} [options.passportLib]  express-par/passport, for mode `passport`
 * @param {'express' | 'passport'} [options.mode]  default `express`
 * @param {number} [options.port]  default 3000; 0 picks a free port
 * @param {string} [options.host]  where to listen; default: Node's default (all interfaces)
 * @param {string} [options.baseURL]  public origin; default `http://localhost:<port>`
 * @param {{ issuerBaseURL: string, clientID: string, clientSecret?: string, audience?: string, clientAuthMethod?: string }} [options.provider]
 *   an external provider; without it the embedded provider is started
 * @param {number} [options.providerPort]  the embedded provider's port; default 0 (a free port)
 * @param {string} [options.sessionSecret]  default: random per start
 * @param {(line: string) => void} [options.log]  event and error lines; default silent
 * @param {boolean} [options.silentLogin]  attemptSilentLogin() on the landing page (express mode); default false
 */
export async function startDemo(options) {
  const { lib, passportLib, mode = 'express', port = 3000, host, provider, providerPort = 0, log } = options;
  if (mode !== 'express' && mode !== 'passport') throw new TypeError(`mode must be "express" or "passport", not ${JSON.stringify(mode)}`);
  let handler;
  const server = http.createServer((req, res) => {
    if (handler) return handler(req, res);
    res.statusCode = 503;
    res.end('starting');
  });
  const actualPort = await listen(server, port, host);
  const baseURL = (options.baseURL ?? `http://localhost:${actualPort}`).replace(/\/+$/, '');

  let embedded;
  try {
    if (!provider) {
      embedded = await startEmbeddedProvider({ port: providerPort, redirectUri: `${baseURL}/callback`, postLogoutRedirectUri: `${baseURL}/` });
    }
    const config = {
      issuerBaseURL: provider?.issuerBaseURL ?? embedded.issuer,
      baseURL,
      clientID: provider?.clientID ?? embedded.clientID,
      clientSecret: provider ? provider.clientSecret : embedded.clientSecret,
      ...(provider?.clientAuthMethod ? { clientAuthMethod: provider.clientAuthMethod } : {}),
      authorizationParams: { scope: SCOPE, ...(provider?.audience ? { audience: provider.audience } : {}) },
      onEvent: eventRecorder(log),
    };
    const auth = mode === 'passport' ? await passportMode({ passportLib, config }) : expressMode({ lib, config });
    const silentLogin = options.silentLogin === true && mode === 'express';
    const demo = { mode, silentLogin, embedded: !!embedded, providerLabel: embedded ? 'embedded provider' : new URL(config.issuerBaseURL).host };
    const sessionSecret = options.sessionSecret ?? randomBytes(32).toString('base64url');
    // The "API" the demo calls as the user: the provider's userinfo endpoint (any API taking the token works).
    const apiUrl = embedded ? `${embedded.issuer}/me` : `${config.issuerBaseURL.replace(/\/+$/, '')}/userinfo`;
    handler = buildApp({ auth, demo, embedded, config, sessionSecret, log, silentLogin, apiUrl });
  } catch (err) {
    server.close();
    await embedded?.close();
    throw err;
  }

  return {
    url: baseURL,
    port: actualPort,
    mode,
    issuer: provider?.issuerBaseURL ?? embedded.issuer,
    embedded,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await embedded?.close();
    },
  };
}
