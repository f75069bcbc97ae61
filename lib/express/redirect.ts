/**
 * How the adapters send the browser on: `302`, a `Location`, no body. Passport's strategies redirect the
 * same way. RFC 9110 §15.4.3 asks a 302 for the Location only; the body is an optional note.
 *
 * Express's `res.redirect()` also negotiates that note against `Accept` (an HTML or a text body, MIME
 * lookups, `Vary: Accept`), which costs far more CPU than this function, and every login makes two
 * redirects (bench/README.md, "Redirects").
 */
import type { Response } from 'express';

/**
 * `302 Found` to `location`, with `Content-Length: 0`. The Location is written by Express's own
 * `res.location()`, which `res.redirect()` used too: the same encoding on Express 4 and 5 as before.
 * Headers set before (the session cookie) are kept.
 */
export function redirect(res: Response, location: string): void {
  res.statusCode = 302;
  res.location(location);
  res.setHeader('Content-Length', '0');
  res.end();
}
