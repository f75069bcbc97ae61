/**
 * How the client authenticates at the PAR and token endpoints (`clientAuthMethod` and its credentials),
 * checked at start-up: the method's own needs, FAPI 2.0 §5.3.2.1's under profile `fapi2`.
 */
import type { KeyObject } from 'node:crypto';
import { fail, nonEmptyString } from '../core/assert.js';
import type { ResolvedTls } from '../core/model.js';
import type { ClientAuthMethod, ParAuthConfig } from '../core/types.js';
import { isHmacAlg, jwkAlgOf, jwkKidOf, toPrivateKey } from '../crypto/keys.js';
import { TLS_CLIENT_AUTH_METHODS } from '../protocol/mtls.js';
import { signingAlg } from './signing.js';

const AUTH_METHODS: ClientAuthMethod[] = [
  'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none',
  ...TLS_CLIENT_AUTH_METHODS,
];
/** FAPI 2.0 §5.3.2.1: private_key_jwt or mutual TLS. */
const FAPI2_AUTH_METHODS: ClientAuthMethod[] = ['private_key_jwt', ...TLS_CLIENT_AUTH_METHODS];

export interface ResolvedClientAuth {
  method: ClientAuthMethod;
  /** The assertion's algorithm (private_key_jwt, client_secret_jwt). */
  alg?: string;
  /** private_key_jwt: the signing key and its JWK `kid`. */
  key?: KeyObject;
  kid?: string;
}

/**
 * A credential given as `undefined` (`clientSecret: process.env.CLIENT_SECRET` with the variable unset) must
 * not silently make the client public: only an explicit `clientAuthMethod` says it is one.
 */
function checkUnsetCredentials(options: ParAuthConfig, inferred: ClientAuthMethod): void {
  if (options.clientAuthMethod !== undefined || inferred !== 'none') return;
  for (const option of ['clientSecret', 'clientAssertionSigningKey'] as const) {
    if (option in options && options[option] === undefined) {
      fail(
        `"${option}" is undefined (an unset environment variable?): set it, or set clientAuthMethod "none" ` +
          'for a public client',
      );
    }
  }
}

/** `clientAuthMethod`, else private_key_jwt with a signing key, client_secret_basic with a secret, else none. */
function methodOf(options: ParAuthConfig, fapi2: boolean, tls: ResolvedTls | undefined): ClientAuthMethod {
  if (options.clientSecret !== undefined) nonEmptyString(options.clientSecret, 'clientSecret');
  const method: ClientAuthMethod =
    options.clientAuthMethod ??
    (options.clientAssertionSigningKey ? 'private_key_jwt' : options.clientSecret ? 'client_secret_basic' : 'none');
  checkUnsetCredentials(options, method);
  if (!AUTH_METHODS.includes(method)) fail(`"clientAuthMethod" must be one of ${AUTH_METHODS.join(', ')}`);
  if (method === 'none' && options.clientSecret !== undefined) {
    fail('"clientSecret" is set but clientAuthMethod is "none" (a public client has no secret): remove one of them');
  }
  if (method.startsWith('client_secret') && !options.clientSecret) {
    fail(`"clientSecret" is required for clientAuthMethod "${method}"`);
  }
  if (method === 'client_secret_jwt' && Buffer.byteLength(options.clientSecret!) < 32) {
    fail('"clientSecret" must be at least 32 bytes for client_secret_jwt (HS256)');
  }
  if (fapi2 && !FAPI2_AUTH_METHODS.includes(method)) {
    fail(
      '"clientAuthMethod" must be "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth" ' +
        'under profile "fapi2" (FAPI 2.0 §5.3.2.1)',
    );
  }
  // RFC 8705 §2: the TLS connection is the client authentication, so it needs a certificate.
  if ((TLS_CLIENT_AUTH_METHODS as readonly string[]).includes(method) && !tls) {
    fail(`"tls" (a client certificate and key) is required for clientAuthMethod "${method}"`);
  }
  return method;
}

/** Every method but private_key_jwt: no signing key; an assertion algorithm only for client_secret_jwt (HMAC). */
function withoutSigningKey(options: ParAuthConfig, method: ClientAuthMethod): ResolvedClientAuth {
  if (options.clientAssertionSigningKey !== undefined) {
    fail(`"clientAssertionSigningKey" is only used with clientAuthMethod "private_key_jwt" (got "${method}")`);
  }
  const alg = options.clientAssertionSigningAlg;
  if (alg !== undefined && !(method === 'client_secret_jwt' && isHmacAlg(alg))) {
    const why =
      method === 'client_secret_jwt'
        ? 'must be HS256, HS384 or HS512 for client_secret_jwt'
        : `is not used with clientAuthMethod "${method}"`;
    fail(`"clientAssertionSigningAlg" ${why}`);
  }
  return { method, alg: method === 'client_secret_jwt' ? (alg ?? 'HS256') : undefined };
}

/** The client authentication method and its credentials; a TypeError naming the option on any mistake. */
export function resolveClientAuth(
  options: ParAuthConfig,
  fapi2: boolean,
  tls: ResolvedTls | undefined,
): ResolvedClientAuth {
  const method = methodOf(options, fapi2, tls);
  if (method !== 'private_key_jwt') return withoutSigningKey(options, method);
  if (options.clientAssertionSigningKey === undefined) {
    fail('"clientAssertionSigningKey" is required for clientAuthMethod "private_key_jwt"');
  }
  const key = toPrivateKey(options.clientAssertionSigningKey, 'clientAssertionSigningKey');
  const requested = options.clientAssertionSigningAlg ?? jwkAlgOf(options.clientAssertionSigningKey);
  const alg = signingAlg(key, requested, 'clientAssertionSigningAlg', fapi2, 'clientAssertionSigningKey');
  return { method, key, alg, kid: jwkKidOf(options.clientAssertionSigningKey) };
}
