/**
 * A tiny scripted browser over real HTTP (global fetch, redirect: 'manual') with a cookie jar that
 * behaves like a browser's for http hosts: cookies keyed by host (ports ignored), path-matching,
 * Max-Age/Expires deletion, overwrite by name+path. HttpOnly/Secure/SameSite/Domain are ignored.
 */

export interface BrowserResponse {
  status: number;
  url: string;
  headers: Headers;
  /** The Location header resolved against the request URL, if any. */
  location?: string;
  body: string;
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  expiresAt?: number; // epoch ms
}

function defaultPath(url: URL): string {
  const { pathname } = url;
  if (!pathname.startsWith('/') || pathname.lastIndexOf('/') === 0) return '/';
  return pathname.slice(0, pathname.lastIndexOf('/'));
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export class TestBrowser {
  private jar = new Map<string, StoredCookie[]>();

  /** `fetchImpl`: e.g. one that trusts a test CA for https hosts (see mtls-provider.ts). */
  constructor(private readonly fetchImpl: typeof fetch = fetch) {}

  get(url: string): Promise<BrowserResponse> {
    return this.request('GET', url);
  }

  post(url: string, form: Record<string, string>): Promise<BrowserResponse> {
    return this.request('POST', url, new URLSearchParams(form).toString());
  }

  /**
   * GETs url and follows Location headers until a non-3xx response, or until stopAt(next) is true
   * (that URL is then not requested). Returns the chain of responses.
   */
  async follow(url: string, opts: { stopAt?: (url: URL) => boolean; max?: number } = {}): Promise<BrowserResponse[]> {
    const max = opts.max ?? 20;
    const chain: BrowserResponse[] = [];
    let next: string | undefined = url;
    while (next !== undefined) {
      if (opts.stopAt?.(new URL(next))) break;
      if (chain.length >= max) throw new Error(`TestBrowser.follow: more than ${max} redirects starting at ${url}`);
      const res = await this.get(next);
      chain.push(res);
      next = res.status >= 300 && res.status < 400 ? res.location : undefined;
    }
    return chain;
  }

  cookies(host: string): Record<string, string> {
    const now = Date.now();
    const out: Record<string, string> = {};
    for (const c of this.jar.get(hostKey(host)) ?? []) {
      if (c.expiresAt === undefined || c.expiresAt > now) out[c.name] = c.value;
    }
    return out;
  }

  /** Forgets one cookie of `host` (any path), as a user deleting it in the browser would. */
  deleteCookie(host: string, name: string): void {
    const key = hostKey(host);
    this.jar.set(key, (this.jar.get(key) ?? []).filter((c) => c.name !== name));
  }

  clearCookies(host?: string): void {
    if (host === undefined) this.jar.clear();
    else this.jar.delete(hostKey(host));
  }

  private async request(method: 'GET' | 'POST', url: string, body?: string): Promise<BrowserResponse> {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html,application/json;q=0.9,*/*;q=0.8' };
    const cookie = this.cookieHeader(target);
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      // A browser posting a form sends its Origin.
      headers.origin = target.origin;
    }
    const res = await this.fetchImpl(target, { method, headers, body, redirect: 'manual' });
    for (const setCookie of res.headers.getSetCookie()) this.store(target, setCookie);
    const location = res.headers.get('location');
    return {
      status: res.status,
      url: target.href,
      headers: res.headers,
      location: location === null ? undefined : new URL(location, target).href,
      body: await res.text(),
    };
  }

  private cookieHeader(url: URL): string {
    const now = Date.now();
    const list = (this.jar.get(hostKey(url.hostname)) ?? [])
      .filter((c) => (c.expiresAt === undefined || c.expiresAt > now) && pathMatches(url.pathname, c.path))
      // Longer paths first, like browsers.
      .sort((a, b) => b.path.length - a.path.length);
    return list.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  private store(url: URL, header: string): void {
    const [pair = '', ...attrs] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let path: string | undefined;
    let expiresAt: number | undefined;
    let maxAgeSeen = false;
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      const key = (i === -1 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const val = i === -1 ? '' : attr.slice(i + 1).trim();
      if (key === 'path' && val.startsWith('/')) path = val;
      else if (key === 'max-age' && /^-?\d+$/.test(val)) {
        maxAgeSeen = true; // Max-Age wins over Expires
        const seconds = Number(val);
        expiresAt = seconds <= 0 ? 0 : Date.now() + seconds * 1000;
      } else if (key === 'expires' && !maxAgeSeen) {
        const t = Date.parse(val);
        if (!Number.isNaN(t)) expiresAt = t;
      }
    }
    const cookie: StoredCookie = { name, value, path: path ?? defaultPath(url), expiresAt };
    const key = hostKey(url.hostname);
    const list = (this.jar.get(key) ?? []).filter((c) => !(c.name === name && c.path === cookie.path));
    if (cookie.expiresAt === undefined || cookie.expiresAt > Date.now()) list.push(cookie);
    this.jar.set(key, list);
  }
}

function hostKey(host: string): string {
  // Accept "host", "host:port" or a URL; ports are ignored like real browsers do.
  if (host.includes('://')) return new URL(host).hostname.toLowerCase();
  return host.replace(/:\d+$/, '').toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Minimal HTML form parsing (enough for oidc-provider's dev interaction and logout pages).

export interface ParsedForm {
  id?: string;
  action: string;
  method: string;
  fields: Record<string, string>;
}

function decodeEntities(s: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1]?.toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return named[e.toLowerCase()] ?? m;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-\w:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    const name = m[1]!.toLowerCase();
    if (!(name in out)) out[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** The <form>s of an HTML page with their hidden/text inputs (action resolved against baseUrl). */
export function parseForms(html: string, baseUrl: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[1]!);
    const fields: Record<string, string> = {};
    for (const input of m[2]!.matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1]!.replace(/\/$/, ''));
      if (a.name !== undefined) fields[a.name] = a.value ?? '';
    }
    forms.push({
      id: attrs.id,
      action: new URL(attrs.action ?? '', baseUrl).href,
      method: (attrs.method ?? 'get').toUpperCase(),
      fields,
    });
  }
  return forms;
}

function findLink(html: string, baseUrl: string, text: RegExp): string | undefined {
  for (const m of html.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a>/gi)) {
    if (text.test(m[2]!)) {
      const href = attributes(m[1]!).href;
      if (href !== undefined) return new URL(href, baseUrl).href;
    }
  }
  return undefined;
}

/**
 * Completes the oidc-provider dev-interactions login (login form, then consent form if shown)
 * starting from the provider's authorization URL. Returns the first URL outside the provider's
 * origin (the redirect to redirect_uri) WITHOUT requesting it.
 */
export async function completeProviderLogin(
  browser: TestBrowser,
  authorizationUrl: string,
  opts: { login?: string; cancel?: boolean } = {},
): Promise<string> {
  const origin = new URL(authorizationUrl).origin;
  const login = opts.login ?? 'alice';
  let url = authorizationUrl;
  for (let step = 0; step < 10; step += 1) {
    let escaped = undefined as string | undefined;
    const chain = await browser.follow(url, {
      stopAt: (u) => {
        if (u.origin === origin) return false;
        escaped = u.href;
        return true;
      },
    });
    if (escaped !== undefined) return escaped;
    const page = chain[chain.length - 1]!;
    if (page.status !== 200) {
      throw new Error(`completeProviderLogin: unexpected ${page.status} at ${page.url}: ${page.body.slice(0, 500)}`);
    }
    if (opts.cancel) {
      const abort = findLink(page.body, page.url, /cancel|abort/i);
      if (!abort) throw new Error(`completeProviderLogin: no cancel link at ${page.url}`);
      url = abort;
      continue;
    }
    const forms = parseForms(page.body, page.url);
    // Another account over the provider's session: oidc-provider ends that session first, with a form its
    // page submits by script.
    const autoSubmitted = page.body.includes('document.forms[0].submit()') ? forms[0] : undefined;
    const form = forms.find((f) => f.fields.prompt === 'login' || f.fields.prompt === 'consent') ?? autoSubmitted;
    if (!form) throw new Error(`completeProviderLogin: no login/consent form at ${page.url}: ${page.body.slice(0, 500)}`);
    const fields = { ...form.fields };
    if (fields.prompt === 'login') Object.assign(fields, { login, password: 'any-password' });
    const res = await browser.post(form.action, fields);
    if (res.status < 300 || res.status >= 400 || !res.location) {
      throw new Error(`completeProviderLogin: form post to ${form.action} answered ${res.status}: ${res.body.slice(0, 500)}`);
    }
    if (new URL(res.location).origin !== origin) return res.location;
    url = res.location;
  }
  throw new Error('completeProviderLogin: too many interaction steps');
}
