/**
 * DPoP (RFC 9449): a key per session (or one configured key), proofs for the PAR, token and resource
 * requests, and the server-provided nonces (§8) remembered per origin.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { randomToken } from './pkce.js';

/** A key jose can sign with. */
export type SigningKey = Parameters<SignJWT['sign']>[0];

export interface DpopKey {
  privateKey: SigningKey;
  publicJwk: JWK;
  alg: string;
}

/** A fresh ES256 key: the private JWK to keep in the session, and the key ready to sign with. */
export async function generateDpopKey(): Promise<{ jwk: JWK; key: DpopKey }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), alg: 'ES256' };
  return { jwk, key: { privateKey, publicJwk: publicPart(jwk), alg: 'ES256' } };
}

export async function dpopKeyFromJwk(jwk: JWK): Promise<DpopKey> {
  const alg = jwk.alg ?? 'ES256';
  const privateKey = (await importJWK(jwk, alg)) as SigningKey;
  return { privateKey, publicJwk: publicPart(jwk), alg };
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, alg: _alg, key_ops: _ops, ext: _ext, ...publicJwk } = jwk;
  return publicJwk;
}

export function dpopKeyFromKeyObject(key: KeyObject, alg: string): DpopKey {
  const publicJwk = createPublicKey(key).export({ format: 'jwk' }) as JWK;
  return { privateKey: key, publicJwk, alg };
}

/** RFC 9449 §10: `dpop_jkt` is the JWK SHA-256 thumbprint (RFC 7638) of the public key. */
export function thumbprint(key: DpopKey): Promise<string> {
  return calculateJwkThumbprint(key.publicJwk, 'sha256');
}

/** RFC 9449 §4.2: `typ: dpop+jwt`, asymmetric alg, public `jwk`; `jti`, `htm`, `htu` (no query or fragment), `iat`. */
export async function createProof(key: DpopKey, htm: string, htu: string | URL, opts: { nonce?: string; accessToken?: string } = {}): Promise<string> {
  const url = new URL(htu);
  url.search = '';
  url.hash = '';
  const claims: Record<string, unknown> = { jti: randomToken(16), htm, htu: url.href };
  if (opts.nonce) claims.nonce = opts.nonce;
  // RFC 9449 §4.2: `ath` = base64url(SHA-256(access token)) on resource requests.
  if (opts.accessToken) claims.ath = createHash('sha256').update(opts.accessToken, 'ascii').digest('base64url');
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

/** Latest `DPoP-Nonce` per origin (RFC 9449 §8: servers may require and rotate them). */
export class DpopNonces {
  private readonly nonces = new Map<string, string>();
  get(url: string | URL): string | undefined {
    return this.nonces.get(new URL(url).origin);
  }
  remember(url: string | URL, headers: Record<string, string | string[] | undefined>): void {
    const nonce = headers['dpop-nonce'];
    if (typeof nonce === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/.test(nonce)) this.nonces.set(new URL(url).origin, nonce);
  }
}
