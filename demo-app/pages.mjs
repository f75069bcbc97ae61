/**
 * The demo's HTML: one inline stylesheet, no scripts, no framework. Every value is escaped.
 */
import { escapeHtml as e } from './redact.mjs';

const STYLE = `
:root{--ink:#1f2430;--muted:#5c6370;--line:#e3e6ec;--accent:#3b5bdb;--bg:#f7f8fa}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line)}
header div,main{max-width:60rem;margin:0 auto;padding:.9rem 1.25rem}
header div{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header nav{margin-left:auto;display:flex;gap:1rem}
a{color:var(--accent)}
main section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:1.1rem 1.4rem;margin:1.25rem 0}
h1{font-size:1.6rem;margin:.2rem 0 .6rem}
h2{font-size:1.1rem;margin:.2rem 0 .6rem}
.muted{color:var(--muted)}
.button{display:inline-block;padding:.55rem 1.1rem;border-radius:8px;background:var(--accent);color:#fff;text-decoration:none;font-weight:600}
.button.secondary{background:#fff;color:var(--accent);border:1px solid var(--accent)}
.tag{display:inline-block;font-size:.8rem;padding:.1rem .5rem;border-radius:99px;background:#edf2ff;color:var(--accent)}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid var(--line)}
th{width:13rem;font-weight:600}
code,pre{font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
pre{white-space:pre-wrap;background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:.75rem;margin:.5rem 0}
.error{border-color:#f0b4b4;background:#fff6f6}
`;

function value(v) {
  return typeof v === 'string' ? e(v) : e(JSON.stringify(v));
}

function table(obj) {
  const rows = Object.entries(obj ?? {}).filter(([, v]) => v !== undefined);
  if (rows.length === 0) return '<p class="muted">Nothing recorded.</p>';
  return `<table>${rows.map(([k, v]) => `<tr><th><code>${e(k)}</code></th><td><code>${value(v)}</code></td></tr>`).join('')}</table>`;
}

function json(obj) {
  return `<pre>${e(JSON.stringify(obj, null, 2))}</pre>`;
}

/** The page frame: header with the sign-in state, then `body`. */
export function layout({ title, body, user, demo }) {
  const who = user
    ? `<span>Signed in as <b>${e(displayName(user))}</b></span><a href="/logout">Sign out</a>`
    : '<a href="/login">Sign in</a>';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${e(title)} · express-par demo</title><style>${STYLE}</style></head>
<body><header><div><strong>express-par demo</strong><span class="tag">${e(demo.mode)} · ${e(demo.providerLabel)}</span>
<nav><a href="/">Home</a><a href="/protected">Protected</a><a href="/staff">Staff only</a><a href="/userinfo">Userinfo</a><a href="/api">Call the API</a><a href="/pay">Pay</a><a href="/par">What PAR did</a></nav>${who}</div></header>
<main>${body}</main></body></html>`;
}

export function displayName(claims) {
  return String(claims.name ?? claims.nickname ?? claims.email ?? claims.sub ?? 'unknown');
}

export function homePage({ user, demo }) {
  const body = user
    ? `<section><h1>Hello, ${e(displayName(user))}</h1>
<p>You signed in with OpenID Connect through a <b>pushed authorization request</b> (RFC 9126) with PKCE.</p>
<table><tr><th>name</th><td>${e(user.name ?? '')}</td></tr><tr><th>sub</th><td><code data-testid="sub">${e(user.sub)}</code></td></tr>
<tr><th>email</th><td>${e(user.email ?? '')}</td></tr></table>
<p><a class="button" href="/par">See what PAR did</a> <a class="button secondary" href="/protected">Protected page</a> <a class="button secondary" href="/logout">Sign out</a></p></section>`
    : `<section><h1>You are signed out</h1>
<p>Sign in to watch <code>express-par</code> push the authorization request to the provider's PAR endpoint
and send the browser there with nothing but <code>client_id</code> and <code>request_uri</code>.</p>
${demo.embedded ? '<p class="muted">The embedded provider accepts any user name and any password; names starting with <code>staff</code> get the claim the Staff only page asks for.</p>' : ''}
<p><a class="button" href="/login">Sign in</a> <a class="button secondary" href="/signup">Sign up</a></p>
<p class="muted">"Sign up" starts the same pushed sign-in with <code>screen_hint=signup</code> added for this request
(<code>${demo.mode === 'passport' ? "passport.authenticate('par', { authorizationParams })" : 'res.oidc.login({ authorizationParams })'}</code>).
${demo.silentLogin ? 'Silent sign-in is on: this page tried a <code>prompt=none</code> sign-in once for this session, and you came back signed out because the provider needed you.' : ''}</p></section>`;
  return layout({ title: 'Home', body, user, demo });
}

export function protectedPage({ user, demo }) {
  const body = `<section><h1>Protected page</h1>
<p>Only signed-in users get here: the route is guarded by <code>${demo.mode === 'passport' ? 'req.isAuthenticated()' : 'requiresAuth()'}</code>.
Signed-out visitors are sent to sign in and come back here afterwards.</p>
<table><tr><th>sub</th><td><code>${e(user.sub)}</code></td></tr><tr><th>name</th><td>${e(user.name ?? '')}</td></tr></table></section>`;
  return layout({ title: 'Protected', body, user, demo });
}

function loginSection(login) {
  if (!login) return '<section><h2>1. The pushed request</h2><p class="muted">No sign-in recorded in this session yet. <a href="/login">Sign in</a> to see one.</p></section>';
  const pushed = login.pushed
    ? `<p>The app sent these parameters <b>server to server</b> to the provider's PAR endpoint
(client authentication: HTTP Basic, so no secret appears below). Received ${e(login.pushed.receivedAt)}.</p>${table(login.pushed.params)}`
    : `<p>An external provider does not tell the app what it stored; this is what <code>express-par</code> pushes
(values generated per sign-in are described, not shown).</p>${table(login.expectedParams)}`;
  return `<section><h2>1. The pushed request</h2>${pushed}</section>
<section><h2>2. The PAR response and the redirect</h2>
<table><tr><th>request_uri</th><td><code data-testid="request-uri">${e(login.request_uri)}</code></td></tr>
<tr><th>expires_in</th><td><code>${e(login.expires_in)}</code> seconds</td></tr>
<tr><th>authorization endpoint</th><td><code>${e(login.authorizationEndpoint)}</code></td></tr></table>
<p>The browser was redirected there carrying only:</p>${table(login.authorizationQuery)}</section>`;
}

function callbackSection(callback, claims) {
  if (!callback) return '';
  const source = callback.tokenSource === 'provider' ? 'as the provider sent it' : 'as the app stored it';
  return `<section><h2>3. The callback</h2><p>The provider redirected back with:</p>${table(callback.params)}</section>
<section><h2>4. The token response</h2><p class="muted">${e(source)}, tokens redacted.</p>${json(callback.tokenResponse)}</section>
<section><h2>5. ID token claims</h2><p class="muted">Validated by express-par: signature, <code>iss</code>, <code>aud</code>, <code>exp</code>, <code>iat</code>, <code>nonce</code>.</p>${json(claims ?? {})}</section>`;
}

function eventsSection(trace) {
  const events = [...(trace?.login?.events ?? []), ...(trace?.callback?.events ?? [])];
  if (events.length === 0) return '';
  return `<section><h2>Events</h2><p class="muted">From the <code>onEvent</code> option, in order.</p>${json(events)}</section>`;
}

export function parPage({ trace, user, demo }) {
  const body = `<section><h1>What PAR did</h1><p>The last sign-in of this browser session, step by step.</p></section>
${loginSection(trace?.login)}${callbackSection(trace?.callback, user)}${eventsSection(trace)}`;
  return layout({ title: 'What PAR did', body, user, demo });
}

export function staffPage({ user, demo }) {
  const body = `<section><h1>Staff only</h1>
<p>This page is gated on a claim: <code>${demo.mode === 'passport' ? 'a check of req.user.claims.groups' : "claimIncludes('groups', 'staff')"}</code>.
Signed-out visitors are sent to sign in; signed-in users without the claim get a 403 <code>insufficient_claims</code>, never another sign-in.</p>
<table><tr><th>sub</th><td><code>${e(user.sub)}</code></td></tr><tr><th>groups</th><td><code>${value(user.groups ?? [])}</code></td></tr></table></section>`;
  return layout({ title: 'Staff only', body, user, demo });
}

export function userinfoPage({ user, demo, userinfo }) {
  const body = userinfo
    ? `<section><h1>Userinfo</h1>
<p>Claims from the provider's userinfo endpoint, fetched with the access token by <code>req.oidc.fetchUserInfo()</code>
(its <code>sub</code> must be the ID token's: OpenID Connect Core §5.3.2).</p>${json(userinfo)}</section>`
    : '<section><h1>Userinfo</h1><p>The userinfo call is shown in the <code>express</code> mode (<code>req.oidc.fetchUserInfo()</code>).</p></section>';
  return layout({ title: 'Userinfo', body, user, demo });
}

export function apiPage({ user, demo, result, available }) {
  const explain = `<p><code>req.oidc.getAccessToken({ minTtl })</code> returns a token valid for at least <code>minTtl</code> more
seconds, renewing it with the refresh token when needed (one refresh for parallel requests); <code>req.oidc.fetch()</code>
then calls the API as the user. The demo asks for two hours, more than the provider's one-hour tokens, so every call renews.</p>`;
  const outcome = result
    ? `<table><tr><th>token before</th><td><code>${e(result.before.token ?? '(none)')}</code> (expires ${e(result.before.expiresAt ?? '?')})</td></tr>
<tr><th>token after</th><td><code>${e(result.after.token ?? '(none)')}</code> (expires ${e(result.after.expiresAt ?? '?')})</td></tr>
<tr><th>renewed</th><td>${result.renewed ? 'yes' : 'no'}</td></tr><tr><th>API answered</th><td>HTTP ${e(result.status)}</td></tr></table>`
    : '';
  const body = available
    ? `<section><h1>Call the API</h1>${explain}<form method="get" action="/api"><input type="hidden" name="call" value="1"><button class="button" type="submit">Call the API</button></form>${outcome}</section>`
    : '<section><h1>Call the API</h1><p>Token renewal is shown in the <code>express</code> mode (<code>req.oidc.getAccessToken()</code>, <code>req.oidc.fetch()</code>).</p></section>';
  return layout({ title: 'Call the API', body, user, demo });
}

/** The "Pay €123.50" page: what the app asks for (RFC 9396 authorization_details), and what was granted. */
export function payPage({ user, demo, asked, granted }) {
  const amount = `€${asked.instructedAmount.amount}`;
  const grant = granted
    ? `<h2>What the provider granted</h2><p>The token response's <code>authorization_details</code>, checked by express-par
(an entry of a type the sign-in did not ask for is refused: <code>502 authorization_details_invalid</code>) and read as
<code>${demo.mode === 'passport' ? 'tokens.authorization_details' : 'req.oidc.authorizationDetails'}</code>:</p>
<div data-testid="granted">${json(granted)}</div>`
    : '<p class="muted">Nothing granted in this session yet.</p>';
  const body = `<section><h1>Pay ${e(amount)}</h1>
<p>The button starts a sign-in that pushes this payment as <code>authorization_details</code> (RFC 9396), as JSON, with PAR:
the provider shows it to the user, who consents to exactly this payment.</p>
<h2>What the app asks for</h2><div data-testid="asked">${json([asked])}</div>
<p><a class="button" href="/pay/start">Pay ${e(amount)}</a></p>${grant}
${demo.embedded ? '' : '<p class="muted">Your provider must support rich authorization requests for the <code>payment_initiation</code> type.</p>'}</section>`;
  return layout({ title: 'Pay', body, user, demo });
}

export function errorPage({ status, code, message, user, demo }) {
  const body = `<section class="error"><h1>${code === 'insufficient_claims' ? 'Not allowed' : 'Sign-in failed'}</h1>
<table><tr><th>status</th><td>${e(status)}</td></tr><tr><th>code</th><td><code>${e(code ?? 'internal_error')}</code></td></tr>
<tr><th>message</th><td>${e(message)}</td></tr></table><p><a class="button" href="/">Back home</a></p></section>`;
  return layout({ title: 'Error', body, user, demo });
}

export function notFoundPage({ user, demo }) {
  return layout({ title: 'Not found', body: '<section><h1>Not found</h1><p><a href="/">Back home</a></p></section>', user, demo });
}
