#!/usr/bin/env node
/**
 * In-process micro-benchmarks of the pieces the README's "what each gain came from" quotes: CPU µs per
 * call of this build's dist/ and, with --base, of another build's, interleaved (A, B, A, B, ...) so load
 * hits both alike. Run after `npm run build`.
 *
 *   node bench/micro.mjs [--base /path/to/other/dist] [--rounds 7]
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRemoteJWKSet, SignJWT } from 'jose';

const { values: opts } = parseArgs({ options: { base: { type: 'string' }, rounds: { type: 'string', default: '7' } } });
/** The first of `paths` (under dist/esm) that exists: a --base build from before issue #25 has the old layout. */
const first = async (dist, ...paths) => {
  for (const path of paths) {
    try {
      return await import(pathToFileURL(join(dist, 'esm', path)).href);
    } catch (err) {
      if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    }
  }
  throw new Error(`none of ${paths.join(', ')} in ${dist}`);
};
const load = async (dist) => ({
  idToken: await first(dist, 'protocol/id-token.js'),
  dpop: await first(dist, 'protocol/dpop.js'),
  context: await first(dist, 'express/request-context.js', 'adapters/request-context.js'),
  random: await first(dist, 'core/random.js', 'protocol/pkce.js'),
});
const builds = { current: await load(new URL('../dist', import.meta.url).pathname) };
if (opts.base) builds.base = await load(opts.base);

// An RS256 ID token and its key set over local HTTP, as a login sees them. The pair is re-imported from
// PKCS#8 before its JWK export: exporting a just-generated key as JWK can deadlock Node 20 (see lib/protocol/dpop.ts).
const generated = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const privateKey = createPrivateKey({ key: generated.export({ format: 'der', type: 'pkcs8' }), format: 'der', type: 'pkcs8' });
const publicKey = createPublicKey(privateKey);
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const jwks = createRemoteJWKSet(new URL(`http://127.0.0.1:${server.address().port}/jwks`));
const issuer = 'https://op.example';
const idToken = await new SignJWT({ sub: 'alice', nonce: 'n'.repeat(43) }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setAudience('client').setIssuedAt().setExpirationTime('1h').sign(privateKey);
const expectations = { issuer, clientID: 'client', nonce: 'n'.repeat(43), algorithms: ['RS256'], clockTolerance: 30, jwks };
const req = { session: { oidc: { idToken, claims: { sub: 'alice' }, accessToken: 'at' } } };

const cases = {
  'ID token check (validateIdToken, RS256)': (b) => b.idToken.validateIdToken(idToken, expectations),
  'DPoP per login: key, thumbprint, 2 proofs, key from session JWK': async (b) => {
    const { jwk: stored, key } = await b.dpop.generateDpopKey();
    await b.dpop.thumbprint(key);
    await b.dpop.createProof(key, 'POST', 'https://op.example/par');
    await b.dpop.createProof(await b.dpop.dpopKeyFromJwk(JSON.parse(JSON.stringify(stored))), 'POST', 'https://op.example/token');
  },
  'req.oidc per request: create, isAuthenticated(), user': (b) => {
    const ctx = b.context.createRequestContext(req, {});
    return ctx.isAuthenticated() && ctx.user;
  },
  'three random values (state, nonce, verifier)': (b) => [b.random.randomToken(), b.random.randomToken(), b.random.randomToken()],
};

async function measure(fn, build, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(build);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| piece | ${Object.keys(builds).map((b) => `${b} µs/call`).join(' | ')} |${opts.base ? ' ratio |' : ''}`);
console.log(`|---|${Object.keys(builds).map(() => '---:').join('|')}|${opts.base ? '---:|' : ''}`);
for (const [name, fn] of Object.entries(cases)) {
  const n = name.startsWith('req.oidc') || name.startsWith('three') ? 50_000 : 400;
  for (const build of Object.values(builds)) await measure(fn, build, n); // warm-up
  const times = Object.fromEntries(Object.keys(builds).map((b) => [b, []]));
  for (let r = 0; r < Number(opts.rounds); r++) for (const [b, build] of Object.entries(builds)) times[b].push(await measure(fn, build, n));
  const cells = Object.keys(builds).map((b) => median(times[b]).toFixed(n > 1000 ? 2 : 0));
  console.log(`| ${name} | ${cells.join(' | ')} |${opts.base ? ` ${(median(times.current) / median(times.base)).toFixed(2)} |` : ''}`);
}
server.close();
