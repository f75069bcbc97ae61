/** lib/state/token-claims.ts: a stored ID token's payload, decoded once per process and copied for every read. */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  decodedTokenCount,
  forgetDecodedTokens,
  MAX_DECODED_TOKENS,
  MAX_TOKEN_LENGTH,
  tokenPayload,
} from '../lib/state/token-claims.js';
import { readLogin, storeLogin } from '../lib/state/login.js';
import type { RequestWithSession } from '../lib/core/model.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const SIGNATURE = 's'.repeat(342); // as long as an RS256 signature
const jwt = (payload: unknown, signature = SIGNATURE) => `${b64({ alg: 'RS256' })}.${b64(payload)}.${signature}`;

afterEach(() => {
  jest.restoreAllMocks();
});

describe('tokenPayload', () => {
  it('gives the payload as a new object on every read: what one read changes, the next does not see', () => {
    const token = jwt({ sub: 'alice', email: 'a@example.com', email_verified: true, n: 1, x: null });
    const first = tokenPayload(token)!;
    expect(first).toEqual({ sub: 'alice', email: 'a@example.com', email_verified: true, n: 1, x: null });
    delete first.email;
    first.sub = 'mallory';
    const second = tokenPayload(token)!;
    expect(second).not.toBe(first);
    expect(second).toEqual({ sub: 'alice', email: 'a@example.com', email_verified: true, n: 1, x: null });
    second.role = 'admin';
    expect(tokenPayload(token)).toEqual({ sub: 'alice', email: 'a@example.com', email_verified: true, n: 1, x: null });
  });

  it('copies nested claims (arrays, objects) too', () => {
    const token = jwt({ sub: 'bob', amr: ['pwd', 'otp'], address: { country: 'FR' } });
    const first = tokenPayload(token)!;
    (first.amr as string[]).push('hwk');
    (first.address as Record<string, string>).country = 'XX';
    const second = tokenPayload(token)!;
    expect(second).toEqual({ sub: 'bob', amr: ['pwd', 'otp'], address: { country: 'FR' } });
    expect(second.amr).not.toBe(first.amr);
  });

  it('answers for the very same token only: a token that shares its last characters gets its own claims', () => {
    const alice = jwt({ sub: 'alice' });
    const forged = jwt({ sub: 'mallory', admin: true }); // same signature segment, another payload (a tampered store)
    expect(tokenPayload(alice)).toEqual({ sub: 'alice' });
    expect(tokenPayload(forged)).toEqual({ sub: 'mallory', admin: true });
    expect(tokenPayload(alice)).toEqual({ sub: 'alice' });
  });

  it('keeps a payload with a __proto__ claim as an own claim, the object prototype untouched', () => {
    const token = jwt('{"sub":"carol","__proto__":{"admin":true}}');
    for (let i = 0; i < 2; i++) {
      const claims = tokenPayload(token)!;
      expect(Object.getPrototypeOf(claims)).toBe(Object.prototype);
      expect(Object.hasOwn(claims, '__proto__')).toBe(true);
      expect((claims as { admin?: unknown }).admin).toBeUndefined();
    }
  });

  it('gives undefined for what is no JWT with a JSON object payload, on every read', () => {
    const notJwts = [
      'not-a-jwt',
      b64({ sub: 'no dots at all' }), // a JSON object, but no JWT
      `${b64({})}.${b64('[1,2]')}.sig`,
      `${b64({})}.${b64('null')}.sig`,
      `${b64({})}.${b64('42')}.sig`,
      `${b64({})}.${b64('"text"')}.sig`,
      `${b64({})}.${b64('true')}.sig`,
      `${b64({})}.not json.sig`,
    ];
    for (let read = 0; read < 2; read++) {
      for (const value of notJwts) expect([value, tokenPayload(value)]).toEqual([value, undefined]);
    }
    expect(tokenPayload(`${b64({})}.${b64({ sub: 'two-parts' })}`)).toEqual({ sub: 'two-parts' });
  });

  it.each([
    ['flat claims', { sub: 'erin', email: 'e@example.com' }],
    ['nested claims', { sub: 'frank', amr: ['pwd'], address: { country: 'DE' } }],
  ])('decodes a token once, however often its %s are read', (_name, payload) => {
    const token = jwt(payload, `${SIGNATURE}-${payload.sub}`);
    const decode = jest.spyOn(Buffer, 'from');
    for (let i = 0; i < 3; i++) expect(tokenPayload(token)).toEqual(payload);
    expect(decode).toHaveBeenCalledTimes(1);
  });

  it(`keeps a token of ${MAX_TOKEN_LENGTH} characters, not a longer one`, () => {
    tokenPayload(jwt({ sub: 'before' }, `${SIGNATURE}-before`));
    expect(decodedTokenCount()).toBeGreaterThan(0);
    forgetDecodedTokens();
    expect(decodedTokenCount()).toBe(0);
    const sized = (length: number, name: string) => {
      const token = jwt({ sub: name, pad: '' }, 's');
      const padded = jwt({ sub: name, pad: 'p'.repeat(Math.floor(((length - token.length) * 3) / 4)) }, 's');
      return `${padded}${'s'.repeat(length - padded.length)}`;
    };
    const fits = sized(MAX_TOKEN_LENGTH, 'fits');
    const over = sized(MAX_TOKEN_LENGTH + 1, 'over');
    expect([fits.length, over.length]).toEqual([MAX_TOKEN_LENGTH, MAX_TOKEN_LENGTH + 1]);
    expect(tokenPayload(fits)).toMatchObject({ sub: 'fits' });
    expect(decodedTokenCount()).toBe(1);
    expect(tokenPayload(over)).toMatchObject({ sub: 'over' });
    expect(tokenPayload(over)).toMatchObject({ sub: 'over' });
    expect(decodedTokenCount()).toBe(1);
  });

  it(`keeps at most ${MAX_DECODED_TOKENS} tokens, and none longer than 16 KB`, () => {
    for (let i = 0; i < MAX_DECODED_TOKENS + 50; i++) {
      expect(tokenPayload(jwt({ sub: `user-${i}` }, `${SIGNATURE}-${i}`))).toEqual({ sub: `user-${i}` });
    }
    expect(decodedTokenCount()).toBe(MAX_DECODED_TOKENS);
    const before = decodedTokenCount();
    const long = jwt({ sub: 'long', pad: 'p'.repeat(20_000) }, `${SIGNATURE}-long`);
    expect(tokenPayload(long)).toMatchObject({ sub: 'long' });
    expect(tokenPayload(long)).toMatchObject({ sub: 'long' });
    expect(decodedTokenCount()).toBe(before);
  });
});

describe('readLogin with decoded claims', () => {
  it("gives each request's login its own claims object, not enumerable, so it is never saved", () => {
    const idToken = jwt({ sub: 'dave', email: 'd@example.com' }, `${SIGNATURE}-dave`);
    const first = { session: {} } as unknown as RequestWithSession;
    storeLogin(first, 'k', { idToken, claims: undefined } as never);
    const stored = JSON.parse(JSON.stringify(first.session)); // as the store holds it
    const one = readLogin({ session: stored }, 'k')!;
    delete one.claims.email;
    const two = readLogin({ session: JSON.parse(JSON.stringify(first.session)) }, 'k')!;
    expect(two.claims).toEqual({ sub: 'dave', email: 'd@example.com' });
    expect(Object.getOwnPropertyDescriptor(two, 'claims')).toMatchObject({ enumerable: false });
    expect(JSON.stringify(two)).not.toContain('claims');
  });
});
