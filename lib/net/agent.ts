/**
 * The keep-alive agents express-par talks to the authorization server through, their options written
 * once: the shared agents of every request, and the agent of a `tls` option, which presents the client
 * certificate (RFC 8705) on each of its connections.
 */
import http from 'node:http';
import https from 'node:https';
import type { PemInput } from '../core/types.js';

// `timeout` closes idle pooled sockets; it also makes Node honour the server's `Keep-Alive: timeout=N`
// hint (closing a second early), so we rarely reuse a connection the server is about to drop.
const KEEP_ALIVE = { keepAlive: true, maxSockets: 64, keepAliveMsecs: 1000, timeout: 30_000 } as const;

/** The agents of requests that present no client certificate, by protocol. */
export const sharedAgents = {
  'http:': new http.Agent(KEEP_ALIVE),
  'https:': new https.Agent(KEEP_ALIVE),
};

/** A keep-alive agent presenting `cert` and `key`; `ca`, when given, is the whole list of trusted roots. */
export function clientCertificateAgent(tls: { cert: PemInput; key: PemInput; ca?: readonly string[] }): https.Agent {
  return new https.Agent({ ...KEEP_ALIVE, cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: [...tls.ca] } : {}) });
}
