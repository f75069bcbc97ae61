/**
 * A real Redis for the tests: our own `redis-server` child process on a free loopback port, without
 * persistence, that a test can stop (an outage) and start again on the same port; and express-session
 * stores over it (connect-redis with a `redis` v6 client), one per app instance, as in production.
 *
 * No redis-server on the machine is a failure, not a skip: `npm test` starts with scripts/test-needs.mjs, which installs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

export interface TestRedis {
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  readonly running: boolean;
  /** The redis-server process id while it runs. */
  readonly pid: number | undefined;
  /** An outage: the server stops (SIGTERM) and its data is gone (no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops it for good (also done when the test process exits). */
  close(): Promise<void>;
}

/** `redis-server` from REDIS_SERVER or PATH; throws a clear error when it is not installed. */
export function findRedisServer(): string {
  const candidates = process.env.REDIS_SERVER
    ? [process.env.REDIS_SERVER]
    : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'redis-server'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  const where = process.env.REDIS_SERVER ? `REDIS_SERVER=${process.env.REDIS_SERVER} is not an executable` : 'redis-server is not on PATH';
  throw new Error(`${where}: these tests need Redis. Install it (apt-get install -y redis-server; npm test does so as root on Debian) or set REDIS_SERVER.`);
}

/** A free loopback port (also used by examples.test.ts to pick the examples' ports before the provider registers them). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true when the answer is +PONG. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

// Jest gives each test file a copy of `process` whose 'exit' never fires; kill leftovers from the real one.
const realProcess = (Buffer.constructor as FunctionConstructor)('return process')() as NodeJS.Process;
const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  realProcess.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
}

export async function startRedis(): Promise<TestRedis> {
  const binary = findRedisServer();
  const port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async () => {
    const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    killOnExit(proc);
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-2000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited: string | undefined;
    proc.once('exit', (code, signal) => {
      exited = `exited (${signal ?? `code ${code}`})`;
    });
    proc.once('error', (err) => {
      exited = `failed to start (${err.message})`;
    });
    for (let attempt = 0; attempt < 200; attempt++) {
      if (exited) break;
      if (await ping(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} ${exited ?? 'did not answer PING within 5 s'}: ${output.trim() || '(no output)'}`);
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await gone;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    get pid() {
      return child?.pid;
    },
    stop,
    start: async () => {
      if (child) return;
      await launch();
    },
    close: stop,
  };
}

function newClient(url: string) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(20 + retries * 20, 200) },
  });
}

export type TestRedisClient = ReturnType<typeof newClient>;

export interface TestSessionStore {
  /** Give this to express-session as `store`. */
  store: RedisStore;
  client: TestRedisClient;
  /** Resolves once the client is connected (again), e.g. after redis.start(); bounded. */
  ready(): Promise<void>;
  /** Session ids stored under this store's prefix. */
  sessionIds(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A connect-redis store with its own `redis` client, set up the way the README recommends: commands fail
 * at once while Redis is unreachable (no offline queue, so a request errors instead of hanging), the
 * client reconnects by itself, and its 'error' events are handled (unhandled, they end the process).
 */
export async function createRedisSessionStore(redis: TestRedis, prefix = 'sess:'): Promise<TestSessionStore> {
  const client = newClient(redis.url);
  client.on('error', () => {
    // Reported again by the command that fails; reconnecting is the client's job.
  });
  await client.connect();
  return {
    store: new RedisStore({ client, prefix }),
    client,
    async ready() {
      for (let attempt = 0; attempt < 250 && !client.isReady; attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
      if (!client.isReady) throw new Error(`the redis client did not reconnect to ${redis.url} within 5 s`);
    },
    async sessionIds() {
      return (await client.keys(`${prefix}*`)).map((key) => String(key).slice(prefix.length));
    },
    async close() {
      if (client.isReady) await client.close();
      else client.destroy();
    },
  };
}
