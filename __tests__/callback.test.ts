/**
 * The authorization response at the callback, as pure functions (lib/protocol/callback.ts): RFC 6749 §3.1 (no
 * repeated parameters), §4.1.2.1 (error responses) and RFC 9207 §2.4 (iss).
 */
import { describe, expect, it } from '@jest/globals';
import { checkAuthorizationError, checkIss, parseCallbackParams } from '../lib/protocol/callback.js';
import { CallbackError } from '../lib/core/errors.js';

function thrown(fn: () => unknown): CallbackError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CallbackError);
    // Messages quote with typographic quotes (no markup character reaches err.message): compared here in
    // plain quotes.
    const error = err as CallbackError;
    error.message = error.message.replace(/[\u201c\u201d]/g, '"');
    return error;
  }
  throw new Error('expected a CallbackError');
}

describe('parseCallbackParams', () => {
  it('reads the five response parameters and nothing else', () => {
    expect(parseCallbackParams('/callback?code=c&state=s&iss=https%3A%2F%2Fas&error=e&error_description=d+e&returnTo=%2Fx&__proto__=1'))
      .toEqual({ code: 'c', state: 's', iss: 'https://as', error: 'e', error_description: 'd e' });
  });

  it('returns no parameters for a URL without a query, and keeps empty values', () => {
    expect(parseCallbackParams('/callback')).toEqual({});
    expect(parseCallbackParams('/callback?')).toEqual({});
    expect(parseCallbackParams('/callback?code=&state=')).toEqual({ code: '', state: '' });
  });

  it('reads nothing from the path: "&state=" before any "?" is not a parameter', () => {
    expect(parseCallbackParams('/callback&state=s&code=c')).toEqual({});
  });

  it('sets only the parameters present (no keys holding undefined)', () => {
    expect(Object.keys(parseCallbackParams('/callback?state=s'))).toEqual(['state']);
  });

  it('reads the query after the first "?" only', () => {
    expect(parseCallbackParams('/callback?state=a?b')).toEqual({ state: 'a?b' });
  });

  it.each(['state', 'code', 'iss', 'error', 'error_description'])('refuses a repeated %s, naming it', (name) => {
    const err = thrown(() => parseCallbackParams(`/callback?${name}=a&x=1&${name}=b`));
    expect(err).toMatchObject({ code: 'callback_params_invalid', status: 400 });
    expect(err.message).toBe(`The callback has more than one "${name}" parameter.`);
  });

  it('accepts a query of 16 KiB and refuses one byte more', () => {
    const query = `state=${'a'.repeat(16 * 1024 - 6)}`;
    expect(parseCallbackParams(`/callback?${query}`).state).toHaveLength(16 * 1024 - 6);
    const err = thrown(() => parseCallbackParams(`/callback?${query}a`));
    expect(err).toMatchObject({ code: 'callback_params_invalid', status: 400, message: 'The callback query string is too long.' });
  });
});

describe('checkIss (RFC 9207 §2.4)', () => {
  it('accepts the exact issuer, advertised or not', () => {
    expect(() => checkIss({ iss: 'https://as.example' }, 'https://as.example', true)).not.toThrow();
    expect(() => checkIss({ iss: 'https://as.example' }, 'https://as.example', false)).not.toThrow();
  });

  it('accepts a missing iss only when the server does not advertise it', () => {
    expect(() => checkIss({}, 'https://as.example', false)).not.toThrow();
    const err = thrown(() => checkIss({}, 'https://as.example', true));
    expect(err).toMatchObject({ code: 'iss_missing', status: 400 });
    expect(err.message).toBe(
      'The authorization response has no "iss" although the server advertises ' +
        'authorization_response_iss_parameter_supported (RFC 9207 §2.4).',
    );
  });

  it.each(['https://as.example/', 'https://AS.example', 'https://as.example.evil', ''])('refuses iss=%j, naming both issuers', (iss) => {
    const err = thrown(() => checkIss({ iss }, 'https://as.example', false));
    expect(err).toMatchObject({ code: 'iss_mismatch', status: 400 });
    expect(err.message).toContain('"https://as.example"');
    expect(err.message).toContain(`"${iss}"`);
    expect(err.message).toContain('mix-up');
  });

  it('shortens a long foreign iss to 200 characters in the message', () => {
    const err = thrown(() => checkIss({ iss: `https://${'x'.repeat(500)}` }, 'https://as.example', false));
    expect(err.message).toContain(`"https://${'x'.repeat(192)}…"`);
    expect(err.message).not.toContain('x'.repeat(193));
  });
});

describe('checkAuthorizationError (RFC 6749 §4.1.2.1)', () => {
  it('lets a response without error through', () => {
    expect(() => checkAuthorizationError({ code: 'c', state: 's' })).not.toThrow();
  });

  it('maps access_denied to 403, with the server\'s error and description', () => {
    const err = thrown(() => checkAuthorizationError({ error: 'access_denied', error_description: 'The user said no' }));
    expect(err).toMatchObject({ code: 'access_denied', status: 403, error: 'access_denied', error_description: 'The user said no' });
    expect(err.message).toBe('The user or the server denied the login (access_denied: The user said no).');
  });

  it.each(['login_required', 'consent_required', 'interaction_required', 'account_selection_required'])('maps %s to 401 login_required', (error) => {
    const err = thrown(() => checkAuthorizationError({ error }));
    expect(err).toMatchObject({ code: 'login_required', status: 401, error });
    expect(err.message).toBe(`The server needs the user to interact (${error}).`);
    expect('error_description' in err && err.error_description !== undefined).toBe(false);
  });

  it.each(['server_error', 'temporarily_unavailable', 'invalid_scope', 'x_custom'])('maps %s to 400 authorization_error', (error) => {
    const err = thrown(() => checkAuthorizationError({ error, error_description: 'try later' }));
    expect(err).toMatchObject({ code: 'authorization_error', status: 400, error, error_description: 'try later' });
    expect(err.message).toBe(`The authorization server returned an error (${error}: try later).`);
  });

  it('keeps an error only when it is an OAuth code of at most 100 characters, and the description filtered to 300', () => {
    const err = thrown(() => checkAuthorizationError({ error: `bad\r\n${'e'.repeat(200)}`, error_description: `d\u0000${'d'.repeat(400)}` }));
    expect(err.error).toBeUndefined();
    expect(err.code).toBe('authorization_error');
    expect(err.error_description).toBe(`d?${'d'.repeat(298)}…`);
    expect(err.message).toBe(`The authorization server returned an error (an error code that is not a valid OAuth code: d?${'d'.repeat(298)}…).`);
    expect(thrown(() => checkAuthorizationError({ error: 'e'.repeat(100) })).error).toBe('e'.repeat(100));
    expect(thrown(() => checkAuthorizationError({ error: 'e'.repeat(101) })).error).toBeUndefined();
  });

  it('leaves out an empty description', () => {
    const err = thrown(() => checkAuthorizationError({ error: 'server_error', error_description: '' }));
    expect(err.error_description).toBeUndefined();
    expect(err.message).toBe('The authorization server returned an error (server_error).');
  });
});
