/**
 * X.509 certificates made at test time with the `openssl` command, in a temporary directory that is
 * removed once they are read: a CA for the authorization server's TLS certificate (valid for localhost
 * and 127.0.0.1), a CA that issues client certificates (tls_client_auth), self-signed client
 * certificates (self_signed_tls_client_auth), and an expired one. EC P-256 keys: quick to make.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertAndKey {
  cert: string;
  key: string;
}

export interface TestCertificates {
  /** Root that signed the server certificate: what a client needs in `tls.ca`. */
  serverCa: string;
  /** The authorization server's certificate (SAN localhost, 127.0.0.1) and key. */
  server: CertAndKey;
  /** Root that the alias host trusts for client certificates (tls_client_auth). */
  clientCa: string;
  /** Issued by clientCa, subject `CN=mtls-client`. */
  client: CertAndKey;
  /** Self-signed, subject `CN=self-signed-client` (self_signed_tls_client_auth). */
  selfSigned: CertAndKey;
  /** Another self-signed certificate, registered nowhere. */
  stranger: CertAndKey;
  /** Self-signed, valid in January 2020 only. */
  expired: CertAndKey;
}

/** RFC 8705 §3.1: base64url SHA-256 of the DER certificate. */
export function x5tS256(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
}

/** The base64 DER of a PEM certificate, as a JWK `x5c` entry. */
export function derBase64(pem: string): string {
  return new X509Certificate(pem).raw.toString('base64');
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'express-par-certs-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  const newKey = (name: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  const selfSigned = (name: string, subject: string, ...extra: string[]) => {
    newKey(name);
    openssl('req', '-x509', '-new', '-key', `${name}.key`, '-subj', subject, '-days', '30', '-sha256', '-out', `${name}.pem`, ...extra);
    return { cert: read(`${name}.pem`), key: read(`${name}.key`) };
  };
  const issue = (name: string, subject: string, ca: string, extensions: string) => {
    newKey(name);
    openssl('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '30', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
    return { cert: read(`${name}.pem`), key: read(`${name}.key`) };
  };
  try {
    const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
    const serverCa = selfSigned('server-ca', '/CN=express-par test server CA', ...caExt);
    const server = issue('server', '/CN=localhost', 'server-ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    const clientCa = selfSigned('client-ca', '/CN=express-par test client CA', ...caExt);
    const client = issue('client', '/CN=mtls-client', 'client-ca', 'extendedKeyUsage=clientAuth\n');
    return {
      serverCa: serverCa.cert,
      server,
      clientCa: clientCa.cert,
      client,
      selfSigned: selfSigned('self-signed', '/CN=self-signed-client'),
      stranger: selfSigned('stranger', '/CN=stranger'),
      expired: expiredCertificate(dir, openssl, read),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `openssl ca` is the one subcommand of OpenSSL 3.0 that takes explicit start and end dates. */
function expiredCertificate(dir: string, openssl: (...args: string[]) => Buffer, read: (name: string) => string): CertAndKey {
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'expired.key');
  openssl('req', '-new', '-key', 'expired.key', '-subj', '/CN=expired-client', '-out', 'expired.csr');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    ['[ca]', 'default_ca = local', '[local]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir', 'serial = $dir/serial', 'default_md = sha256', 'policy = any', '[any]', 'commonName = supplied', ''].join('\n'),
  );
  openssl('ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'expired.key', '-in', 'expired.csr', '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-notext', '-out', 'expired.pem');
  return { cert: read('expired.pem'), key: read('expired.key') };
}
