/**
 * The load benchmark's processes: a throwaway redis-server, the round-robin proxy, the provider and two
 * app instances per candidate; and what the driver reads from them (IPC stats, Redis INFO, keys).
 * Everything started here is stopped by `stop()`, and by this process's exit.
 */
import { fork, spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { commandCalls, parseInfo, parseKeyspace } from './load-lib.mjs';
import { CLIENT_ID, CLIENT_SECRET } from './provider.mjs';

const here = dirname(fileURLToPath(import.meta.url));
/** The Redis database of each candidate's sessions (eoc-cookie keeps its session in a cookie). */
export const REDIS_DB = { 'express-par': 1, handwritten: 2, eoc: 3 };

/** Forks a child; resolves `{ child, first }` once it sent its first message (`first`). */
async function forkChild(file, args = [], label = file) {
  const child = fork(join(here, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code}`)));
  });
  return { child, first };
}

/** Sends `{ cmd, ...extra }` and resolves with the child's next message. */
export function ask(child, cmd, extra = {}) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send({ cmd, ...extra });
  });
}

/** A free port on loopback (listened on, then released). */
export async function reservePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const accepts = (port) =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/**
 * A throwaway redis-server on a free loopback port (`BENCH_REDIS_SERVER` or `redis-server` on the PATH): no
 * snapshots, no append-only file. Resolves once it accepts connections; `stop()` ends it, and so does this
 * process's exit (on an error too). Used by load.mjs and bench.mjs.
 */
export async function startRedis() {
  const port = await reservePort();
  const args = ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--databases', '16'];
  const child = spawn(process.env.BENCH_REDIS_SERVER ?? 'redis-server', args, { stdio: 'ignore' });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  };
  process.once('exit', stop);
  let failed;
  child.once('error', (err) => (failed = err));
  for (let attempt = 0; !(await accepts(port)); attempt++) {
    if (failed || child.exitCode !== null || attempt > 100) {
      stop();
      throw new Error(`redis-server did not start: ${failed?.message ?? `exit ${child.exitCode ?? 'none in 5 s'}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, url: `redis://127.0.0.1:${port}`, stop };
}

/** Reads of the shared Redis: command counts, CPU, memory, a database's keys, a sample's sizes and TTLs. */
class RedisReader {
  constructor(url) {
    this.url = url;
    this.clients = new Map();
  }

  async client(db = 0) {
    if (!this.clients.has(db)) {
      const client = createClient({ url: `${this.url}/${db}` });
      client.on('error', (err) => process.stderr.write(`[load] redis: ${err.message}\n`));
      this.clients.set(db, client.connect().then(() => client));
    }
    return this.clients.get(db);
  }

  async info(section) {
    return (await this.client()).sendCommand(['INFO', section]);
  }

  async snapshot() {
    const [commands, cpu, memory, stats] = await Promise.all(['commandstats', 'cpu', 'memory', 'stats'].map((s) => this.info(s)));
    const c = parseInfo(cpu);
    const cpuUs = (Number(c.used_cpu_user) + Number(c.used_cpu_sys)) * 1e6;
    // Bytes redis-server read from its clients: the sessions written, mostly (the driver's INFO calls add ~100 B a turn).
    const netIn = Number(parseInfo(stats).total_net_input_bytes);
    return { calls: commandCalls(commands), cpuUs, usedMemory: Number(parseInfo(memory).used_memory), netIn };
  }

  async keyspace() {
    return parseKeyspace(await this.info('keyspace'));
  }

  /** Every key of database `db` (SCAN). */
  async keys(db) {
    const client = await this.client(db);
    const keys = new Set();
    let cursor = '0';
    do {
      const [next, batch] = await client.sendCommand(['SCAN', cursor, 'COUNT', '1000']);
      for (const key of batch) keys.add(key);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  }

  /** MEMORY USAGE (bytes) and TTL (s) of each of `keys` in database `db`. */
  async sample(db, keys) {
    const client = await this.client(db);
    return Promise.all(
      keys.map(async (key) => ({
        bytes: Number(await client.sendCommand(['MEMORY', 'USAGE', key, 'SAMPLES', '0'])),
        ttl: Number(await client.sendCommand(['TTL', key])),
      })),
    );
  }

  async close() {
    for (const pending of this.clients.values()) (await pending).destroy();
  }
}

/** One candidate's app instance: forked with its config, resolves once it listens. */
async function startApp(config) {
  const label = `load-app.mjs (${config.candidate})`;
  const { child, first } = await forkChild('load-app.mjs', [JSON.stringify(config)], label);
  return { child, port: first.port };
}

/**
 * Starts the cluster: Redis, the proxy (one listener per candidate), the provider (redirect URIs at the
 * proxy), `instances` app instances per candidate behind its listener. Resolves { origins, apps,
 * proxy, provider, redis, stop }.
 */
export async function startCluster(candidates, { instances = 2 } = {}) {
  const started = [];
  const stop = async () => {
    for (const child of started.reverse()) if (child.exitCode === null && child.signalCode === null) child.kill();
    await redis?.close();
  };
  process.once('exit', () => started.forEach((child) => child.exitCode === null && child.kill()));
  let redis;
  try {
    const server = await startRedis();
    started.push(server.child);
    redis = new RedisReader(server.url);
    const { child: proxy } = await forkChild('load-proxy.mjs');
    started.push(proxy);
    const { ports } = await ask(proxy, 'listen', { ids: candidates });
    const origins = Object.fromEntries(candidates.map((id) => [id, `http://127.0.0.1:${ports[id]}`]));
    const redirectUris = Object.values(origins).map((origin) => `${origin}/callback`);
    const provider = await forkChild('provider.mjs', [JSON.stringify({ redirectUris })]);
    started.push(provider.child);
    const apps = {};
    for (const id of candidates) {
      const config = {
        candidate: id, baseURL: origins[id], issuer: provider.first.issuer, clientID: CLIENT_ID,
        clientSecret: CLIENT_SECRET, redisURL: server.url, db: REDIS_DB[id] ?? 0,
      };
      apps[id] = [];
      for (let i = 0; i < instances; i++) {
        const app = await startApp(config);
        started.push(app.child);
        apps[id].push(app);
      }
      await ask(proxy, 'backends', { id, ports: apps[id].map((a) => a.port) });
    }
    return { origins, apps, proxy, provider: provider.child, issuer: provider.first.issuer, redis, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

const cpuUs = (cpu) => cpu.user + cpu.system;

/**
 * Everything a turn's deltas are taken from, for one candidate: its instances, the proxy, the provider,
 * Redis, this process.
 */
export async function snapshot(cluster, id) {
  const [apps, proxy, provider, redis] = await Promise.all([
    Promise.all(cluster.apps[id].map((app) => ask(app.child, 'stats'))),
    ask(cluster.proxy, 'stats'),
    ask(cluster.provider, 'cpu'),
    cluster.redis.snapshot(),
  ]);
  return {
    appCpu: apps.reduce((s, a) => s + cpuUs(a.cpu), 0),
    appErrors: apps.reduce((s, a) => s + a.errors, 0),
    rss: apps.map((a) => a.rss),
    heap: apps.map((a) => a.heapUsed),
    proxyCpu: cpuUs(proxy.cpu),
    proxyErrors: proxy.errors,
    served: proxy.served[id],
    providerCpu: cpuUs(provider.cpu),
    redis,
    driverCpu: cpuUs(process.cpuUsage()),
  };
}
