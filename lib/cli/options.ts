/**
 * What `express-par check` was given, as the options parAuth() would take: the same resolveConfig() checks
 * them, and a mistake is a usage error naming the flag. Key and certificate files are read here; their
 * content never reaches a message.
 */
import { readFile } from 'node:fs/promises';
import type { ClientAuthMethod, ParAuthConfig } from '../core/types.js';
import { UsageError, type CheckArgs } from './args.js';

/**
 * Without a client only the metadata is checked, for the method asked (default client_secret_basic): a
 * secret methods needs a secret, so it gets a placeholder, never sent (nothing is pushed without a client).
 */
function noClient(method: string | undefined): Pick<ParAuthConfig, 'clientID' | 'clientSecret'> {
  const placeholder = method === undefined || method.startsWith('client_secret');
  return { clientID: 'express-par-check', ...(placeholder ? { clientSecret: 'never-sent-'.padEnd(32, '0') } : {}) };
}

/** Each option that can go wrong, and the flag it comes from. */
const FLAGS: Array<[option: string, flag: string]> = [
  ['issuerBaseURL', '--issuer'], ['baseURL', '--base-url'], ['clientID', '--client-id'],
  ['clientSecret', '--client-secret'], ['clientAssertionSigningKey', '--client-assertion-key'],
  ['clientAssertionSigningAlg', '--client-assertion-key'], ['clientAuthMethod', '--auth-method'],
  ['httpTimeout', '--timeout'], ['routes.callback', '--callback'], ['tls.cert', '--tls-cert'],
  ['tls.key', '--tls-key'], ['tls.ca', '--tls-ca'], ['dpop', '--dpop'], ['authorizationParams', '--audience'],
];

/** resolveConfig's TypeError, with the flag beside the option it names. */
export function usageFromTypeError(err: TypeError): UsageError {
  const flags = FLAGS.filter(([option]) => err.message.includes(`"${option}"`)).map(([, flag]) => flag);
  const unique = [...new Set(flags)];
  return new UsageError(unique.length > 0 ? `${err.message} (${unique.join(', ')})` : err.message);
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path} (${(err as { code?: string }).code ?? 'error'})`);
  }
}

/** A PEM string, or a JWK read from JSON. */
async function readKey(path: string): Promise<string | Record<string, unknown>> {
  const text = await readText(path, '--client-assertion-key');
  if (!text.trimStart().startsWith('{')) return text;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new UsageError('--client-assertion-key: the file is neither a PEM key nor a JWK (JSON)');
  }
}

function timeoutOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError('--timeout must be a whole number of milliseconds');
  return Number(value);
}

async function tlsOf(args: CheckArgs): Promise<ParAuthConfig['tls']> {
  if (!args.tlsCertFile || !args.tlsKeyFile) return undefined;
  const [cert, key, ca] = await Promise.all([
    readText(args.tlsCertFile, '--tls-cert'),
    readText(args.tlsKeyFile, '--tls-key'),
    args.tlsCaFile ? readText(args.tlsCaFile, '--tls-ca') : undefined,
  ]);
  return { cert, key, ...(ca ? { ca } : {}) };
}

/** The options to check; `client` is false when no client was given (nothing is pushed then). */
export async function configOf(args: CheckArgs): Promise<{ options: ParAuthConfig; client: boolean }> {
  const key = args.clientAssertionKeyFile ? await readKey(args.clientAssertionKeyFile) : undefined;
  const tls = await tlsOf(args);
  const timeout = timeoutOf(args.timeout);
  const client = args.clientId !== undefined;
  const credentials = client
    ? {
        clientID: args.clientId!,
        ...(args.clientSecret !== undefined ? { clientSecret: args.clientSecret } : {}),
        ...(key !== undefined ? { clientAssertionSigningKey: key } : {}),
      }
    : noClient(args.authMethod);
  const options: ParAuthConfig = {
    issuerBaseURL: args.issuer,
    baseURL: args.baseUrl,
    ...credentials,
    // resolveConfig checks the method: any string is passed on.
    ...(args.authMethod !== undefined ? { clientAuthMethod: args.authMethod as ClientAuthMethod } : {}),
    ...(args.dpop ? { dpop: true } : {}),
    ...(tls ? { tls } : {}),
    ...(timeout !== undefined ? { httpTimeout: timeout } : {}),
    ...(args.callback !== undefined ? { routes: { callback: args.callback } } : {}),
    ...(args.audience !== undefined ? { authorizationParams: { audience: args.audience } } : {}),
  };
  return { options, client };
}
