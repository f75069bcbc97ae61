/**
 * Routes that exercise req.oidc's token API from a test: the stored tokens, getAccessToken,
 * fetchUserInfo, fetch, and a request that holds its session while a test does something else.
 */
import type { Express } from 'express';

export interface Gate {
  /** Resolves when a request has entered /hold (its session loaded). */
  entered: Promise<void>;
  /** Lets the held request finish (it then changes the session, so express-session saves it). */
  release(): void;
}

export function mountTokenRoutes(a: Express, opts: { gate?: () => HeldGate | undefined } = {}): void {
  a.get('/tokens', (req, res) => {
    res.json({
      authenticated: req.oidc.isAuthenticated(),
      sub: req.oidc.user?.sub,
      accessToken: req.oidc.accessToken,
      refreshToken: req.oidc.refreshToken,
      tokenType: req.oidc.tokenType,
      visits: (req.session as { visits?: number }).visits,
    });
  });
  a.get('/token', (req, res, next) => {
    const minTtl = typeof req.query.minTtl === 'string' ? Number(req.query.minTtl) : undefined;
    req.oidc.getAccessToken(minTtl === undefined ? undefined : { minTtl }).then((accessToken) => res.json({ accessToken }), next);
  });
  a.post('/refresh', (req, res, next) => {
    req.oidc.refresh().then(() => res.json({ accessToken: req.oidc.accessToken }), next);
  });
  a.get('/userinfo', (req, res, next) => {
    req.oidc.fetchUserInfo().then((claims) => res.json(claims), next);
  });
  a.get('/api', async (req, res, next) => {
    try {
      const init: RequestInit = { method: typeof req.query.method === 'string' ? req.query.method : 'GET' };
      if (typeof req.query.redirect === 'string') init.redirect = req.query.redirect as RequestInit['redirect'];
      const answer = await req.oidc.fetch(String(req.query.url), init);
      res.json({ status: answer.status, location: answer.headers.get('location') ?? undefined, body: await answer.text() });
    } catch (err) {
      next(err);
    }
  });
  a.get('/hold', async (req, res) => {
    const gate = opts.gate?.();
    gate?.enter();
    if (gate) await gate.released;
    const session = req.session as { visits?: number };
    session.visits = (session.visits ?? 0) + 1; // an unrelated change: express-session saves the whole session
    res.json({ visits: session.visits });
  });
}

/** A gate for /hold: `entered` resolves when the request is inside, `release()` lets it finish. */
export type HeldGate = Gate & { enter(): void; released: Promise<void> };

export function createGate(): HeldGate {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, release, enter, released };
}
