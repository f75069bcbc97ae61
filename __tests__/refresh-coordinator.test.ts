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
