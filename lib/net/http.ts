/**
 * The one way express-par talks to the authorization server: `node:http(s)` with keep-alive agents, a
 * whole-request deadline (`httpTimeout`), a response size cap, no redirects followed, and a user-agent.
 * Everything the library fetches (metadata, PAR, token, JWKS) goes through `request()`.
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ParError, safeText, UpstreamError, UpstreamTimeoutError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { sharedAgents } from './agent.js';
import { tlsFailure } from './tls-failure.js';

const log = createLogger('http');

export const USER_AGENT = 'express-par/0.1 (+https://www.npmjs.com/package/express-par)';
/** Largest response body read from the authorization server (JSON documents are small). */
export const DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024;

/** Errors of a kept-alive connection the server closed just as we reused it (nothing was answered). */
const STALE_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * How every request of one configuration reaches the authorization server: made once from the options
 * (engine/context.ts) and handed down to each step that calls the server.
 */
export interface Transport {
  /** The whole-request deadline in ms (`httpTimeout`). */
  timeout: number;
  /** For https: URLs, the agent with the client certificate (`tls` option, RFC 8705); else the shared one. */
  agent?: https.Agent;
}

export interface HttpRequest extends Transport {
  method: 'GET' | 'POST';
  url: string | URL;
  headers?: Record<string, string>;
  /** Form body, sent as application/x-www-form-urlencoded. */
  form?: URLSearchParams;
  maxBytes?: number;
  /** Protocol step, for messages and logs (e.g. `PAR endpoint`). */
  step: string;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Values the request sent that must never be quoted back in an error (set by the endpoint call, which lists them only when asked). */
  redact?: readonly string[] | (() => readonly string[]);
}

/** Sends one request and reads the whole (capped) body, or rejects with a ParError (502/504). */
export function request(req: HttpRequest): Promise<HttpResponse> {
  const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  const transport = url.protocol === 'https:' ? https : http;
  const agent = (url.protocol === 'https:' && req.agent) || sharedAgents[url.protocol as 'http:' | 'https:'];
  const body = req.form?.toString();
  const maxBytes = req.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': USER_AGENT,
    ...req.headers,
  };
  if (body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const where = `${url.origin}${url.pathname}`;
  log('%s %s (%s)', req.method, where, req.step);

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: ParError | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        log('%s %s failed: %s', req.method, where, err.code);
        reject(err);
      } else {
        resolve(res!);
      }
    };
    const timer = setTimeout(() => {
      finish(new UpstreamTimeoutError(`The ${req.step} (${where}) did not answer within ${req.timeout} ms (httpTimeout).`));
      outgoing.destroy();
    }, req.timeout);
    timer.unref?.();
    let outgoing = send(false);

    function send(retry: boolean): http.ClientRequest {
      const current = transport.request(url, { method: req.method, headers, agent });
      let answered = false;
      current.on('error', (cause) => {
        const code = (cause as NodeJS.ErrnoException).code;
        // A pooled connection the server had already closed: the request never reached it. Send it once
        // more on a fresh connection, within the same deadline (Node's documented `reusedSocket` retry).
        if (!retry && !answered && !settled && current.reusedSocket && code !== undefined && STALE_SOCKET_ERRORS.has(code)) {
          log('%s %s: kept-alive connection was closed (%s), retrying once', req.method, where, code);
          outgoing = send(true);
          return;
        }
        const tls = tlsFailure(cause, { socket: current.socket as TLSSocket | null, reusedSocket: current.reusedSocket, clientCert: agent === req.agent, step: req.step, where });
        finish(tls ?? new UpstreamError('upstream_unreachable', `Could not reach the ${req.step} (${where}): ${safeText(code ?? cause.message, 200)}.`, { cause }));
      });
      current.on('response', (incoming) => {
        answered = true;
        receive(current, incoming);
      });
      current.end(body);
      return current;
    }

    function receive(current: http.ClientRequest, incoming: http.IncomingMessage): void {
      const declared = Number(incoming.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish(tooLarge(req.step, where, maxBytes));
        incoming.destroy();
        current.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          finish(tooLarge(req.step, where, maxBytes));
          incoming.destroy();
          current.destroy();
          return;
        }
        chunks.push(chunk);
      });
      incoming.on('error', (cause) => {
        finish(new UpstreamError('upstream_unreachable', `The ${req.step} (${where}) closed the connection mid-response.`, { cause }));
      });
      incoming.on('end', () => {
        log('%s %s -> %d (%d bytes)', req.method, where, incoming.statusCode, size);
        finish(null, { status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    }
  });
}

function tooLarge(step: string, where: string, maxBytes: number): UpstreamError {
  return new UpstreamError('upstream_response_too_large', `The ${step} (${where}) sent more than ${maxBytes} bytes.`);
}

/** Parses a JSON object body; anything else (HTML, arrays, garbage) is `undefined`. */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
