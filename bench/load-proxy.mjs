/**
 * The load benchmark's round-robin HTTP proxy (bench/load.mjs forks it once): one listener on loopback
 * per candidate, each request sent to the next of that candidate's app instances over a keep-alive
 * agent per instance. A request and its answer are streamed as they are; hop-by-hop headers are dropped
 * (RFC 9110 §7.6.1). An instance that fails (connection error) is answered 502, counted.
 *
 * IPC: `{ cmd: 'listen', ids }` opens one listener per id on 127.0.0.1:0 and answers `{ ports: { id: port } }`;
 * `{ cmd: 'backends', id, ports }` sets that listener's instances; `{ cmd: 'stats' }` answers
 * `{ cpu, rss, errors, served: { id: [requests per instance] } }`. Exits when the parent disconnects.
 */
import http from 'node:http';
import { roundRobin } from './load-lib.mjs';

// RFC 9110 §7.6.1 (and the pre-HTTP/1.1 ones): meant for one connection, never forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

function withoutHopByHop(headers) {
  const out = { ...headers };
  for (const name of HOP_BY_HOP) delete out[name];
  return out;
}

const listeners = new Map();
let errors = 0;

function forward(entry, req, res) {
  if (!entry.pick) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('no instances yet');
    return;
  }
  const backend = entry.pick();
  backend.served++;
  const target = { host: '127.0.0.1', port: backend.port, method: req.method, path: req.url, agent: backend.agent };
  const upstream = http.request({ ...target, headers: withoutHopByHop(req.headers) }, (answer) => {
    res.writeHead(answer.statusCode, withoutHopByHop(answer.headers));
    answer.pipe(res);
  });
  upstream.on('error', (err) => {
    errors++;
    if (errors <= 3) process.stderr.write(`[load-proxy] instance ${backend.port}: ${err.code ?? err.message}\n`);
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    else res.destroy();
  });
  req.pipe(upstream);
}

async function listen(id) {
  const entry = { pick: null, backends: [] };
  const server = http.createServer((req, res) => forward(entry, req, res));
  server.keepAliveTimeout = 10 * 60_000; // the load generator's connections stay for the whole run
  server.headersTimeout = 11 * 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  listeners.set(id, entry);
  return server.address().port;
}

function setBackends(id, ports) {
  const entry = listeners.get(id);
  for (const old of entry.backends) old.agent.destroy();
  const agent = () => new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 });
  entry.backends = ports.map((port) => ({ port, served: 0, agent: agent() }));
  entry.pick = roundRobin(entry.backends);
}

process.on('message', async (msg) => {
  if (msg?.cmd === 'listen') {
    const ports = {};
    for (const id of msg.ids) ports[id] = await listen(id);
    process.send({ ports });
  } else if (msg?.cmd === 'backends') {
    setBackends(msg.id, msg.ports);
    process.send({ ok: true });
  } else if (msg?.cmd === 'stats') {
    const served = Object.fromEntries([...listeners].map(([id, entry]) => [id, entry.backends.map((b) => b.served)]));
    process.send({ cpu: process.cpuUsage(), rss: process.memoryUsage.rss(), errors, served });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
