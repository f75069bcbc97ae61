import { fork } from 'node:child_process';
import http from 'node:http';
const variants = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true });
const get = (port, path, cookie) => new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port, path, agent, headers: cookie ? { cookie } : {} }, (res) => { res.resume(); res.on('end', () => resolve(res)); }).on('error', reject));
const apps = [];
for (const v of variants) { const child = fork(new URL('./app.mjs', import.meta.url), [v.split('#')[0]]); const { port } = await new Promise((r) => child.once('message', r)); const res = await get(port, '/set'); apps.push({ v, child, port, cookie: res.headers['set-cookie'][0].split(';')[0] }); }
const ask = (child) => new Promise((r) => { child.once('message', r); child.send('cpu'); });
const results = Object.fromEntries(variants.map((v) => [v, []]));
for (let round = 0; round < 12; round++) {
  for (let i = 0; i < apps.length; i++) {
    const a = apps[(i + round) % apps.length];
    const b = await ask(a.child);
    for (let k = 0; k < 2000; k++) { const res = await get(a.port, '/page', a.cookie); if (res.statusCode !== 200) throw new Error(String(res.statusCode)); }
    const e = await ask(a.child);
    if (round > 0) results[a.v].push((e.user - b.user + e.system - b.system) / 2000);
  }
}
const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
for (const v of variants) console.log(v.padEnd(10), med(results[v]).toFixed(1), 'µs/req', ' ratio to none', med(results[v].map((x, i) => x / results[variants[0]][i])).toFixed(3));
for (const a of apps) a.child.disconnect();
console.log('per-round ratio #2/#1:', results[variants[1]].map((x, i) => (x / results[variants[0]][i]).toFixed(2)).join(' '));
