/**
 * The `tls` option (RFC 8705: a client certificate, its key and extra trusted roots), checked at start-up,
 * and the keep-alive agent that presents the certificate on every connection to the authorization server.
 * Key and certificate material never reaches a message or a log.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import * as nodeTls from 'node:tls';
import { fail } from '../core/assert.js';
import type { ResolvedTls } from '../core/model.js';
import type { TlsOptions } from '../core/types.js';
import { clientCertificateAgent } from '../net/agent.js';

const TLS_KEYS = new Set(['cert', 'key', 'ca']);

function pemText(value: unknown, option: string, kind: string): string {
  const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  if (text === undefined || !text.includes('-----BEGIN ')) {
    fail(`"${option}" must be ${kind} in PEM form (a string or Buffer)`);
  }
  return text;
}

function certificate(value: unknown, option: string): X509Certificate {
  const text = pemText(value, option, 'a certificate');
  try {
    return new X509Certificate(text);
  } catch {
    // Never echo the input: say what is wrong, not what was given.
    return fail(`"${option}" must be a certificate in PEM form (-----BEGIN CERTIFICATE-----)`);
  }
}

function privateKey(value: unknown): KeyObject {
  const text = pemText(value, 'tls.key', 'a private key');
  try {
    return createPrivateKey(text);
  } catch {
    return fail('"tls.key" must be an unencrypted private key in PEM form (PKCS#8, PKCS#1 or SEC1)');
  }
}

/** Each PEM certificate in `value` (a string, a Buffer, or an array of them); throws naming `tls.ca`. */
function caCertificates(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fail('"tls.ca" must hold at least one certificate in PEM form');
  const out: string[] = [];
  for (const item of list) {
    const text = pemText(item, 'tls.ca', 'one or more certificates');
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!blocks) fail('"tls.ca" must hold certificates in PEM form (-----BEGIN CERTIFICATE-----)');
    for (const block of blocks) {
      certificate(block, 'tls.ca');
      out.push(block);
    }
  }
  return out;
}

/** The roots Node trusts by default: with NODE_EXTRA_CA_CERTS where Node can say so (22.15+), else its bundle. */
function defaultRoots(): readonly string[] {
  const getCACertificates = (nodeTls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  return getCACertificates ? getCACertificates('default') : nodeTls.rootCertificates;
}

/**
 * Checks the `tls` option and builds its agent; throws a `TypeError` naming `tls` (never quoting it) when
 * the certificate or key is not PEM, or the key is not the certificate's.
 */
export function resolveTls(value: unknown): ResolvedTls | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('"tls" must be an object { cert, key, ca? } of PEM strings or Buffers');
  }
  for (const key of Object.keys(value)) {
    if (!TLS_KEYS.has(key)) fail(`"tls.${key}" is not an express-par option (tls takes cert, key and ca)`);
  }
  const options = value as Partial<TlsOptions>;
  if (options.cert === undefined) fail('"tls.cert" is required: the client certificate in PEM form');
  if (options.key === undefined) fail('"tls.key" is required: the private key of "tls.cert" in PEM form');
  const cert = certificate(options.cert, 'tls.cert');
  const key = privateKey(options.key);
  if (!cert.checkPrivateKey(key)) fail('"tls.key" does not match "tls.cert": give the private key of that certificate');
  // Node's `ca` replaces the default roots; the contract adds to them.
  const ca = options.ca === undefined ? undefined : [...defaultRoots(), ...caCertificates(options.ca)];
  const agent = clientCertificateAgent({ cert: options.cert, key: options.key, ...(ca ? { ca } : {}) });
  return {
    agent,
    x5tS256: Buffer.from(cert.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'),
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
  };
}
