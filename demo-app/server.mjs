/**
 * `npm run demo`: builds express-par, then runs this. It imports the package by its own name, as an
 * application would (Node resolves a package's own name through its `exports`).
 *
 *   PORT=3000  BASE_URL=http://localhost:3000  DEMO_MODE=express|passport  HOST (default: all interfaces)
 *   ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET, AUDIENCE, CLIENT_AUTH_METHOD: your provider (else embedded)
 *   PROVIDER_PORT: the embedded provider's port (default: a free one)  SESSION_SECRET (default: random)
 *   DEMO_SILENT_LOGIN=1: try a silent (prompt=none) sign-in on the landing page, once per session (express mode)
 * Variables may also be set in demo-app/.env (see .env.example); the environment wins.
 */
import { fileURLToPath } from 'node:url';
import * as lib from 'express-par';
import { startDemo } from './app.mjs';
import { loadSettings, providerFrom } from './env.mjs';

const settings = loadSettings(fileURLToPath(new URL('.env', import.meta.url)));
const mode = settings.DEMO_MODE ?? 'express';

async function main() {
  const provider = providerFrom(settings);
  const passportLib = mode === 'passport' ? await import('express-par/passport') : undefined;
  const demo = await startDemo({
    lib,
    passportLib,
    mode,
    port: settings.PORT ? Number(settings.PORT) : 3000,
    host: settings.HOST,
    baseURL: settings.BASE_URL,
    provider,
    providerPort: settings.PROVIDER_PORT ? Number(settings.PROVIDER_PORT) : 0,
    sessionSecret: settings.SESSION_SECRET,
    silentLogin: settings.DEMO_SILENT_LOGIN === '1',
    log: (line) => console.log(line),
  });
  const source = demo.embedded ? `embedded provider at ${demo.issuer} (any user name and password work)` : demo.issuer;
  console.log(`\nexpress-par demo (${mode} mode) with ${source}\n\n  Open ${demo.url}\n`);

  const stop = () => demo.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(`The demo could not start: ${err.message}`);
  process.exit(1);
});
