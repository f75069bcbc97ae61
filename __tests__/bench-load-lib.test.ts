/**
 * The pure helpers of the load benchmark (bench/load-lib.mjs): what its report's percentiles, Redis
 * command counts, RSS slope, round-robin and user cycle rest on. The benchmark itself is not run here.
 */
import { describe, expect, it } from '@jest/globals';
import {
  APP_REQUESTS,
  addCalls,
  classifyError,
  commandCalls,
  cycle,
  diffCalls,
  parseKeyspace,
  percentile,
  perOp,
  roundRobin,
  shuffled,
  slope,
  splitEvenly,
  summarize,
} from '../bench/load-lib.mjs';

const COMMANDSTATS = [
  '# Commandstats',
  'cmdstat_get:calls=10,usec=20,usec_per_call=2.00,rejected_calls=0,failed_calls=0',
  'cmdstat_set:calls=4,usec=8,usec_per_call=2.00,rejected_calls=0,failed_calls=0',
  'cmdstat_info:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0',
  'cmdstat_client|setinfo:calls=2,usec=1,usec_per_call=0.50,rejected_calls=0,failed_calls=0',
  '',
].join('\r\n');

describe('percentiles', () => {
  it('takes the nearest rank, p99.9 included', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1000 .. 1
    const s = summarize(values);
    expect(s).toMatchObject({ n: 1000, p50: 500, p99: 990, p999: 999, max: 1000, mean: 500.5 });
    expect(percentile([7], 99.9)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(values[0]).toBe(1000); // the input is left as it was
  });
});

describe('Redis INFO', () => {
  it('counts the calls per command and leaves the driver’s own commands out of a delta', () => {
    const before = commandCalls(COMMANDSTATS);
    expect(before).toEqual({ get: 10, set: 4, info: 7, 'client|setinfo': 2 });
    const after = { ...before, get: 15, set: 5, info: 20, del: 1, 'client|setinfo': 3, scan: 4, 'memory|usage': 9 };
    expect(diffCalls(before, after)).toEqual({ total: 7, by: { GET: 5, SET: 1, DEL: 1 } });
  });

  it('adds deltas and prints them per operation, biggest first', () => {
    const sum = addCalls({ total: 3, by: { GET: 2, SET: 1 } }, { total: 3, by: { GET: 1, EXPIRE: 2 } });
    expect(sum).toEqual({ total: 6, by: { GET: 3, SET: 1, EXPIRE: 2 } });
    expect(perOp(sum, 2)).toBe('GET 1.5, EXPIRE 1, SET 0.5');
    expect(perOp({ total: 0, by: {} }, 2)).toBe('–');
  });

  it('reads the keyspace per database', () => {
    const text = '# Keyspace\r\ndb1:keys=12,expires=11,avg_ttl=100\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n';
    expect(parseKeyspace(text)).toEqual({
      1: { keys: 12, expires: 11 },
      3: { keys: 1, expires: 0 },
    });
  });
});

describe('slope', () => {
  it('is 0 for a flat series, the growth per x otherwise, null without two distinct x', () => {
    expect(slope([1, 2, 3, 4].map((x) => ({ x, y: 100 })))).toBe(0);
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 100 + 2 * x })))).toBeCloseTo(2, 10);
    expect(slope([{ x: 1, y: 1 }])).toBeNull();
    expect(slope([{ x: 1, y: 1 }, { x: 1, y: 2 }])).toBeNull();
  });
});

describe('the load', () => {
  it('alternates between instances', () => {
    const next = roundRobin(['a', 'b']);
    expect([next(), next(), next(), next(), next()]).toEqual(['a', 'b', 'a', 'b', 'a']);
    expect(() => roundRobin([])).toThrow(TypeError);
  });

  it('runs a user’s cycle as 1 login, 50 pages and 1 refresh after half of them', () => {
    const steps = cycle({ pages: 50 });
    expect(steps).toHaveLength(52);
    expect(steps[0]).toBe('login');
    expect(steps.filter((s) => s === 'page')).toHaveLength(50);
    expect(steps.indexOf('token')).toBe(26);
    expect(steps.reduce((n, s) => n + APP_REQUESTS[s], 0)).toBe(53);
    expect(cycle({ pages: 2, refreshAfter: 9 })).toEqual(['login', 'page', 'page', 'token']);
    expect(cycle({ pages: 0 })).toEqual(['login', 'token']);
  });

  it('splits a number of requests over turns exactly', () => {
    expect(splitEvenly(10, 3)).toEqual([4, 3, 3]);
    expect(splitEvenly(212000, 10).reduce((a, b) => a + b, 0)).toBe(212000);
  });

  it('shuffles a copy', () => {
    const xs = [1, 2, 3, 4];
    const out = shuffled(xs, () => 0);
    expect([...out].sort()).toEqual(xs);
    expect(out).not.toBe(xs);
    expect(out).toEqual([2, 3, 4, 1]);
  });
});

describe('error classes', () => {
  it('keep the status and drop the body, so no token reaches the report', () => {
    const body = new Error('/token answered 502 {"error":"eyJhbGciOi.secret"}');
    expect(classifyError('token', body)).toBe('token: /token answered 502');
    const provider = new Error('/auth at the provider answered 400');
    expect(classifyError('login', provider)).toBe('login: /auth at the provider answered 400');
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classifyError('page', reset)).toBe('page: ECONNRESET');
    expect(classifyError('page', new Error('too <many> hops'))).toBe('page: too many hops');
  });
});
