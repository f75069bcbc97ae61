/**
 * The benchmark's yardstick: a minimal, hand-written PAR login, what a careful developer would write
 * without a library. express-session, one `node:http` keep-alive agent, one PAR call, one token call and
 * one `jose` `jwtVerify` of the ID token with a key imported once (cached by `kid`).
 *
 * It does the steps a login must not skip, and nothing more:
 *   GET /login     state, nonce, PKCE S256 verifier in the session; PAR (client_secret_basic, 201 and
 *                  request_uri checked); session saved; 302 to the authorization endpoint with
 *                  client_id + request_uri.
 *   GET /callback  state compared and the transaction deleted (single use), RFC 9207 `iss` compared,
 *                  code exchanged with the verifier (200 and token_type checked), ID token verified (alg,
 *                  signature, iss, aud, exp) and its nonce compared; session regenerated (fixation) and
 *                  the login stored with the same fields express-par stores; session saved; 302 to `/`.
 *   GET /token     the access token, refreshed when it lasts less than 60 s more (RFC 6749 §6): refresh
 *                  token grant (client_secret_basic, 200 and token_type checked); a refreshed ID token
 *                  verified like the login's (alg, signature, iss, aud, exp) and its iss, sub and aud
 *                  compared with the stored login's (OIDC Core §12.2); the new tokens stored (the refresh
 *                  token too, should the server rotate it); session saved; answers `{ accessToken }`.
 *   `sessionCheck` the authenticated page's guard: is there a login in the session (the baseline of the
 *                  authenticated-page path, reading the session express-par's login left).
 *
 * With `dpop: true` (the yardstick of the DPoP login): a fresh P-256 key per login, made with node:crypto
 * (generateKeyPairSync, its d, x and y read from a SEC1 DER export: a JWK export of a just-generated
 * key can deadlock Node 20, see lib/protocol/dpop.ts), kept in the session as a private JWK and in a
 * process-local map for the callback; `dpop_jkt` (RFC 7638 thumbprint) and a DPoP proof on the PAR
 * request, a proof on the token request (ES256 signed with node:crypto), token_type DPoP checked. The
 * cheapest way found to do what RFC 9449 asks of a login, as express-par's contract has it (proofs at
 * PAR and token endpoints).
 *
 * Not done (express-par does them): several pending logins per session, transaction expiry, returnTo,
 * error mapping and messages, discovery refresh, JWKS rotation, at_hash/azp/iat checks, DPoP server
 * nonces (RFC 9449 §8; the bench's provider asks for none), a bound on the map of keys, events;
 * for the refresh: single flight per session, reconciling concurrent rotations with the store, ending
 * the login on invalid_grant.
 */
import http from 'node:http';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import express from 'express';
import { importJWK, jwtVerify } from 'jose';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const token = () => randomBytes(32).toString('base64url');

function call(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { ...headers, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function getJson(url) {
  const res = await call('GET', url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return JSON.parse(res.body);
}

const fail = (status, message) => Object.assign(new Error(message), { status });

// RFC 5915 ECPrivateKey for P-256 as OpenSSL writes it: 30 77 02 01 01 04 20 <d> a0 0a … 03 42 00 04 <x> <y>
const dpopKeys = new Map();
function newDpopKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = privateKey.export({ format: 'der', type: 'sec1' });
  if (der.length !== 121) throw new Error('unexpected SEC1 layout');
  const jwk = { kty: 'EC', crv: 'P-256', x: der.subarray(57, 89).toString('base64url'), y: der.subarray(89).toString('base64url'), d: der.subarray(7, 39).toString('base64url') };
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } })).toString('base64url');
  const jkt = createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url');
  dpopKeys.set(jwk.d, { privateKey, header });
  return { jwk, jkt };
}
/** RFC 9449 §4.2: a proof for one request. */
function dpopProof(d, htm, htu) {
  const { privateKey, header } = dpopKeys.get(d);
  const input = `${header}.${Buffer.from(JSON.stringify({ jti: randomBytes(16).toString('base64url'), htm, htu, iat: Math.floor(Date.now() / 1000) })).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** Express router with /login and /callback; call after express-session. */
export async function handwrittenAuth({ issuer, baseURL, clientID, clientSecret, scope, prompt, dpop = false }) {
  const metadata = await getJson(`${issuer}/.well-known/openid-configuration`);
  const keys = new Map();
  for (const jwk of (await getJson(metadata.jwks_uri)).keys) {
    if (jwk.use === undefined || jwk.use === 'sig') keys.set(jwk.kid, await importJWK(jwk, jwk.alg ?? 'RS256'));
  }
  const redirectUri = `${baseURL}/callback`;
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientID)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  const post = (url, params, proof) => call('POST', url, { headers: proof ? { authorization, accept: 'application/json', dpop: proof } : { authorization, accept: 'application/json' }, body: new URLSearchParams(params).toString() });
  const tokenType = dpop ? 'dpop' : 'bearer';

  /** The ID token of a login or a refresh: RS256 with a key imported once, iss, aud and exp. */
  const verifyIdToken = async (idToken) => (await jwtVerify(idToken, (header) => keys.get(header.kid), { issuer: metadata.issuer, audience: clientID, algorithms: ['RS256'] })).payload;

  const router = express.Router();
  router.get('/login', async (req, res, next) => {
    try {
      const tx = { state: token(), nonce: token(), verifier: token() };
      const key = dpop ? newDpopKey() : undefined;
      if (key) tx.dpopJwk = key.jwk;
      const par = await post(metadata.pushed_authorization_request_endpoint, {
        response_type: 'code',
        client_id: clientID,
        redirect_uri: redirectUri,
        scope,
        ...(prompt ? { prompt } : {}),
        state: tx.state,
        nonce: tx.nonce,
        code_challenge: createHash('sha256').update(tx.verifier).digest('base64url'),
        code_challenge_method: 'S256',
        ...(key ? { dpop_jkt: key.jkt } : {}),
      }, key && dpop !== 'jkt' ? dpopProof(key.jwk.d, 'POST', metadata.pushed_authorization_request_endpoint) : undefined);
      if (par.status !== 201) throw fail(502, `PAR answered ${par.status}`);
      const { request_uri: requestUri } = JSON.parse(par.body);
      if (typeof requestUri !== 'string') throw fail(502, 'PAR: no request_uri');
      req.session.tx = tx;
      req.session.save((err) => {
        if (err) return next(err);
        res.redirect(302, `${metadata.authorization_endpoint}?client_id=${encodeURIComponent(clientID)}&request_uri=${encodeURIComponent(requestUri)}`);
      });
    } catch (err) {
      next(err);
    }
  });

  router.get('/callback', async (req, res, next) => {
    try {
      const tx = req.session.tx;
      delete req.session.tx;
      const { state, code, iss } = req.query;
      if (!tx || typeof state !== 'string' || state !== tx.state) throw fail(400, 'state mismatch');
      if (iss !== metadata.issuer) throw fail(400, 'iss mismatch');
      if (typeof code !== 'string') throw fail(400, 'no code');
      const proof = tx.dpopJwk ? dpopProof(tx.dpopJwk.d, 'POST', metadata.token_endpoint) : undefined;
      const res1 = await post(metadata.token_endpoint, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: tx.verifier }, proof);
      if (res1.status !== 200) throw fail(502, `token endpoint answered ${res1.status}`);
      const tokens = JSON.parse(res1.body);
      if (typeof tokens.id_token !== 'string' || String(tokens.token_type).toLowerCase() !== tokenType) throw fail(502, 'bad token response');
      const payload = await verifyIdToken(tokens.id_token);
      if (payload.nonce !== tx.nonce) throw fail(502, 'nonce mismatch');
      const login = { idToken: tokens.id_token, claims: payload, tokenType: tokens.token_type, ...(tx.dpopJwk ? { dpopJwk: tx.dpopJwk } : {}), accessToken: tokens.access_token, refreshToken: tokens.refresh_token, scope: tokens.scope, expiresAt: Math.floor(Date.now() / 1000) + tokens.expires_in };
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.oidc = login;
        req.session.save((err2) => (err2 ? next(err2) : res.redirect(302, '/')));
      });
    } catch (err) {
      next(err);
    }
  });

  router.get('/token', async (req, res, next) => {
    try {
      const login = req.session.oidc;
      if (!login) throw fail(401, 'login_required');
      if (login.expiresAt - Math.floor(Date.now() / 1000) >= 60) return res.json({ accessToken: login.accessToken });
      if (typeof login.refreshToken !== 'string') throw fail(401, 'no refresh token');
      const res1 = await post(metadata.token_endpoint, { grant_type: 'refresh_token', refresh_token: login.refreshToken });
      if (res1.status !== 200) throw fail(502, `token endpoint answered ${res1.status}`);
      const tokens = JSON.parse(res1.body);
      if (typeof tokens.access_token !== 'string' || String(tokens.token_type).toLowerCase() !== 'bearer') throw fail(502, 'bad token response');
      const renewed = { ...login, accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? login.refreshToken, scope: tokens.scope ?? login.scope, expiresAt: Math.floor(Date.now() / 1000) + tokens.expires_in };
      if (typeof tokens.id_token === 'string') {
        const payload = await verifyIdToken(tokens.id_token);
        const { claims } = login;
        if (payload.iss !== claims.iss || payload.sub !== claims.sub || String(payload.aud) !== String(claims.aud)) throw fail(502, 'refreshed ID token of another login');
        renewed.idToken = tokens.id_token;
        renewed.claims = payload;
      }
      req.session.oidc = renewed;
      req.session.save((err) => (err ? next(err) : res.json({ accessToken: renewed.accessToken })));
    } catch (err) {
      next(err);
    }
  });
  return router;
}

/**
 * The ID token claims of the login in an express-session session: `session.oidc.claims` (how this flow
 * stores it), or express-par's layout, `session.par[signInKey].login` (one entry per (issuer, client));
 * express-par leaves out `claims` when they are the ID token's own, so they are read back from its
 * payload, as `req.oidc.user` does. Adjust here if express-par's session layout moves elsewhere.
 */
export function loginClaims(session) {
  if (session?.oidc?.claims) return session.oidc.claims;
  const signIns = session?.par;
  if (!signIns || typeof signIns !== 'object') return undefined;
  for (const { login } of Object.values(signIns)) {
    if (login?.claims) return login.claims;
    if (typeof login?.idToken === 'string') return JSON.parse(Buffer.from(login.idToken.split('.')[1], 'base64url').toString('utf8'));
  }
  return undefined;
}

/** Marks the session's stored access token (this flow's or express-par's) as expired a second ago. */
export function expireAccessToken(session) {
  const past = Math.floor(Date.now() / 1000) - 1;
  if (session?.oidc) session.oidc.expiresAt = past;
  for (const state of Object.values(session?.par ?? {})) if (state?.login) state.login.expiresAt = past;
}

/**
 * The session-only guard of an authenticated page: a login in the session, else 401. The claims it read
 * go to `res.locals.claims`, so the page reads the ID token once, as express-par's requiresAuth() and
 * req.oidc.user do together.
 */
export function sessionCheck(req, res, next) {
  const claims = loginClaims(req.session);
  if (!claims) return res.status(401).json({ error: 'login_required' });
  res.locals.claims = claims;
  next();
}

/**
 * An app's own session check: the claims its login stored in the session (`req.session.oidc.claims`, as
 * the hand-written flow keeps them next to its tokens), read as they are, nothing decoded; else 401.
 */
export function storedClaimsCheck(req, res, next) {
  const claims = req.session?.oidc?.claims;
  if (!claims) return res.status(401).json({ error: 'login_required' });
  res.locals.claims = claims;
  next();
}
