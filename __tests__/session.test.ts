/** lib/state/session.ts: express-session must be there, and save/regenerate errors become session_save_failed. */
import { describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { ParError } from '../lib/core/errors.js';
import { limitPendingOnlySession, regenerateSession, requireSession, rotateSession, saveSession } from '../lib/state/session.js';
import type { RequestWithSession } from '../lib/core/model.js';

type Callback = (err?: unknown) => void;

function requestWith(session: unknown): Request {
  return { session } as unknown as Request;
}

function fakeSession(outcome: { save?: unknown; regenerate?: unknown } = {}) {
  const calls: string[] = [];
  const session = {
    save(cb: Callback) {
      calls.push('save');
      cb(outcome.save);
    },
    regenerate(cb: Callback) {
      calls.push('regenerate');
      cb(outcome.regenerate);
    },
  };
  return { session, calls, req: requestWith(session) as RequestWithSession };
}

describe('requireSession', () => {
  it('accepts a session with save() and regenerate()', () => {
    expect(() => requireSession(fakeSession().req)).not.toThrow();
  });

  it.each<[string, unknown]>([
    ['no session', undefined],
    ['a plain object', {}],
    ['a session without regenerate()', { save() {} }],
    ['a session without save()', { regenerate() {} }],
    ['save and regenerate that are not functions', { save: true, regenerate: 'yes' }],
  ])('refuses %s with session_unavailable (500), saying what to add', (_name, session) => {
    let error: unknown;
    try {
      requireSession(requestWith(session));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ParError);
    expect(error).toMatchObject({ code: 'session_unavailable', status: 500 });
    expect((error as Error).message).toBe(
      'express-par needs a session: add app.use(session({ secret, resave: false, saveUninitialized: false })) ' +
        'from express-session before parAuth() (or passport.authenticate).',
    );
  });
});

describe('saveSession and regenerateSession', () => {
  it('resolve when the store succeeds, calling the method asked for', async () => {
    const saving = fakeSession();
    await expect(saveSession(saving.req)).resolves.toBeUndefined();
    expect(saving.calls).toEqual(['save']);
    const regenerating = fakeSession();
    await expect(regenerateSession(regenerating.req)).resolves.toBeUndefined();
    expect(regenerating.calls).toEqual(['regenerate']);
  });

  it('reject with session_save_failed (500) carrying the store error as cause', async () => {
    const cause = new Error('redis is down');
    const saving = fakeSession({ save: cause });
    await expect(saveSession(saving.req)).rejects.toMatchObject({ code: 'session_save_failed', status: 500, cause, message: 'The session could not be saved: check that the session store is reachable and writable.' });
    const regenerating = fakeSession({ regenerate: cause });
    await expect(regenerateSession(regenerating.req)).rejects.toMatchObject({ code: 'session_save_failed', cause, message: 'The session could not be regenerated: check that the session store is reachable and writable.' });
  });
});

describe('rotateSession: a new session id that keeps what other sign-ins and tabs hold', () => {
  /** express-session's regenerate(): a new, empty session object on the request (or the store's error). */
  function regeneratingRequest(par: unknown, error?: unknown) {
    const req = { session: undefined as unknown } as { session: unknown };
    const session = (fields: Record<string, unknown>) => ({
      ...fields,
      save(cb: Callback) {
        cb();
      },
      regenerate(cb: Callback) {
        if (!error) req.session = session({});
        cb(error);
      },
    });
    req.session = session({ par, cart: ['book'] });
    return req as unknown as RequestWithSession;
  }
  const login = { idToken: 'eyJ.x.y', claims: { sub: 'alice' } };
  const tx = { n: 'n', v: 'v', u: 'u', t: 1 };

  it('drops this sign-in\'s login and the rest of the old session; keeps its pending logins and silent mark, and other sign-ins', async () => {
    const req = regeneratingRequest({ mine: { login, pending: { s1: tx }, silentAttempted: true }, other: { login } });
    const before = req.session;
    await rotateSession(req, 'mine');
    expect(req.session).not.toBe(before);
    expect(req.session.par).toEqual({ mine: { pending: { s1: tx }, silentAttempted: true }, other: { login } });
    expect(req.session).not.toHaveProperty('cart');
  });

  it('leaves no "par" when nothing is kept', async () => {
    const req = regeneratingRequest({ mine: { login } });
    await rotateSession(req, 'mine');
    expect(req.session).not.toHaveProperty('par');
  });

  it('rejects with session_save_failed when the store cannot regenerate, the old session as it was', async () => {
    const par = { mine: { login } };
    const req = regeneratingRequest(par, new Error('redis is down'));
    await expect(rotateSession(req, 'mine')).rejects.toMatchObject({ code: 'session_save_failed' });
    expect(req.session.par).toBe(par);
  });
});

describe('limitPendingOnlySession: a session holding only pending logins lives no longer than they do', () => {
  const TTL = 15 * 60 * 1000;
  const DAY = 24 * 3600 * 1000;
  const sessionWith = (fields: Record<string, unknown>, maxAge: number | null = DAY) => ({ cookie: { maxAge }, ...fields });
  const limited = (session: Record<string, unknown>) => {
    limitPendingOnlySession({ session } as unknown as RequestWithSession, TTL);
    return (session.cookie as { maxAge: number | null }).maxAge;
  };
  const pending = { 'https://op.example|c': { pending: { s1: { n: 'n', v: 'v', u: 'u', t: 1 } } } };

  it('caps the cookie of a session with pending logins only (and passport\'s returnTo) at 15 minutes', () => {
    expect(limited(sessionWith({ par: pending }))).toBe(TTL);
    expect(limited(sessionWith({ par: pending, returnTo: '/x' }))).toBe(TTL);
    expect(limited(sessionWith({ par: pending }, null))).toBe(TTL); // a browser-session cookie gets a bound too
    expect(limited(sessionWith({}))).toBe(TTL);
  });

  it('leaves a shorter cookie as it is', () => {
    expect(limited(sessionWith({ par: pending }, TTL - 1))).toBe(TTL - 1);
    expect(limited(sessionWith({ par: pending }, TTL))).toBe(TTL);
  });

  it('leaves a session with a login, or with anything of the app, alone', () => {
    expect(limited(sessionWith({ par: { ...pending, 'https://other|c': { login: { idToken: 'x', claims: { sub: 'a' } } } } }))).toBe(DAY);
    expect(limited(sessionWith({ par: pending, cart: ['book'] }))).toBe(DAY);
    expect(limited(sessionWith({ visits: 1 }))).toBe(DAY);
  });

  it('does nothing to a session without a cookie object', () => {
    const session: Record<string, unknown> = { par: pending };
    expect(() => limitPendingOnlySession({ session } as unknown as RequestWithSession, TTL)).not.toThrow();
    expect(session).toEqual({ par: pending });
  });
});
