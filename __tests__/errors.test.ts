/**
 * lib/core/errors.ts: `RequestError` names the 4xx errors the browser's request causes outside any
 * callback (issue #25); `CallbackError`, the first name, stays exported and one family with it, so code
 * written against either keeps working.
 */
import { describe, expect, it } from '@jest/globals';
import { CallbackError, ParError, RequestError } from '../lib/index.js';
import { SilentLoginDeclined } from '../lib/core/errors.js';
import { crossSiteLoginError } from '../lib/protocol/browser.js';

describe('RequestError and CallbackError', () => {
  it('are one family: instanceof holds both ways, and both are ParErrors with a 4xx status', () => {
    const request = new RequestError('login_required', 'Authentication required.', { status: 401 });
    const callback = new CallbackError('state_mismatch', 'no pending login');
    for (const err of [request, callback]) {
      expect(err).toBeInstanceOf(RequestError);
      expect(err).toBeInstanceOf(CallbackError);
      expect(err).toBeInstanceOf(ParError);
      expect(err).toBeInstanceOf(Error);
    }
    expect({ status: request.status, expose: request.expose }).toEqual({ status: 401, expose: true });
    expect(callback.status).toBe(400);
  });

  it('keep their names: RequestError outside a callback, CallbackError at the callback', () => {
    expect(new RequestError('insufficient_claims', 'x', { status: 403 }).name).toBe('RequestError');
    expect(new CallbackError('iss_mismatch', 'x').name).toBe('CallbackError');
  });

  it('leave the subclasses exact: not every RequestError is a SilentLoginDeclined', () => {
    const declined = new SilentLoginDeclined('/page', new CallbackError('login_required', 'x', { status: 401 }));
    expect(declined).toBeInstanceOf(CallbackError);
    expect(declined).toBeInstanceOf(RequestError);
    expect(new RequestError('login_required', 'x')).not.toBeInstanceOf(SilentLoginDeclined);
    expect(new CallbackError('login_required', 'x')).not.toBeInstanceOf(SilentLoginDeclined);
  });

  it('a 403 for a login another site started is a RequestError, not a callback error', () => {
    const err = crossSiteLoginError();
    expect(err).toMatchObject({ name: 'RequestError', code: 'cross_site_login', status: 403 });
    expect(err.message).toBe(
      'Another site started this login, which profile \u201cfapi2\u201d refuses (Sec-Fetch-Site: cross-site): ' +
        'start the login from a page of this app.',
    );
    expect(err).toBeInstanceOf(CallbackError); // code written against the old name still catches it
  });
});
