/** URL helpers shared by the layers: loopback hosts, paths under `baseURL`, and the raw query of a request. */

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|[^.]+\.localhost)$/i;

/** Whether `hostname` is a loopback host, the only one where `http:` is allowed (development). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/** `baseURL` + `path`, keeping any path that `baseURL` has. */
export function joinUrl(base: URL, path: string): string {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  return `${base.origin}${prefix}${path}`;
}

/**
 * The query of a request URL (`req.originalUrl`) as the browser sent it: the text after the first `?`,
 * `''` without one. express-par reads parameters from it with URLSearchParams, never through Express's
 * query parser, which can turn a parameter into an array or an object.
 */
export function rawQuery(url: string): string {
  const index = url.indexOf('?');
  // Stryker disable next-line StringLiteral: any text without "=" parses to no known parameter, like ''
  return index === -1 ? '' : url.slice(index + 1);
}

/** The path of a request URL, without its query. */
export function pathOf(url: string): string {
  const index = url.indexOf('?');
  return index === -1 ? url : url.slice(0, index);
}

/** The value of query parameter `name` when the request gives it exactly once; undefined otherwise. */
export function singleQueryValue(url: string, name: string): string | undefined {
  const values = new URLSearchParams(rawQuery(url)).getAll(name);
  return values.length === 1 ? values[0] : undefined;
}
