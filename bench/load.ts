/**
 * The load generator: one autocannon run (warm-up, then the measured run) for one scenario against
 * one target. run.ts starts it as its own child process so it never shares an event loop (or a
 * core's time slice, as far as the OS allows) with the server under test.
 *
 * Usage: node bench/load.ts --url http://127.0.0.1:8091 --scenario view|list|create
 *          [--duration 10] [--warmup 2] [--connections 50] [--ids /path/ids.json]
 * Prints one JSON line (LoadResult) on stdout.
 */
import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createBodies, LIST_PATH } from './seed-data.ts';

/** What one load run reports back to the harness. */
export interface LoadResult {
  scenario: string;
  url: string;
  connections: number;
  duration: number;
  /** Mean requests per second over the measured run (autocannon's per-second samples). */
  reqPerSec: number;
  /** Completed 2xx responses / measured seconds. */
  okPerSec: number;
  total: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  bytesPerResponse: number;
  statusCodes: Record<string, number>;
  /** Server CPU time (user + system) per measured request, µs; filled in by run.ts from /proc (Linux). */
  serverCpuUsPerRequest?: number;
  /** One failing request replayed after the run, when there were non-2xx answers or errors. */
  sampleFailure?: { status: number; body: string } | { error: string };
}

const RECORDS = '/api/collections/posts/records';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    scenario: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    ids: { type: 'string' },
    token: { type: 'string' },
    identity: { type: 'string' },
    password: { type: 'string' },
    'auth-collection': { type: 'string' },
  },
});

const base = (args.url ?? '').replace(/\/$/, '');
const scenario = args.scenario ?? '';
const duration = Number(args.duration);
const warmup = Number(args.warmup);
const connections = Number(args.connections);
if (!base || !['view', 'list', 'create', 'view-auth', 'signin'].includes(scenario)) {
  process.stderr.write('usage: load.ts --url URL --scenario view|list|create|view-auth|signin [--ids file] [--token T --identity E --password P --auth-collection C]\n');
  process.exit(2);
}

function requestsFor(): { requests: AutocannonRequest[]; probe: (n: number) => Promise<Response> } {
  if (scenario === 'signin') {
    const path = `/api/collections/${args['auth-collection']}/auth-with-password`;
    const body = JSON.stringify({ identity: args.identity, password: args.password });
    const headers = { 'content-type': 'application/json' };
    return { requests: [{ method: 'POST', path, headers, body }], probe: () => fetch(base + path, { method: 'POST', headers, body }) };
  }
  if (scenario === 'view' || scenario === 'view-auth') {
    const auth: Record<string, string> = scenario === 'view-auth' ? { authorization: String(args.token) } : {};
    if (!args.ids) throw new Error('--ids is required for the view scenario');
    const ids = JSON.parse(readFileSync(args.ids, 'utf8')) as string[];
    if (ids.length === 0) throw new Error('no ids to view');
    let i = 0;
    return {
      requests: [
        {
          method: 'GET',
          headers: auth,
          setupRequest: (req) => {
            req.path = `${RECORDS}/${ids[i++ % ids.length]}`;
            return req;
          },
        },
      ],
      probe: (n) => fetch(`${base}${RECORDS}/${ids[n % ids.length]}`, { headers: auth }),
    };
  }
  if (scenario === 'list') {
    return {
      requests: [{ method: 'GET', path: LIST_PATH }],
      probe: () => fetch(base + LIST_PATH),
    };
  }
  const bodies = createBodies(1000);
  let i = 0;
  const headers = { 'content-type': 'application/json' };
  return {
    requests: [
      {
        method: 'POST',
        path: RECORDS,
        headers,
        setupRequest: (req) => {
          req.body = bodies[i++ % bodies.length];
          return req;
        },
      },
    ],
    probe: (n) => fetch(base + RECORDS, { method: 'POST', headers, body: bodies[n % bodies.length] }),
  };
}

function summarise(r: AutocannonResult, sampleFailure?: LoadResult['sampleFailure']): LoadResult {
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = Number(v.count);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    scenario,
    url: base,
    connections,
    duration: r.duration,
    reqPerSec: round(r.requests.average),
    okPerSec: round(r['2xx'] / r.duration),
    total: r.requests.total,
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyMs: {
      p50: round(r.latency.p50),
      p90: round(r.latency.p90),
      p99: round(r.latency.p99),
      mean: round(r.latency.average),
      max: round(r.latency.max),
    },
    bytesPerResponse: r.requests.total > 0 ? Math.round(r.throughput.total / r.requests.total) : 0,
    statusCodes,
    ...(sampleFailure ? { sampleFailure } : {}),
  };
}

const { requests, probe } = requestsFor();
const common = { url: base, connections, requests, timeout: 10 };
if (warmup > 0) await autocannon({ ...common, duration: warmup });
const result = await autocannon({ ...common, duration });

let sampleFailure: LoadResult['sampleFailure'];
if (result.non2xx > 0 || result.errors > 0) {
  // A benchmark of errors is worthless: replay the scenario (bursts of `connections` parallel
  // requests, after the measured run so it costs nothing there) until one fails, and keep what
  // the server said.
  let lastStatus = 0;
  for (let round = 0; round < 20 && !sampleFailure; round++) {
    const answers = await Promise.allSettled(Array.from({ length: connections }, (_, k) => probe(round * connections + k)));
    for (const a of answers) {
      if (a.status === 'rejected') {
        sampleFailure = { error: String(a.reason) };
        break;
      }
      lastStatus = a.value.status;
      if (a.value.status < 200 || a.value.status > 299) {
        sampleFailure = { status: a.value.status, body: (await a.value.text()).slice(0, 2000) };
        break;
      }
    }
    for (const a of answers) if (a.status === 'fulfilled' && !a.value.bodyUsed) await a.value.arrayBuffer().catch(() => {});
  }
  sampleFailure ??= { error: `not reproduced in ${20 * connections} replayed requests (last status ${lastStatus})` };
}

process.stdout.write(JSON.stringify(summarise(result, sampleFailure)) + '\n');
