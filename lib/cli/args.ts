/**
 * The command line of `express-par check`, pure: the arguments and the environment (ISSUER_BASE_URL,
 * CLIENT_ID, CLIENT_SECRET, BASE_URL) to what to check, or a usage error. A usage error never quotes what
 * was typed after a flag: it may be a secret.
 */
import { parseArgs } from 'node:util';

/** What the command was asked to check. Files are paths, read by options.ts. */
export interface CheckArgs {
  issuer: string;
  clientId?: string;
  clientSecret?: string;
  clientAssertionKeyFile?: string;
  authMethod?: string;
  dpop: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsCaFile?: string;
  baseUrl: string;
  callback?: string;
  audience?: string;
  timeout?: string;
  json: boolean;
}

export type Parsed = { help: true } | { help: false; args: CheckArgs };

/** A mistake on the command line: exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const DEFAULT_BASE_URL = 'http://localhost:3000';

export const USAGE = `Usage: express-par check --issuer <url> [options]

Reads the provider's metadata and lists what express-par needs that it lacks, each with its fix. Given a
client, pushes one authorization request to prove the client authentication (no login follows).

  --issuer <url>                 the issuer, as issuerBaseURL (or ISSUER_BASE_URL)
  --client-id <id>               the client (or CLIENT_ID)
  --client-secret <secret>       its secret (or CLIENT_SECRET: prefer the variable, a flag shows in ps and history)
  --client-assertion-key <file>  a private key (PEM or JWK) for private_key_jwt
  --auth-method <method>         clientAuthMethod (default: from the credentials)
  --dpop                         the app uses DPoP (dpop: true)
  --tls-cert <file>              mutual TLS: the client certificate (PEM), with --tls-key <file>
  --tls-ca <file>                roots to trust for the server's certificate (PEM)
  --base-url <url>               the app's public URL (or BASE_URL; default ${DEFAULT_BASE_URL})
  --callback <path>              the callback route (default /callback): redirect_uri = base URL + path
  --audience <api>               authorizationParams.audience (Auth0 APIs)
  --timeout <ms>                 httpTimeout (default 5000)
  --json                         print { ok, issuer, problems, warnings } as JSON
  -h, --help                     this text

Exit status: 0 ready, 1 not ready, 2 usage error.
`;

const OPTIONS = {
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'client-assertion-key': { type: 'string' },
  'auth-method': { type: 'string' },
  dpop: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'base-url': { type: 'string' },
  callback: { type: 'string' },
  audience: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

/** parseArgs' own message names the flag and may quote its value: only the flag is kept. */
function usageOf(err: unknown): UsageError {
  const message = err instanceof Error ? err.message : '';
  const code = (err as { code?: string }).code;
  const flag = /'(-{1,2}[A-Za-z][\w-]*)/.exec(message)?.[1] ?? 'an option';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option ${flag}`);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const takesNone = /does not take an argument/.test(message);
    return new UsageError(takesNone ? `${flag} takes no value` : `${flag} needs a value`);
  }
  return new UsageError('the arguments could not be read');
}

/** The arguments and environment to what to check; throws UsageError. */
export function parseCheckArgs(argv: string[], env: Record<string, string | undefined>): Parsed {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw usageOf(err);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals[0] !== 'check') {
    throw new UsageError(positionals.length === 0 ? 'a command is needed: check' : 'the only command is check');
  }
  if (positionals.length > 1) throw new UsageError('check takes no other arguments than options');
  return { help: false, args: checkArgs(values, env) };
}

const given = (value: string | undefined): string | undefined => (value === '' ? undefined : value);

function checkArgs(values: Values, env: Record<string, string | undefined>): CheckArgs {
  const issuer = given(values.issuer) ?? given(env.ISSUER_BASE_URL);
  if (!issuer) throw new UsageError('--issuer (or ISSUER_BASE_URL) is required');
  if (values['client-secret'] !== undefined && values['client-assertion-key'] !== undefined) {
    throw new UsageError('give --client-secret or --client-assertion-key, not both');
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  // CLIENT_SECRET may be set for the app beside a key: the key then says how the client authenticates.
  const envSecret = values['client-assertion-key'] === undefined ? given(env.CLIENT_SECRET) : undefined;
  const optional = {
    clientId: given(values['client-id']) ?? given(env.CLIENT_ID),
    clientSecret: given(values['client-secret']) ?? envSecret,
    clientAssertionKeyFile: values['client-assertion-key'],
    authMethod: values['auth-method'],
    tlsCertFile: values['tls-cert'],
    tlsKeyFile: values['tls-key'],
    tlsCaFile: values['tls-ca'],
    callback: values.callback,
    audience: values.audience,
    timeout: values.timeout,
  };
  const defined = Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined));
  return {
    issuer,
    baseUrl: given(values['base-url']) ?? given(env.BASE_URL) ?? DEFAULT_BASE_URL,
    dpop: values.dpop === true,
    json: values.json === true,
    ...defined,
  };
}
