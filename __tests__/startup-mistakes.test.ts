/**
 * Mistakes caught at start-up, not at the first login (issue #28, item 3): options that throw a TypeError
 * naming the option from parAuth() and new ParStrategy().
 */
import { describe, expect, it } from '@jest/globals';
import { parAuth } from '../lib/index.js';
import { ParStrategy } from '../lib/passport.js';
import type { ParAuthConfig } from '../lib/core/types.js';

const base = { issuerBaseURL: 'https://op.example', baseURL: 'https://app.example', clientID: 'client' };
const verify = () => undefined;

/** The TypeError both adapters throw for `options`. */
function refusals(options: Record<string, unknown>): string[] {
  const messages: string[] = [];
  for (const build of [() => parAuth(options as unknown as ParAuthConfig), () => new ParStrategy(options as never, verify)]) {
    try {
      build();
      messages.push('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(TypeError);
      messages.push((err as Error).message);
    }
  }
  return messages;
}

describe('options refused at start-up', () => {
  const unset = (option: string) =>
    `"${option}" is undefined (an unset environment variable?): set it, or set clientAuthMethod "none" for a public client`;

  it('refuses clientSecret: undefined (an unset environment variable), which used to make the client public', () => {
    expect(refusals({ ...base, clientSecret: undefined })).toEqual([unset('clientSecret'), unset('clientSecret')]);
    expect(refusals({ ...base, clientAssertionSigningKey: undefined })).toEqual([unset('clientAssertionSigningKey'), unset('clientAssertionSigningKey')]);
  });

  it('accepts clientSecret: undefined when clientAuthMethod or a signing key says how the client authenticates', () => {
    expect(refusals({ ...base, clientSecret: undefined, clientAuthMethod: 'none' })).toEqual(['accepted', 'accepted']);
    const key = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' };
    expect(refusals({ ...base, clientSecret: undefined, clientAssertionSigningKey: key })).toEqual(['accepted', 'accepted']);
    // Absent (not given at all) is a public client, as before.
    expect(refusals(base)).toEqual(['accepted', 'accepted']);
  });

  it('refuses a clientSecret with clientAuthMethod "none"', () => {
    const message = '"clientSecret" is set but clientAuthMethod is "none" (a public client has no secret): remove one of them';
    expect(refusals({ ...base, clientSecret: 'shh', clientAuthMethod: 'none' })).toEqual([message, message]);
  });

  it('refuses routes.backchannelLogout without backchannelLogout: true', () => {
    const message = '"routes.backchannelLogout" is set but "backchannelLogout" is off: turn it on, or remove the route';
    expect(refusals({ ...base, clientSecret: 'shh', routes: { backchannelLogout: '/bcl' } })).toEqual([message, message]);
    expect(refusals({ ...base, clientSecret: 'shh', routes: { backchannelLogout: false } })).toEqual(['accepted', 'accepted']);
    expect(() => parAuth({ ...base, clientSecret: 'shh', backchannelLogout: true, routes: { backchannelLogout: '/bcl' } })).not.toThrow();
  });
});

