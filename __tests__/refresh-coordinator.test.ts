/**
 * lib/express/refresh-coordinator.ts, its memory of refresh results: a request of this process that loaded
 * the session before a refresh adopts the refreshed login for a minute (ROTATION_GRACE_MS), following
 * rotations; after that the result is forgotten, so a process under load keeps about a minute's refreshes.
 * The engine is a stand-in for its refresh grant: what is tested is the bookkeeping, not the protocol
 * (the grant itself runs against oidc-provider in api-tokens.test.ts and access-token tests).
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Request } from 'express';
import type { LoginSession } from '../lib/core/types.js';
import type { Engine } from '../lib/engine/engine.js';
import type { Refreshed } from '../lib/engine/tokens.js';
import { RefreshCoordinator, ROTATION_GRACE_MS } from '../lib/express/refresh-coordinator.js';

/** A grant that rotates: refresh token `rt-n` gives `rt-(n+1)` and a new access token. */
function rotatingEngine(): Engine {
  let grants = 0;
  const refresh = async (login: LoginSession): Promise<Refreshed> => {
    grants += 1;
    const next = Number(String(login.refreshToken).slice(3)) + 1;
    return { tokens: { access_token: `at-${grants}`, refresh_token: `rt-${next}`, token_type: 'Bearer', expires_in: 3600 } };
  };
  return { signInKey: 'k', config: {}, emit: () => undefined, refresh } as unknown as Engine;
}

/** A grant that does not rotate: the refresh token stays, each grant gives a new access token. */
function steadyEngine(): Engine & { grants: () => number } {
  let grants = 0;
  const refresh = async (): Promise<Refreshed> => {
    grants += 1;
    return { tokens: { access_token: `at-${grants}`, token_type: 'Bearer', expires_in: 3600 } };
  };
  return { signInKey: 'k', config: {}, emit: () => undefined, refresh, grants: () => grants } as unknown as Engine & {
    grants: () => number;
  };
}

const login = (refreshToken: string): LoginSession =>
  ({ idToken: 'h.e30.s', accessToken: 'at-0', refreshToken, tokenType: 'Bearer' }) as unknown as LoginSession;
const request = (sessionID: string) => ({ sessionID }) as unknown as Request;

afterEach(() => {
  jest.restoreAllMocks();
});

describe('RefreshCoordinator: what a refresh leaves for requests that loaded the session before it', () => {
  it('hands the newest login, through rotations, to a request that loaded the session before them', async () => {
    const coordinator = new RefreshCoordinator(rotatingEngine());
    const loaded = login('rt-1');
    const first = await coordinator.refresh(request('s1'), loaded);
    const second = await coordinator.refresh(request('s1'), first.login);
    expect(second.login.refreshToken).toBe('rt-3');
    expect(coordinator.newest('s1', loaded)).toBe(second.login);
    // Another session with the same refresh token string is not handed this session's login.
    expect(coordinator.newest('s2', loaded)).toBe(loaded);
  });

  it(`forgets a result after ${ROTATION_GRACE_MS / 1000} s: the late request keeps its own login`, async () => {
    const coordinator = new RefreshCoordinator(rotatingEngine());
    const loaded = login('rt-1');
    const start = Date.now();
    const now = jest.spyOn(Date, 'now').mockReturnValue(start);
    const { login: refreshed } = await coordinator.refresh(request('s1'), loaded);
    now.mockReturnValue(start + ROTATION_GRACE_MS);
    expect(coordinator.newest('s1', loaded)).toBe(refreshed);
    now.mockReturnValue(start + ROTATION_GRACE_MS + 1);
    expect(coordinator.newest('s1', loaded)).toBe(loaded);
  });

  it('keeps about a grace period of results: older ones go when a new one is remembered', async () => {
    const coordinator = new RefreshCoordinator(rotatingEngine());
    const start = Date.now();
    const now = jest.spyOn(Date, 'now').mockReturnValue(start);
    for (let i = 0; i < 50; i++) await coordinator.refresh(request(`a${i}`), login('rt-1'));
    expect(coordinator.rememberedCount).toBe(50);
    now.mockReturnValue(start + ROTATION_GRACE_MS + 1);
    await coordinator.refresh(request('late'), login('rt-1'));
    expect(coordinator.rememberedCount).toBe(1);
    expect(coordinator.newest('late', login('rt-1')).refreshToken).toBe('rt-2');
  });
});

describe('RefreshCoordinator: a refresh token that does not rotate', () => {
  it('is not remembered once the session has no refresh queued: a late request keeps its own login', async () => {
    const coordinator = new RefreshCoordinator(steadyEngine());
    const loaded = login('rt-1');
    const { login: refreshed } = await coordinator.refresh(request('s1'), loaded);
    expect(refreshed).toMatchObject({ refreshToken: 'rt-1', accessToken: 'at-1', generation: 1 });
    expect(coordinator.rememberedCount).toBe(0);
    expect(coordinator.newest('s1', loaded)).toBe(loaded);
  });

  it('hands its result to the refresh queued behind it in the same session, then forgets it', async () => {
    const engine = steadyEngine();
    const coordinator = new RefreshCoordinator(engine);
    const loaded = login('rt-1');
    const api = { key: 'api', label: 'https://api.example' } as unknown as Parameters<RefreshCoordinator['refresh']>[2];
    const own = coordinator.refresh(request('s1'), loaded);
    const queued = coordinator.refresh(request('s1'), loaded, api);
    const [first, second] = await Promise.all([own, queued]);
    expect(first.login).toMatchObject({ accessToken: 'at-1', generation: 1 });
    // The API refresh started from the first one's login: the login's new token is in it, one generation on.
    expect(second.login).toMatchObject({ accessToken: 'at-1', generation: 2 });
    expect(engine.grants()).toBe(2);
    expect(coordinator.rememberedCount).toBe(0);
  });

  it('keeps a rotation that replaced a steady result under the same refresh token', async () => {
    // The first grant keeps the refresh token, the second (queued behind it, from its result) rotates it.
    let grants = 0;
    const refresh = async (): Promise<Refreshed> => {
      grants += 1;
      return { tokens: { access_token: `at-${grants}`, token_type: 'Bearer', ...(grants === 2 ? { refresh_token: 'rt-2' } : {}) } };
    };
    const coordinator = new RefreshCoordinator({ signInKey: 'k', config: {}, emit: () => undefined, refresh } as unknown as Engine);
    const api = { key: 'api', label: 'https://api.example' } as unknown as Parameters<RefreshCoordinator['refresh']>[2];
    const [steady, rotated] = await Promise.all([
      coordinator.refresh(request('s1'), login('rt-1')),
      coordinator.refresh(request('s1'), login('rt-1'), api),
    ]);
    expect(steady.login.refreshToken).toBe('rt-1');
    expect(rotated.login).toMatchObject({ refreshToken: 'rt-2', generation: 2 });
    // A request that loaded rt-1 is still handed the rotation: redeeming rt-1 again would be reuse.
    expect(coordinator.rememberedCount).toBe(1);
    expect(coordinator.newest('s1', login('rt-1'))).toBe(rotated.login);
  });
});
