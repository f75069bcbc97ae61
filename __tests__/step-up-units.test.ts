/**
 * Step-up authentication (RFC 9470) in pieces: whether a login meets a requirement, the challenge written and
 * read (quoting, hostile values), requiresAuth()'s argument checks, what a step-up transaction keeps in the
 * session, and the mark a step-up leaves on its login.
 */
import { describe, expect, it } from '@jest/globals';
import { requiresAuth } from '../lib/index.js';
import type { RequestWithSession, Transaction } from '../lib/core/model.js';
import type { LoginSession } from '../lib/core/types.js';
import {
  authenticationShortfall, readStepUpChallenge, requireAuthTime, stepUpChallenge,
} from '../lib/protocol/step-up.js';
import { parseWwwAuthenticate } from '../lib/protocol/www-authenticate.js';
import { justSteppedUpFor, markStepUp } from '../lib/state/step-up.js';
import { saveTransaction, takeTransaction } from '../lib/state/transactions.js';

const NOW = 1_700_000_000;
const TOLERANCE = 30;

describe('authenticationShortfall(): the login\'s acr and auth_time against a requirement', () => {
  const acrValues = ['urn:mfa', 'urn:hwk'];
  it.each([
    [{ acr: 'urn:hwk' }, { acrValues }, undefined],
    [{ acr: 'urn:password' }, { acrValues }, 'acr'],
    [{}, { acrValues }, 'acr'],
    [{ acr: ['urn:mfa'] }, { acrValues }, 'acr'],
    [{ auth_time: NOW - 60 - TOLERANCE }, { maxAge: 60 }, undefined],
    [{ auth_time: NOW - 60 - TOLERANCE - 1 }, { maxAge: 60 }, 'max_age'],
    [{}, { maxAge: 60 }, 'max_age'],
    [{ auth_time: String(NOW) }, { maxAge: 60 }, 'max_age'],
    [{ auth_time: NOW - TOLERANCE }, { maxAge: 0 }, undefined],
    [{ acr: 'urn:mfa', auth_time: NOW - 1000 }, { acrValues, maxAge: 60 }, 'max_age'],
    [{ acr: 'urn:mfa', auth_time: NOW - 10 }, { acrValues, maxAge: 60 }, undefined],
    [{ acr: 'urn:x' }, {}, undefined],
  ])('%j with %j: %s', (claims, required, expected) => {
    expect(authenticationShortfall(claims, required, NOW, TOLERANCE)).toBe(expected);
  });

  it('asks an ID token for auth_time only when max_age was asked for (Core §3.1.2.1)', () => {
    expect(() => requireAuthTime({}, { maxAge: 0 })).toThrow(expect.objectContaining({ code: 'id_token_invalid', status: 502 }));
    expect(() => requireAuthTime({}, { maxAge: 0 })).toThrow('The ID token has no \u201cauth_time\u201d although max_age was requested');
    expect(() => requireAuthTime({}, { acrValues: ['urn:mfa'] })).not.toThrow();
    expect(() => requireAuthTime({ auth_time: NOW }, { maxAge: 0 })).not.toThrow();
  });
});

describe('stepUpChallenge(): the RFC 9470 §3 WWW-Authenticate value', () => {
  it('names the error, a description, acr_values quoted and max_age as a number', () => {
    expect(stepUpChallenge({ acrValues: ['urn:mfa', 'urn:hwk'], maxAge: 300 })).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", ' +
      'acr_values="urn:mfa urn:hwk", max_age=300');
    expect(stepUpChallenge({ maxAge: 0 })).toBe(
      'Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=0');
    expect(stepUpChallenge({ acrValues: ['gold'] })).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", ' +
      'acr_values="gold"');
    expect(stepUpChallenge({ acrValues: [] })).not.toContain('acr_values');
  });

  it('escapes quotes and backslashes, so the value parses back to the same acr values', () => {
    const acrValues = ['say"hi"', 'back\\slash', 'a,b=c'];
    const [challenge] = parseWwwAuthenticate(stepUpChallenge({ acrValues }));
    expect(challenge!.scheme).toBe('bearer');
    expect(challenge!.params.acr_values!.split(' ')).toEqual(acrValues);
  });
});

describe('readStepUpChallenge(): an API\'s 401', () => {
  const ask = 'error="insufficient_user_authentication"';
  it.each([
    [401, `Bearer ${ask}, acr_values="urn:mfa urn:hwk", max_age=300`, { acrValues: ['urn:mfa', 'urn:hwk'], maxAge: 300 }],
    [401, `Bearer ${ask}, max_age="5"`, { acrValues: [], maxAge: 5 }],
    [401, `Bearer realm="api", error="invalid_token", DPoP algs="ES256", ${ask}, acr_values="gold"`, { acrValues: ['gold'] }],
    [401, [`Bearer error="invalid_token"`, `Bearer ${ask}, acr_values="gold"`], { acrValues: ['gold'] }],
    [401, `Bearer ${ask}, max_age=1234567890`, { acrValues: [] }],
    [401, `Bearer ${ask}, max_age=-1`, { acrValues: [] }],
    [401, `Bearer ${ask}, acr_values="${Array.from({ length: 12 }, (_, i) => `a${i}`).join(' ')}"`, { acrValues: Array.from({ length: 10 }, (_, i) => `a${i}`) }],
    [401, `Bearer ${ask}, acr_values="${'x'.repeat(201)} ok"`, { acrValues: ['ok'] }],
    [403, `Bearer ${ask}, acr_values="gold"`, undefined],
    [401, 'Bearer error="insufficient_scope", acr_values="gold"', undefined],
    [401, null, undefined],
  ])('%d %j', (status, header, expected) => {
    expect(readStepUpChallenge(status, header)).toStrictEqual(expected);
  });
});

describe('requiresAuth(): its argument, checked when the middleware is made', () => {
  it.each([
    ['/login', 'give nothing, a function'],
    [42, 'give nothing, a function'],
    [null, 'give nothing, a function'],
    [[], 'give nothing, a function'],
    [{}, 'asks for nothing'],
    [{ acr_values: ['urn:mfa'] }, '"acr_values" is not an option'],
    [{ acrValues: [] }, '"acrValues" must be a non-empty array'],
    [{ acrValues: 'urn:mfa' }, '"acrValues" must be a non-empty array'],
    [{ acrValues: ['urn:mfa urn:hwk'] }, '"acrValues" must be a non-empty array'],
    [{ acrValues: [''] }, '"acrValues" must be a non-empty array'],
    [{ acrValues: ['é'] }, '"acrValues" must be a non-empty array'],
    [{ maxAge: -1 }, '"maxAge" must be a whole number'],
    [{ maxAge: 1.5 }, '"maxAge" must be a whole number'],
    [{ maxAge: '60' }, '"maxAge" must be a whole number'],
    [{ maxAge: Number.POSITIVE_INFINITY }, '"maxAge" must be a whole number'],
  ])('refuses %j with a TypeError', (arg, message) => {
    expect(() => requiresAuth(arg as never)).toThrow(TypeError);
    expect(() => requiresAuth(arg as never)).toThrow(message);
  });

  it('takes nothing, a function, acrValues, maxAge or both', () => {
    for (const arg of [undefined, () => true, { acrValues: ['urn:mfa'] }, { maxAge: 0 }, { acrValues: ['a', 'b'], maxAge: 60 }]) {
      expect(typeof requiresAuth(arg)).toBe('function');
    }
  });
});

describe('a step-up transaction in the session', () => {
  const KEY = 'sign-in';
  const REDIRECT = 'https://app.example/callback';
  const base: Transaction = {
    state: 's'.repeat(43), nonce: 'n', codeVerifier: 'v'.repeat(43), returnTo: '/pay', redirectUri: REDIRECT, createdAt: NOW * 1000,
  };

  it('keeps what the login asked for and that it is a step-up, compactly, and gives them back', () => {
    const req = { session: {} } as unknown as RequestWithSession;
    const tx: Transaction = { ...base, maxAge: 60, required: { acrValues: ['urn:mfa', 'urn:hwk'], maxAge: 60 }, stepUp: true };
    saveTransaction(req, KEY, tx, NOW * 1000);
    expect(req.session.par![KEY]!.pending![tx.state]).toMatchObject({ m: 60, a: 'urn:mfa urn:hwk', q: 1, p: 1 });
    expect(takeTransaction(req, KEY, tx.state, REDIRECT, NOW * 1000)).toEqual(tx);
  });

  it('tells a configured max_age (the ID token check, 502) from one the login asked for (403)', () => {
    const req = { session: {} } as unknown as RequestWithSession;
    saveTransaction(req, KEY, { ...base, maxAge: 60 }, NOW * 1000);
    expect(takeTransaction(req, KEY, base.state, REDIRECT, NOW * 1000)).toEqual({ ...base, maxAge: 60 });
  });
});

describe('the mark a step-up leaves on its login', () => {
  const login = () => ({ idToken: 'x.y.z', claims: {} }) as LoginSession;
  const T = NOW * 1000;

  it('counts for its own page, for 10 seconds', () => {
    const marked = login();
    markStepUp(marked, '/pay?item=1', T);
    expect(justSteppedUpFor(marked, '/pay?item=1', T)).toBe(true);
    expect(justSteppedUpFor(marked, '/pay?item=1', T + 10_999)).toBe(true);
    expect(justSteppedUpFor(marked, '/pay?item=1', T + 11_000)).toBe(false);
    expect(justSteppedUpFor(marked, '/pay?item=2', T)).toBe(false);
    expect(justSteppedUpFor(marked, '/pay?item=1', T - 1000)).toBe(false);
    expect(JSON.stringify(marked.stepUp).length).toBeLessThan(40);
  });

  it('reads nothing from a login without one or with a tampered one', () => {
    expect(justSteppedUpFor(login(), '/pay', T)).toBe(false);
    for (const stepUp of ['/pay', { p: 1, t: NOW }, { p: 'x', t: '1' }, null]) {
      expect(justSteppedUpFor({ ...login(), stepUp }, '/pay', T)).toBe(false);
    }
    const marked = login();
    markStepUp(marked, '/pay', T);
    const { p } = marked.stepUp as { p: string };
    expect(justSteppedUpFor({ ...login(), stepUp: { p, t: String(NOW) } }, '/pay', T)).toBe(false);
    expect(justSteppedUpFor({ ...login(), stepUp: { p, t: NOW } }, '/pay', T)).toBe(true);
  });
});
