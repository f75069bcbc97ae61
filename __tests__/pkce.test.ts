import { describe, expect, it } from '@jest/globals';
import { codeChallengeS256, createCodeVerifier } from '../lib/protocol/pkce.js';
import { randomToken } from '../lib/core/random.js';

describe('PKCE (RFC 7636)', () => {
  it('computes the S256 challenge of the Appendix B test vector', () => {
    expect(codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('creates 43-character verifiers from the unreserved set, different every time', () => {
    const verifiers = new Set(Array.from({ length: 200 }, () => createCodeVerifier()));
    expect(verifiers.size).toBe(200);
    for (const v of verifiers) expect(v).toMatch(/^[A-Za-z0-9\-._~]{43}$/);
  });

  it.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(129)],
    ['outside the charset', `${'a'.repeat(42)}+`],
  ])('refuses a verifier that is %s (§4.1)', (_what, verifier) => {
    expect(() => codeChallengeS256(verifier)).toThrow(TypeError);
  });

  it('never hands out the same random bytes twice, across refills of its random block', () => {
    const tokens = Array.from({ length: 1000 }, (_, i) => randomToken(i % 2 ? 16 : 32));
    expect(new Set(tokens).size).toBe(1000);
    for (const [i, t] of tokens.entries()) expect(Buffer.from(t, 'base64url')).toHaveLength(i % 2 ? 16 : 32);
    expect(Buffer.from(randomToken(300), 'base64url')).toHaveLength(300);
  });

  it('makes state and nonce values of at least 128 bits', () => {
    expect(Buffer.from(randomToken(), 'base64url').length).toBeGreaterThanOrEqual(16);
  });
});
