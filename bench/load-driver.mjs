/**
 * The load benchmark's load generator: virtual users (node:http, one keep-alive agent per candidate and
 * concurrency level whose maxSockets is the number of users: users = connections), each with its own
 * cookies, replaying steps and recording every request's latency into a sink.
 *
 * A step is `login` (browser.mjs's login: GET /login -> the provider's hops, consent included -> GET
 * /callback, each hop checked), `page` (GET /page, 200), `token` (GET /token, 200 and a new access token)
 * or `flood` (an anonymous GET /login, 302, redirect not followed). A failed step is classified and
 * counted, and that user starts again with a login. Requests to the proxy are "app requests", recorded by
 * path; requests to the provider are recorded as `provider`; a whole login as `login`.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Browser, freshToken, login, page, startLogin } from './browser.mjs';
import { APP_REQUESTS, classifyError } from './load-lib.mjs';

const HOP = { '/login': 'GET /login', '/callback': 'GET /callback', '/page': 'page', '/token': 'token' };
export const LATENCY_KINDS = ['page', 'token', 'login', 'GET /login', 'GET /callback', 'provider', 'flood'];

/** A sink for one candidate (and level, or phase): latencies by kind, errors by class, app requests, wall time. */
export function newSink() {
  const latency = Object.fromEntries(LATENCY_KINDS.map((k) => [k, []]));
  return { latency, errors: {}, appRequests: 0, steps: { login: 0, page: 0, token: 0, flood: 0 }, wall: 0 };
}

/** A virtual user: browser.mjs's cookie handling, over the candidate's agent, with a timeout and timings. */
export class LoadUser extends Browser {
  /** `appOrigin`: the proxy's origin (app requests); `timeoutMs` per request. */
  constructor(agent, appOrigin, timeoutMs) {
    super();
    this.agent = agent;
    this.appOrigin = appOrigin;
    this.timeoutMs = timeoutMs;
    this.sink = null;
    this.pos = 0;
  }

  get(url, { readBody = false } = {}) {
    const target = new URL(url);
    const jar = this.jar(target.origin);
    const headers = { accept: 'text/html,application/json' };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = http.get(target, { agent: this.agent, headers }, (res) => {
        this.store(jar, res.headers['set-cookie']);
        const chunks = [];
        res.on('data', (c) => readBody && chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          this.#record(target, performance.now() - started);
          const location = res.headers.location ? new URL(res.headers.location, target).href : undefined;
          resolve({ status: res.statusCode, location, body: readBody ? Buffer.concat(chunks).toString('utf8') : '' });
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
    });
  }

  #record(target, ms) {
    if (!this.sink) return;
    if (target.origin !== this.appOrigin) return void this.sink.latency.provider.push(ms);
    this.sink.appRequests++;
    const kind = this.sink.flooding ? 'flood' : HOP[target.pathname];
    if (kind) this.sink.latency[kind].push(ms);
  }
}

const STEPS = {
  login: (user) => login(user, user.appOrigin),
  page: (user) => page(user, `${user.appOrigin}/page`),
  token: (user) => freshToken(user, `${user.appOrigin}/token`),
  flood: (user) => startLogin(user, user.appOrigin),
};

/** `count` users of one candidate sharing one keep-alive agent of `count` sockets per host. */
export function makeUsers(appOrigin, count, timeoutMs) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: count, maxFreeSockets: count });
  return Array.from({ length: count }, () => new LoadUser(agent, appOrigin, timeoutMs));
}

/**
 * Every user runs steps (`nextStep(user)`; `advance(user, ok)` after each) until `quota` app requests
 * have been started; records into `sink` (a warm-up has a sink of its own, its errors reported too).
 * `flooding`: app requests are recorded as `flood`. Resolves when every user is idle.
 */
export async function drive(users, { quota, nextStep, advance = () => {}, sink, flooding = false }) {
  let issued = 0;
  const started = performance.now();
  sink.flooding = flooding;
  await Promise.all(
    users.map(async (user) => {
      user.sink = sink;
      while (issued < quota) {
        const step = nextStep(user);
        issued += APP_REQUESTS[step];
        const t0 = performance.now();
        try {
          await STEPS[step](user);
          sink.steps[step]++;
          if (step === 'login') sink.latency.login.push(performance.now() - t0);
          advance(user, true);
        } catch (err) {
          const kind = classifyError(step, err);
          sink.errors[kind] = (sink.errors[kind] ?? 0) + 1;
          advance(user, false);
        }
      }
      user.sink = null;
    }),
  );
  sink.wall += performance.now() - started;
}

/** Appends every list and count of `from` to `into` (both sinks). */
export function mergeSink(into, from) {
  for (const kind of LATENCY_KINDS) for (const x of from.latency[kind]) into.latency[kind].push(x);
  for (const [k, n] of Object.entries(from.errors)) into.errors[k] = (into.errors[k] ?? 0) + n;
  for (const k of Object.keys(into.steps)) into.steps[k] += from.steps[k];
  into.appRequests += from.appRequests;
  into.wall += from.wall;
  return into;
}
