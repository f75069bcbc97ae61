/** lib/session.ts: express-session must be there, and save/regenerate errors become session_save_failed. */
import { describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { ParError } from '../lib/plumbing/errors.js';
import { regenerateSession, requireSession, saveSession, type RequestWithSession } from '../lib/plumbing/session.js';

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
    expect((error as Error).message).toContain('express-session before parAuth()');
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
