/**
 * lib/net/http.ts and kept-alive connections: a pooled connection that the server drops just as it is reused
 * (its keep-alive timeout racing our next request) must not cost a login. The request is sent once more on a
 * fresh connection; a failure on a fresh connection is not retried, and a retry is never retried.
 * A raw TCP server plays the HTTP server so the reset is exact.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { request } from '../lib/net/http.js';

interface RawServer {
  url: string;
  connections: number;
  requests: number;
  resets: number;
  close(): Promise<void>;
}

const servers: RawServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** `reset(n, i)`: whether to reset (RST, no answer) the i-th request (0-based) of the n-th connection (0-based). */
async function rawServer(reset: (connection: number, index: number) => boolean): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: 0, resets: 0 };
  const server = net.createServer((socket) => {
    const connection = state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let seen = 0;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      const starts = buffered.match(/(GET|POST) \/\S* HTTP\/1\.1\r\n/g)?.length ?? 0;
      while (seen < starts) {
        const index = seen++;
        state.requests++;
        if (reset(connection, index)) {
          state.resets++;
          socket.resetAndDestroy();
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: keep-alive\r\n\r\n{"ok":true}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/token`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  });
}

const post = (url: string) => request({ method: 'POST', url, form: new URLSearchParams({ grant_type: 'authorization_code' }), timeout: 2000, step: 'token endpoint' });
/** Lets the finished response hand its socket back to the agent's pool. */
const pooled = () => new Promise((resolve) => setImmediate(resolve));

describe('a kept-alive connection the server has dropped', () => {
  it('is retried once on a fresh connection, so the request still succeeds', async () => {
    const server = await rawServer((connection, index) => connection === 0 && index === 1);
    servers.push(server);
    expect((await post(server.url)).status).toBe(200);
    await pooled();
    const second = await post(server.url);
    expect(second.status).toBe(200);
    expect(second.body).toBe('{"ok":true}');
    expect({ connections: server.connections, requests: server.requests, resets: server.resets }).toEqual({ connections: 2, requests: 3, resets: 1 });
  });

  it('is retried only once: a reset on the fresh connection too is upstream_unreachable', async () => {
    const server = await rawServer((connection, index) => connection > 0 || index > 0);
    servers.push(server);
    expect((await post(server.url)).status).toBe(200);
    await pooled();
    await expect(post(server.url)).rejects.toMatchObject({ code: 'upstream_unreachable', status: 502 });
    expect({ connections: server.connections, requests: server.requests, resets: server.resets }).toEqual({ connections: 2, requests: 3, resets: 2 });
  });
});

it('does not retry a reset on a fresh connection (the server may have seen the request)', async () => {
  const server = await rawServer(() => true);
  servers.push(server);
  await expect(post(server.url)).rejects.toMatchObject({ code: 'upstream_unreachable', status: 502 });
  expect({ connections: server.connections, requests: server.requests }).toEqual({ connections: 1, requests: 1 });
});
