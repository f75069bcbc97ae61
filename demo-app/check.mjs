/**
 * `npm run demo:check`: builds express-par, then runs `express-par check` (the provider doctor) against the
 * provider in demo-app/.env or the environment, with the demo's settings as its flags (AUDIENCE,
 * CLIENT_AUTH_METHOD, BASE_URL or PORT). Run it before `npm run demo`: it says what the tenant lacks, each
 * with its fix, and proves the client's credentials with one pushed request. The secret goes to the command
 * through its environment, never its arguments.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadSettings } from './env.mjs';

/** The `express-par check` arguments for the demo's settings (without the secret). */
export function checkArguments(settings) {
  const { ISSUER_BASE_URL, CLIENT_ID, AUDIENCE, CLIENT_AUTH_METHOD, BASE_URL, PORT } = settings;
  return [
    'check',
    ...(ISSUER_BASE_URL ? ['--issuer', ISSUER_BASE_URL] : []),
    ...(CLIENT_ID ? ['--client-id', CLIENT_ID] : []),
    ...(AUDIENCE ? ['--audience', AUDIENCE] : []),
    ...(CLIENT_AUTH_METHOD ? ['--auth-method', CLIENT_AUTH_METHOD] : []),
    '--base-url',
    BASE_URL ?? `http://localhost:${PORT ?? 3000}`,
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const settings = loadSettings(fileURLToPath(new URL('.env', import.meta.url)));
  if (!settings.ISSUER_BASE_URL) {
    console.error('Set ISSUER_BASE_URL, CLIENT_ID and CLIENT_SECRET in demo-app/.env first (see demo-app/.env.example).');
    process.exit(2);
  }
  const bin = fileURLToPath(new URL('../dist/esm/cli/main.js', import.meta.url));
  const env = { ...process.env, ...(settings.CLIENT_SECRET ? { CLIENT_SECRET: settings.CLIENT_SECRET } : {}) };
  const run = spawnSync(process.execPath, [bin, ...checkArguments(settings), ...process.argv.slice(2)], { stdio: 'inherit', env });
  process.exit(run.status ?? 1);
}
