/**
 * What parAuth() and ParStrategy say without `DEBUG` (core/warn.ts): at creation, what the options alone
 * show (an `http:` baseURL off loopback, a client certificate about to expire); at first use, the provider
 * self-check, run in the background and warned about once when it fails. Nothing calls the network at
 * creation: a script or test that only builds the middleware never reaches the server, and an app's first
 * request (a health check, the first visitor) shares the discovery that its first login would make anyway.
 */
import { ParError } from '../core/errors.js';
import { isLoopbackHost } from '../core/url.js';
import { certificateWarnings } from '../protocol/mtls.js';
import { ready, type EngineContext } from './context.js';

/** The warnings the resolved options alone give, at parAuth() / new ParStrategy(). */
export function warnAtCreation(ctx: EngineContext): void {
  const { baseURL, tls } = ctx.config;
  // RFC 6749 §3.1.2.1: the redirection endpoint should require TLS; and the session cookie that holds the
  // login would travel in the clear too. A warning, not a refusal (why: docs/production.md).
  if (baseURL.protocol === 'http:' && !isLoopbackHost(baseURL.hostname)) {
    const message =
      `baseURL ${baseURL.origin} is http: off loopback: the session cookie, the callback and its code travel ` +
      'in the clear. Use the https: URL the browser sees (also behind a proxy that terminates TLS).';
    ctx.warn('EXPRESS_PAR_CLEARTEXT_BASE_URL', message);
  }
  const certificate = tls ? certificateWarnings(tls) : [];
  if (certificate.length > 0) ctx.warn('EXPRESS_PAR_CLIENT_CERTIFICATE', `${certificate.join('; ')}.`);
}

/**
 * Starts the provider self-check once, in the background, at the first request or authenticate(). A
 * failure is a warning (the login route reports the error itself): never an unhandled rejection, never a
 * crash.
 */
export function checkOnFirstUse(ctx: EngineContext): void {
  if (ctx.checkedOnFirstUse) return;
  ctx.checkedOnFirstUse = true;
  ready(ctx).catch((err: unknown) => ctx.warn('EXPRESS_PAR_PROVIDER_NOT_READY', notReady(ctx.config.issuer, err)));
}

function notReady(issuer: string, err: unknown): string {
  const what = err instanceof ParError ? `${err.message} (${err.code})` : 'The self-check failed unexpectedly.';
  const doctor = `"npx express-par check --issuer ${issuer}" lists each problem with its fix`;
  return `${what} Logins fail until this is fixed; ${doctor}.`;
}
