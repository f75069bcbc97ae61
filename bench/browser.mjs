/**
 * A minimal benchmark "browser": node:http with keep-alive, one cookie jar per origin, no redirects
 * followed (the login driver follows them itself so it can check each hop).
 */
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Closes every kept-alive connection (before talking to a new process on a port used before). */
export function resetConnections() {
  agent.destroy();
}

export class Browser {
  /** origin -> Map(name -> value) */
  jars = new Map();
  /** url -> the access token a `/token` request last answered */
  tokens = new Map();

  jar(origin) {
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  clear(origin) {
    this.jars.delete(origin);
  }

  /** GET url; resolves { status, location, body } (body only when `readBody`). */
  get(url, { readBody = false } = {}) {
    const target = new URL(url);
    const jar = this.jar(target.origin);
    const headers = { accept: 'text/html,application/json' };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = http.get(target, { agent, headers }, (res) => {
        this.store(jar, res.headers['set-cookie']);
        const chunks = [];
        res.on('data', (c) => readBody && chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const location = res.headers.location ? new URL(res.headers.location, target).href : undefined;
          resolve({ status: res.statusCode, location, body: readBody ? Buffer.concat(chunks).toString('utf8') : '' });
        });
      });
      req.on('error', reject);
    });
  }

  store(jar, setCookies) {
    for (const line of setCookies ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v = ''] = a.trim().split('=');
        const key = k.toLowerCase();
        return (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v) < Date.now());
      });
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
  }
}

/** One request to an authenticated page; throws unless it answers 200. */
export async function page(browser, url) {
  const res = await browser.get(url);
  if (res.status !== 200) throw new Error(`${new URL(url).pathname} answered ${res.status}`);
}

/**
 * One `GET <mount>/token` (the app refreshes the access token for it); throws unless it answers 200 with
 * an access token other than the one before: every call must have been a refresh.
 */
export async function freshToken(browser, url) {
  const res = await browser.get(url, { readBody: true });
  if (res.status !== 200) throw new Error(`${new URL(url).pathname} answered ${res.status} ${res.body}`);
  const { accessToken } = JSON.parse(res.body);
  if (typeof accessToken !== 'string' || accessToken === '') throw new Error(`${new URL(url).pathname}: no access token`);
  if (browser.tokens.get(url) === accessToken) throw new Error(`${new URL(url).pathname}: the same access token again (not refreshed)`);
  browser.tokens.set(url, accessToken);
}

/**
 * One full login: GET app /login -> 302 to the OP's /auth (client_id + request_uri) -> the OP (already
 * signed in: 303 straight to the callback; first time: through the auto-approving interaction) -> GET
 * app /callback?code&state&iss (token exchange, ID token validation, session) -> 302 to returnTo.
 * Starts from a fresh app session (app cookies cleared); keeps the OP session. Throws on any other hop.
 */
export async function login(browser, appBase, { freshSession = true } = {}) {
  await finishLogin(browser, appBase, await startLogin(browser, appBase, { freshSession }));
}

/** `GET /login` only (a pending login: the redirect is not followed); resolves the authorization URL. */
export async function startLogin(browser, appBase, { freshSession = true } = {}) {
  const appOrigin = new URL(appBase).origin;
  if (freshSession) browser.clear(appOrigin);
  const start = await browser.get(`${appBase}/login`);
  if (start.status !== 302 || !start.location) throw new Error(`/login answered ${start.status}`);
  return start.location;
}

async function finishLogin(browser, appBase, authorizationUrl) {
  let next = authorizationUrl;
  for (let hops = 0; !next.startsWith(`${appBase}/callback`); hops++) {
    if (hops > 6) throw new Error('too many hops at the provider');
    const res = await browser.get(next);
    if (res.status < 300 || res.status > 303 || !res.location) throw new Error(`${new URL(next).pathname} at the provider answered ${res.status}`);
    next = res.location;
  }
  const done = await browser.get(next);
  if (done.status !== 302 || !done.location || done.location.includes('/callback')) {
    throw new Error(`/callback answered ${done.status} ${done.location ?? ''}`);
  }
}
