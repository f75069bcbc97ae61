/**
 * The one way express-par talks to the authorization server: `node:http(s)` with keep-alive agents, a
 * whole-request deadline (`httpTimeout`), a response size cap, no redirects followed, and a user-agent.
 * Everything the library asks the server (metadata, JWKS, PAR, token, userinfo) goes through `request()`;
 * `req.oidc.fetch()` calls the app's own APIs with global fetch (express/resource-fetch.ts).
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
  /**
   * Values the request sent that must never be quoted back in an error (set by the endpoint call, which lists
   * them only when asked).
   */
  redact?: readonly string[] | (() => readonly string[]);
}

/** Where a request goes and what it sends, worked out once. */
interface Target {
  url: URL;
  /** Origin and path, for messages and logs (never the query). */
  where: string;
  agent: http.Agent;
  headers: Record<string, string>;
  body: string | undefined;
  maxBytes: number;
}

function targetOf(req: HttpRequest): Target {
  const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  const agent = (url.protocol === 'https:' && req.agent) || sharedAgents[url.protocol as 'http:' | 'https:'];
  const body = req.form?.toString();
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT, ...req.headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const maxBytes = req.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return { url, where: `${url.origin}${url.pathname}`, agent, headers, body, maxBytes };
}

/** Sends one request and reads the whole (capped) body, or rejects with a ParError (502/504). */
export function request(req: HttpRequest): Promise<HttpResponse> {
  const target = targetOf(req);
  log('%s %s (%s)', req.method, target.where, req.step);
  return new Promise<HttpResponse>((resolve, reject) => {
    new Exchange(req, target, resolve, reject); // sends at once
  });
}

/**
 * One request and its answer, settled once: the deadline covers both (and a retry), a kept-alive
 * connection the server had closed is retried once, and the body is capped.
 */
class Exchange {
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private outgoing: http.ClientRequest;

  constructor(
    private readonly req: HttpRequest,
    private readonly target: Target,
    private readonly resolve: (res: HttpResponse) => void,
    private readonly reject: (err: ParError) => void,
  ) {
    this.timer = setTimeout(() => this.timeOut(), req.timeout);
    this.timer.unref?.();
    this.outgoing = this.send(false);
  }

  private finish(err: ParError | null, res?: HttpResponse): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (err) {
      log('%s %s failed: %s', this.req.method, this.target.where, err.code);
      this.reject(err);
    } else {
      this.resolve(res!);
    }
  }

  private timeOut(): void {
    const { req, target } = this;
    const message = `The ${req.step} (${target.where}) did not answer within ${req.timeout} ms (httpTimeout).`;
    this.finish(new UpstreamTimeoutError(message));
    this.outgoing.destroy();
  }

  private send(retry: boolean): http.ClientRequest {
    const { req, target } = this;
    const transport = target.url.protocol === 'https:' ? https : http;
    const current = transport.request(target.url, { method: req.method, headers: target.headers, agent: target.agent });
    let answered = false;
    current.on('error', (cause) => {
      const code = (cause as NodeJS.ErrnoException).code;
      // A pooled connection the server had already closed: the request never reached it. Send it once
      // more on a fresh connection, within the same deadline (Node's documented `reusedSocket` retry).
      const stale = current.reusedSocket && code !== undefined && STALE_SOCKET_ERRORS.has(code);
      if (!retry && !answered && !this.settled && stale) {
        log('%s %s: kept-alive connection was closed (%s), retrying once', req.method, target.where, code);
        this.outgoing = this.send(true);
        return;
      }
      this.finish(this.failure(current, cause, code));
    });
    current.on('response', (incoming) => {
      answered = true;
      this.receive(current, incoming);
    });
    current.end(target.body);
    return current;
  }

  /** A TLS failure told as such (net/tls-failure.ts), else the server could not be reached. */
  private failure(current: http.ClientRequest, cause: Error, code: string | undefined): UpstreamError {
    const { req, target } = this;
    const connection = {
      socket: current.socket as TLSSocket | null,
      reusedSocket: current.reusedSocket,
      clientCert: target.agent === req.agent,
      step: req.step,
      where: target.where,
    };
    const message = `Could not reach the ${req.step} (${target.where}): ${safeText(code ?? cause.message, 200)}.`;
    return tlsFailure(cause, connection) ?? new UpstreamError('upstream_unreachable', message, { cause });
  }

  private receive(current: http.ClientRequest, incoming: http.IncomingMessage): void {
    const { req, target } = this;
    const tooLarge = () => {
      const message = `The ${req.step} (${target.where}) sent more than ${target.maxBytes} bytes.`;
      this.finish(new UpstreamError('upstream_response_too_large', message));
      incoming.destroy();
      current.destroy();
    };
    const declared = Number(incoming.headers['content-length']);
    if (Number.isFinite(declared) && declared > target.maxBytes) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > target.maxBytes) return tooLarge();
      chunks.push(chunk);
    });
    incoming.on('error', (cause) => {
      const message = `The ${req.step} (${target.where}) closed the connection mid-response.`;
      this.finish(new UpstreamError('upstream_unreachable', message, { cause }));
    });
    incoming.on('end', () => {
      log('%s %s -> %d (%d bytes)', req.method, target.where, incoming.statusCode, size);
      const body = Buffer.concat(chunks).toString('utf8');
      this.finish(null, { status: incoming.statusCode ?? 0, headers: incoming.headers, body });
    });
  }
}

/** Parses a JSON object body; anything else (HTML, arrays, garbage) is `undefined`. */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    const plain = value !== null && typeof value === 'object' && !Array.isArray(value);
    return plain ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
