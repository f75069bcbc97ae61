/**
 * The mark a `requiresAuth()` step-up leaves on the login it brought back: for which page (a digest of the
 * path the browser returns to) and when. Written only at the callback of the step-up's own transaction, in
 * the server-side session, so a link cannot forge it; it only ever turns another round through the server into
 * a 403, never lets a request through. It names one page, so a step-up in another tab for another page does
 * not count for this one.
 */
import { createHash } from 'node:crypto';
import { isRecord } from '../core/assert.js';
import type { LoginSession } from '../core/types.js';
import type { StoredLogin } from './login.js';

/** How long after its callback a step-up counts as "just done" for its page: the browser comes straight back. */
export const STEP_UP_BOUNCE_SECONDS = 10;

/** As stored in the login: `p` the page's digest, `t` seconds since the epoch. */
interface StepUpMark {
  p: string;
  t: number;
}

function pageDigest(page: string): string {
  return createHash('sha256').update(page).digest('base64url').slice(0, 11);
}

/** Marks `login` as brought back by a step-up for `page` (the path the callback sends the browser to). */
export function markStepUp(login: LoginSession, page: string, now = Date.now()): void {
  const mark: StepUpMark = { p: pageDigest(page), t: Math.floor(now / 1000) };
  login.stepUp = mark;
}

/** Whether a step-up for `page` brought this login back within the last STEP_UP_BOUNCE_SECONDS. */
export function justSteppedUpFor(login: StoredLogin, page: string, now = Date.now()): boolean {
  const mark = login.stepUp;
  if (!isRecord(mark) || typeof mark.t !== 'number') return false;
  const age = Math.floor(now / 1000) - mark.t;
  return age >= 0 && age <= STEP_UP_BOUNCE_SECONDS && mark.p === pageDigest(page);
}
