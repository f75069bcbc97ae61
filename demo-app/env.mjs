/**
 * Reads the demo's settings from the environment and from `demo-app/.env` (simple KEY=VALUE lines;
 * `#` comments; optional single or double quotes). Variables already in the environment win.
 */
import { readFileSync } from 'node:fs';

/** Parses KEY=VALUE lines. */
export function parseEnv(text) {
  const out = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2];
    else value = value.replace(/\s+#.*$/, '');
    out[match[1]] = value;
  }
  return out;
}

/** The environment merged over the .env file at `path` (missing file: environment only). */
export function loadSettings(path, env = process.env) {
  let fromFile = {};
  try {
    fromFile = parseEnv(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  return { ...fromFile, ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) };
}

/** The external provider, when ISSUER_BASE_URL, CLIENT_ID and CLIENT_SECRET are all set. */
export function providerFrom(settings) {
  const { ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET, AUDIENCE, CLIENT_AUTH_METHOD } = settings;
  const given = [ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET].filter(Boolean).length;
  if (given === 0) return undefined;
  if (given < 3) throw new Error('Set all of ISSUER_BASE_URL, CLIENT_ID and CLIENT_SECRET to use your own provider, or none of them to use the embedded one.');
  return {
    issuerBaseURL: ISSUER_BASE_URL,
    clientID: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...(AUDIENCE ? { audience: AUDIENCE } : {}),
    ...(CLIENT_AUTH_METHOD ? { clientAuthMethod: CLIENT_AUTH_METHOD } : {}),
  };
}
