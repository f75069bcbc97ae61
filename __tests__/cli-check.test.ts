/**
 * `npx express-par check`, the provider doctor (issue #28 item 1), run as a child process: against
 * oidc-provider with PAR (ready: the push proves client_secret_basic and private_key_jwt), without PAR (the
 * problem and its fix), with a wrong secret (invalid_client named); against the faulty server (a timeout,
 * metadata that is not JSON, a PAR endpoint that fails); usage errors (exit 2); `--json`; and no secret on
 * stdout or stderr, ever.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JWK } from 'jose';
import { checkArguments } from '../demo-app/check.mjs';
import { buildCli, type Cli, type CliRun } from './helpers/cli.js';
import { startFaultyServer, type FaultyServer } from './helpers/faulty-server.js';
import { generateKeyPairSync } from './helpers/keys.js';
import { serveClientJwks, startProvider, TEST_CLIENT_ID, TEST_CLIENT_SECRET, testClient, type ClientJwksServer, type TestProvider } from './helpers/provider.js';

const REDIRECT = 'http://localhost:3000/callback';
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const WRONG_SECRET = 'wrong-secret-that-must-never-be-printed-0123456789';

let cli: Cli;
let withPar: TestProvider;
let withoutPar: TestProvider;
let faulty: FaultyServer;
let jwks: ClientJwksServer;
let keyFile: string;
/** Every run of the file, to check that no secret was ever printed. */
const runs: CliRun[] = [];

async function check(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const result = await cli.run(['check', ...args], env);
  runs.push(result);
  return result;
}

beforeAll(async () => {
  jwks = await serveClientJwks({ pkjwt: { keys: [{ ...(createPublicKey(key).export({ format: 'jwk' }) as JWK), kid: 'k1' }] } });
  const pkjwt = testClient('pkjwt', [REDIRECT], [], { client_secret: undefined, token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: `${jwks.url}/pkjwt` });
  [cli, withPar, withoutPar, faulty] = await Promise.all([
    buildCli(),
    startProvider({ clients: [testClient(TEST_CLIENT_ID, [REDIRECT]), pkjwt] }),
    startProvider({ redirectUris: [REDIRECT], configure: (c) => (c.features.pushedAuthorizationRequests = { enabled: false }) }),
    startFaultyServer(),
  ]);
  keyFile = join(cli.dir, 'client-key.pem');
  await writeFile(keyFile, key.export({ format: 'pem', type: 'pkcs8' }) as string);
}, 60_000);

afterAll(async () => {
  await Promise.all([cli?.close(), withPar?.close(), withoutPar?.close(), faulty?.close(), jwks?.close()]);
});

describe('npx express-par check against oidc-provider', () => {
  it('says a provider with PAR is ready, after one push proves client_secret_basic (exit 0)', async () => {
    const pushed = withPar.pushedRequests.length;
    const run = await check(['--issuer', withPar.issuer, '--client-id', TEST_CLIENT_ID], { CLIENT_SECRET: TEST_CLIENT_SECRET });
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(run.stdout).toBe(
      [
        `express-par check: ${withPar.issuer}`,
        `  client ${TEST_CLIENT_ID}, client_secret_basic; redirect_uri ${REDIRECT}`,
        '',
        `  ok  metadata read; PAR endpoint ${withPar.issuer}/request`,
        '  ok  client authentication (client_secret_basic) works: the PAR endpoint answered 201, request_uri valid for 60 s (not used)',
        '',
        'Ready.',
        '',
      ].join('\n'),
    );
    expect(withPar.pushedRequests).toHaveLength(pushed + 1);
    expect(withPar.pushedRequests.at(-1)).toMatchObject({ response_type: 'code', code_challenge_method: 'S256', redirect_uri: REDIRECT });
  });

  it('proves private_key_jwt with a key file', async () => {
    const run = await check(['--issuer', withPar.issuer, '--client-id', 'pkjwt', '--client-assertion-key', keyFile]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('  ok  client authentication (private_key_jwt) works: the PAR endpoint answered 201');
    expect(withPar.pushedRequests.at(-1)).toMatchObject({ client_id: 'pkjwt', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
  });

  it('names invalid_client plainly for a wrong secret, and never prints the secret (exit 1)', async () => {
    const run = await check(['--issuer', withPar.issuer, '--client-id', TEST_CLIENT_ID], { CLIENT_SECRET: WRONG_SECRET });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^ {2}1\. the PAR endpoint refused the client authentication \(client_secret_basic\): invalid_client/m);
    expect(run.stdout).toContain("     fix: check that CLIENT_SECRET (--client-secret) is the client's current secret and that the server expects client_secret_basic\n");
    expect(run.stdout).toMatch(/\nNot ready: 1 problem\.\n$/);
    expect(`${run.stdout}${run.stderr}`).not.toContain(WRONG_SECRET);
  });

  it('lists a provider without PAR as not ready, with the metadata field to fix (exit 1)', async () => {
    const run = await check(['--issuer', withoutPar.issuer, '--client-id', TEST_CLIENT_ID], { CLIENT_SECRET: TEST_CLIENT_SECRET });
    expect(run).toMatchObject({ status: 1, stderr: '' });
    expect(run.stdout).toBe(
      [
        `express-par check: ${withoutPar.issuer}`,
        `  client ${TEST_CLIENT_ID}, client_secret_basic; redirect_uri ${REDIRECT}`,
        '',
        '  ok  metadata read',
        '',
        'Problems (1):',
        '  1. it advertises no pushed_authorization_request_endpoint (RFC 9126 §5)',
        '     fix: turn on Pushed Authorization Requests (RFC 9126) at the server, so that its metadata advertises pushed_authorization_request_endpoint',
        '',
        'Not ready: 1 problem.',
        '',
      ].join('\n'),
    );
  });

  it('prints { ok, issuer, problems, warnings } with --json, each problem with its fix', async () => {
    const ready = await check(['--issuer', withPar.issuer, '--client-id', TEST_CLIENT_ID, '--json'], { CLIENT_SECRET: TEST_CLIENT_SECRET });
    expect(ready.status).toBe(0);
    expect(JSON.parse(ready.stdout)).toEqual({
      ok: true,
      issuer: withPar.issuer,
      client: { id: TEST_CLIENT_ID, authMethod: 'client_secret_basic', redirectUri: REDIRECT },
      pushed: { status: 201, expires_in: 60 },
      problems: [],
      warnings: [],
    });
    const notReady = await check(['--json', '--issuer', withoutPar.issuer]);
    expect(notReady.status).toBe(1);
    expect(JSON.parse(notReady.stdout)).toEqual({
      ok: false,
      issuer: withoutPar.issuer,
      problems: [
        {
          id: 'par_endpoint_missing',
          field: 'pushed_authorization_request_endpoint',
          message: 'it advertises no pushed_authorization_request_endpoint (RFC 9126 §5)',
          fix: 'turn on Pushed Authorization Requests (RFC 9126) at the server, so that its metadata advertises pushed_authorization_request_endpoint',
        },
      ],
      warnings: [
        {
          id: 'no_client',
          message: 'no client given: the client authentication was not tried',
          fix: 'give --client-id and the credentials (CLIENT_ID, CLIENT_SECRET) to check the client authentication too',
        },
      ],
    });
  });

  it('pushes with a DPoP proof with --dpop', async () => {
    const run = await check(['--issuer', withPar.issuer, '--client-id', TEST_CLIENT_ID, '--dpop', '--json'], { CLIENT_SECRET: TEST_CLIENT_SECRET });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, pushed: { status: 201 } });
    expect(withPar.pushedRequests.at(-1)).toHaveProperty('dpop_jkt');
  });

  it('reads ISSUER_BASE_URL, CLIENT_ID and CLIENT_SECRET from the environment', async () => {
    const run = await check([], { ISSUER_BASE_URL: withPar.issuer, CLIENT_ID: TEST_CLIENT_ID, CLIENT_SECRET: TEST_CLIENT_SECRET });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('works: the PAR endpoint answered 201');
  });
});

describe("the demo's .env flow: npm run demo:check", () => {
  it("runs the doctor with the demo's settings as flags, the secret through the environment", async () => {
    const args = checkArguments({ ISSUER_BASE_URL: withPar.issuer, CLIENT_ID: TEST_CLIENT_ID, CLIENT_SECRET: TEST_CLIENT_SECRET, PORT: '3000', CLIENT_AUTH_METHOD: 'client_secret_basic' });
    expect(args).toEqual(['check', '--issuer', withPar.issuer, '--client-id', TEST_CLIENT_ID, '--auth-method', 'client_secret_basic', '--base-url', 'http://localhost:3000']);
    const run = await cli.run(args, { CLIENT_SECRET: TEST_CLIENT_SECRET });
    runs.push(run);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\nReady\.\n$/);
  });
});

describe('npx express-par check against a faulty server', () => {
  it('gives up after --timeout on a server that does not answer (upstream_timeout, exit 1)', async () => {
    faulty.fault.discovery = { hang: true };
    try {
      const run = await check(['--issuer', faulty.issuer, '--timeout', '300', '--json']);
      expect(run.status).toBe(1);
      expect(JSON.parse(run.stdout).problems).toEqual([expect.objectContaining({ id: 'upstream_timeout', fix: expect.stringContaining('--timeout') })]);
      const text = await check(['--issuer', faulty.issuer, '--timeout', '300']);
      expect(text.stdout).toBe(
        [
          `express-par check: ${faulty.issuer}`,
          '',
          'Problems (1):',
          `  1. The discovery endpoint (${faulty.issuer}/.well-known/openid-configuration) did not answer within 300 ms (httpTimeout).`,
          '     fix: the server did not answer within --timeout (httpTimeout): check the network, or allow more time',
          '',
          'Not ready: 1 problem.',
          '',
        ].join('\n'),
      );
    } finally {
      faulty.reset();
    }
  });

  it('reports metadata that is not JSON as discovery_failed', async () => {
    faulty.fault.discovery = { body: '<html>maintenance</html>' };
    try {
      const run = await check(['--issuer', faulty.issuer, '--json']);
      expect(run.status).toBe(1);
      expect(JSON.parse(run.stdout).problems).toEqual([expect.objectContaining({ id: 'discovery_failed', message: expect.stringContaining('did not answer with a JSON object') })]);
      expect(run.stdout).not.toContain('<html>');
    } finally {
      faulty.reset();
    }
  });

  it('reports a PAR endpoint that fails, and a 201 without request_uri', async () => {
    const args = ['--issuer', faulty.issuer, '--client-id', faulty.clientId, '--json'];
    const env = { CLIENT_SECRET: faulty.clientSecret };
    faulty.fault.par = { status: 500, body: '<html>oops</html>' };
    try {
      const failing = JSON.parse((await check(args, env)).stdout);
      expect(failing.problems).toEqual([expect.objectContaining({ id: 'push_refused', message: expect.stringContaining('answered HTTP 500') })]);
      faulty.fault.par = { omit: ['request_uri'] };
      const invalid = JSON.parse((await check(args, env)).stdout);
      expect(invalid.problems).toEqual([expect.objectContaining({ id: 'par_response_invalid' })]);
      faulty.reset();
      expect((await check(args, env)).status).toBe(0);
    } finally {
      faulty.reset();
    }
  });
});

describe('usage errors: exit 2, a message on stderr, nothing on stdout', () => {
  it.each<[string, string[], string]>([
    ['no command', [], 'express-par: a command is needed: check'],
    ['an unknown command', ['doctor'], 'express-par: the only command is check'],
    ['no issuer', ['check'], 'express-par: --issuer (or ISSUER_BASE_URL) is required'],
    ['an unknown option, its value unquoted', ['check', '--issuer', 'https://op.example', '--client-secrt=s3cr3t-typo'], 'express-par: unknown option --client-secrt'],
    ['an option without its value', ['check', '--issuer'], 'express-par: --issuer needs a value'],
    ['a value for a switch', ['check', '--issuer', 'https://op.example', '--json=yes'], 'express-par: --json takes no value'],
    ['a secret and a key', ['check', '--issuer', 'https://op.example', '--client-secret', 's3cr3t', '--client-assertion-key', 'k.pem'], 'express-par: give --client-secret or --client-assertion-key, not both'],
    ['a timeout that is not a number', ['check', '--issuer', 'https://op.example', '--timeout', '5s'], 'express-par: --timeout must be a whole number of milliseconds'],
    ['an http issuer off loopback', ['check', '--issuer', 'http://op.example'], 'express-par: "issuerBaseURL" must use https: (http: is only allowed for loopback hosts such as localhost or 127.0.0.1) (--issuer)'],
    ['an unknown auth method', ['check', '--issuer', 'https://op.example', '--client-id', 'c', '--auth-method', 'magic'], 'express-par: "clientAuthMethod" must be one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none, tls_client_auth, self_signed_tls_client_auth (--auth-method)'],
    ['a certificate without its key', ['check', '--issuer', 'https://op.example', '--tls-cert', 'c.pem'], 'express-par: --tls-cert and --tls-key go together'],
    ['a key file that is not there', ['check', '--issuer', 'https://op.example', '--client-id', 'c', '--client-assertion-key', '/nonexistent/key.pem'], 'express-par: --client-assertion-key: cannot read /nonexistent/key.pem (ENOENT)'],
  ])('%s', async (_name, args, message) => {
    const run = await cli.run(args);
    runs.push(run);
    expect(run).toEqual({ status: 2, stdout: '', stderr: `${message}\nRun "express-par --help" for the options.\n` });
  });

  it('prints the usage with --help (exit 0)', async () => {
    const run = await cli.run(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: express-par check --issuer <url> \[options\]\n/);
    expect(run.stdout).toContain('Exit status: 0 ready, 1 not ready, 2 usage error.');
  });
});

describe('secrets', () => {
  it('never printed a secret, a key or a token in any run of this file', () => {
    expect(runs.length).toBeGreaterThan(15);
    const printed = runs.map((r) => `${r.stdout}${r.stderr}`).join('\n');
    for (const secret of [TEST_CLIENT_SECRET, WRONG_SECRET, faulty.clientSecret, 's3cr3t', 'PRIVATE KEY']) expect(printed).not.toContain(secret);
  });
});
