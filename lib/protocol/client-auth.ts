/**
 * Client authentication at the PAR and token endpoints (RFC 9126 §2: the same as at the token
 * endpoint): `client_secret_basic`, `client_secret_post`, `client_secret_jwt`, `private_key_jwt`
 * (RFC 7523, OpenID Connect Core §9), `none`, and the mutual TLS methods (RFC 8705 §2, where the client
 * certificate on the connection does the work).
 */
import { SignJWT } from 'jose';
import type { ResolvedConfig } from '../core/model.js';
import { randomToken } from '../core/random.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface ClientAuth {
  headers: Record<string, string>;
  params: Record<string, string>;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined for Basic. */
function formEncode(value: string): string {
  const percent = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
  return encodeURIComponent(value).replace(/%20/g, '+').replace(/[!'()*~]/g, percent);
}

/**
 * RFC 7523 §3: `iss` = `sub` = client_id, unique `jti`, short `exp`; RFC 9126 §2: the issuer identifier is
 * an accepted `aud` for PAR and token endpoints alike, so it is what we send.
 */
async function clientAssertion(config: ResolvedConfig, audience: string): Promise<string> {
  const kid = config.clientAssertionKid;
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: config.clientAssertionAlg!, typ: 'JWT', ...(kid ? { kid } : {}) })
    .setIssuer(config.clientID)
    .setSubject(config.clientID)
    .setAudience(audience)
    .setJti(randomToken(16)) // one-time use: servers reject a replayed jti
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('60s');
  if (config.clientAuthMethod === 'client_secret_jwt') return jwt.sign(new TextEncoder().encode(config.clientSecret!));
  return jwt.sign(config.clientAssertionKey!);
}

const basicHeaders = new WeakMap<ResolvedConfig, string>();

/** `Basic base64(id:secret)`, built once per configuration (it is the same for every call). */
function basicAuthorization(config: ResolvedConfig): string {
  let header = basicHeaders.get(config);
  // Stryker disable next-line ConditionalExpression: building it again gives the same header
  if (header === undefined) {
    const credentials = `${formEncode(config.clientID)}:${formEncode(config.clientSecret!)}`;
    header = `Basic ${Buffer.from(credentials).toString('base64')}`;
    // Stryker disable next-line CallExpression: not remembering it only builds it again, the same
    basicHeaders.set(config, header);
  }
  return header;
}

/** Headers and body parameters that authenticate the client; `audience` is the issuer identifier. */
export async function clientAuthentication(config: ResolvedConfig, audience: string): Promise<ClientAuth> {
  switch (config.clientAuthMethod) {
    case 'client_secret_basic':
      return { headers: { authorization: basicAuthorization(config) }, params: {} };
    case 'client_secret_post':
      return { headers: {}, params: { client_id: config.clientID, client_secret: config.clientSecret! } };
    case 'client_secret_jwt':
    case 'private_key_jwt':
      return {
        headers: {},
        params: {
          client_id: config.clientID,
          client_assertion_type: CLIENT_ASSERTION_TYPE,
          client_assertion: await clientAssertion(config, audience),
        },
      };
    // RFC 8705 §2: with mTLS the certificate on the connection authenticates; client_id is still sent.
    case 'none':
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      return { headers: {}, params: { client_id: config.clientID } };
  }
}
