/**
 * `npm run bench`: Basalt against a bare `node:http` + `node:sqlite` baseline, in the same run,
 * on the same machine, with the same data and the same requests.
 *
 * For each target: start the server as a child process, seed 10,000 `posts`, check that it holds
 * the same rows as the other target, then run each scenario with the load generator (bench/load.ts)
 * in its own child process. Prints a table and writes bench/results/<timestamp>.json + latest.json.
 *
 * Flags: --duration S (10) --warmup S (2) --connections N (50) --only basalt|bare
 *        --scenario view|list|create|view-auth|signin (repeatable or comma-separated) --records N (10000)
 *        view-auth and signin run on Basalt only: view-by-id as a signed-in user against an auth rule
 *        (token verification + rule cost, compared with view), and password sign-in (argon2id cost).
 *        --database-url postgres://… (Basalt on PostgreSQL; the bare baseline stays on SQLite)
 *        --keep (keep the temporary data directories)
 * Exit code: 0 when the harness ran (even if a target is MISSED or a run had errors, both of which
 * are printed loudly), 1 when the harness itself could not produce figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem, tmpdir, platform, release, arch, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { LoadResult } from './load.ts';
import { seedPosts, expectedListMatches, LIST_FILTER, LIST_SORT, LIST_PER_PAGE, type PostInput } from './seed-data.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(BENCH_DIR);
// BASALT_BENCH_CLI lets the harness itself be tested against a stand-in for the real CLI.
const CLI = process.env.BASALT_BENCH_CLI ?? join(REPO, 'packages/server/src/cli/main.ts');
const RECORDS = '/api/collections/posts/records';

type Scenario = 'view' | 'list' | 'create' | 'view-auth' | 'signin';
type TargetName = 'bare' | 'basalt';
const SCENARIOS: Scenario[] = ['view', 'list', 'create'];
/** Basalt-only scenarios (no bare counterpart), run when named with --scenario. */
const BASALT_ONLY: Scenario[] = ['view-auth', 'signin'];
/** Minimum Basalt/bare req/s ratio per scenario (from the benchmark issue). */
const TARGETS: Record<Scenario, number> = { view: 0.6, list: 0.6, create: 0.5, 'view-auth': 0, signin: 0 };

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    records: { type: 'string', default: '10000' },
    'database-url': { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (flags.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0] + '*/\n');
  process.exit(0);
}

const params = {
  duration: Number(flags.duration),
  warmup: Number(flags.warmup),
  connections: Number(flags.connections),
  records: Number(flags.records),
  scenarios: (flags.scenario ?? SCENARIOS).flatMap((s) => s.split(',')).map((s) => s.trim()) as Scenario[],
  targets: (flags.only ? [flags.only] : ['bare', 'basalt']) as TargetName[],
  basaltDatabase: flags['database-url'] ? 'postgresql' : 'sqlite',
  bareDatabase: 'sqlite',
};
for (const s of params.scenarios) if (!SCENARIOS.includes(s) && !BASALT_ONLY.includes(s)) die(`unknown scenario: ${s}`);
for (const t of params.targets) if (t !== 'bare' && t !== 'basalt') die(`--only must be basalt or bare, not ${t}`);
for (const k of ['duration', 'warmup', 'connections', 'records'] as const) {
  if (!Number.isFinite(params[k]) || params[k] < 0) die(`bad --${k}`);
}

function die(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}
function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- process helpers --------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.on('SIGINT', () => {
  for (const c of children) c.kill('SIGKILL');
  process.exit(130);
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Start a long-running server child; its output goes to a log file (never an unread pipe). */
function startServer(args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Run a child to completion, capturing its output. */
function runChild(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitHealthy(base: string, child: ChildProcess, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}\n${tail(logFile)}`);
    try {
      const res = await fetch(`${base}/api/health`);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await sleep(200);
  }
  throw new Error(`server not healthy after ${timeoutMs} ms\n${tail(logFile)}`);
}

// --- HTTP helper with loud failures -----------------------------------------------------------

class HttpError extends Error {
  status: number;
  body: string;
  constructor(what: string, status: number, body: string) {
    super(`${what} -> HTTP ${status}: ${body.slice(0, 1500)}`);
    this.status = status;
    this.body = body;
  }
}

async function call(base: string, method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = token;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new HttpError(`${method} ${path}`, res.status, text);
  return text ? JSON.parse(text) : null;
}

// --- targets ----------------------------------------------------------------------------------

interface Target {
  name: TargetName;
  base: string;
  /** Ids to rotate through in the view scenario. */
  ids: string[];
  /** Basalt only: a signed-in user for view-auth/signin, and the superuser token to change rules. */
  user?: { email: string; password: string; token: string };
  superuserToken?: string;
  stop: () => Promise<void>;
  notes: string[];
  /** The server process, for its CPU time. */
  pid?: number;
}

async function startBare(work: string, posts: PostInput[]): Promise<Target> {
  const port = await freePort();
  const logFile = join(work, 'bare.log');
  const child = startServer(
    [join(BENCH_DIR, 'bare-server.ts'), '--port', String(port), '--db', join(work, 'bare.db'), '--seed', String(posts.length)],
    logFile,
  );
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(base, child, logFile);
  return { name: 'bare', base, ids: posts.map((p) => p.id), stop: () => stopServer(child), notes: ['node:http + node:sqlite'], pid: child.pid };
}

const POSTS_COLLECTION = {
  name: 'posts',
  type: 'base',
  listRule: '',
  viewRule: '',
  createRule: '',
  fields: [
    { name: 'title', type: 'text' },
    { name: 'body', type: 'text' },
    { name: 'views', type: 'number' },
    { name: 'published', type: 'bool' },
    // A date the seed sets, so both targets hold identical `created` values (the list sorts by it).
    { name: 'created', type: 'date' },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ],
};

async function startBasalt(work: string, posts: PostInput[]): Promise<Target> {
  if (!existsSync(CLI)) throw new Error(`Basalt CLI not found at ${CLI}`);
  const dir = join(work, 'basalt_data');
  mkdirSync(dir, { recursive: true });
  const dbArgs = flags['database-url'] ? ['--database-url', flags['database-url']] : [];
  const email = 'bench@example.com';
  const password = randomBytes(12).toString('hex');

  const up = await runChild([CLI, 'superuser', 'upsert', email, password, '--dir', dir, ...dbArgs], 60_000);
  if (up.code !== 0) throw new Error(`superuser upsert failed (exit ${up.code}):\n${up.stdout}\n${up.stderr}`);

  const port = await freePort();
  const logFile = join(work, 'basalt.log');
  // Abuse limits off: the signin scenario signs one user in thousands of times a second on purpose.
  const configFile = join(work, 'basalt.config.json');
  writeFileSync(configFile, JSON.stringify({ rateLimits: { signInPerIp: 0, signInPerIdentity: 0, signUpPerIp: 0, refreshPerIp: 0, failureDelayMs: 0 } }));
  const child = startServer([CLI, 'serve', '--http', `127.0.0.1:${port}`, '--dir', dir, '--config', configFile, ...dbArgs], logFile);
  const base = `http://127.0.0.1:${port}`;
  const stop = () => stopServer(child);
  try {
    await waitHealthy(base, child, logFile);
    const auth = (await call(base, 'POST', '/api/collections/_superusers/auth-with-password', {
      identity: email,
      password,
    })) as { token?: string };
    if (!auth?.token) throw new Error(`auth-with-password answered without a token: ${JSON.stringify(auth)}`);
    const token = auth.token;

    // On a reused PostgreSQL database a previous run's collection may still be there.
    try {
      await call(base, 'GET', '/api/collections/posts', undefined, token);
      log('basalt: dropping the existing `posts` collection');
      await call(base, 'DELETE', '/api/collections/posts', undefined, token);
    } catch (e) {
      if (!(e instanceof HttpError && e.status === 404)) throw e;
    }
    await call(base, 'POST', '/api/collections', POSTS_COLLECTION, token);

    const notes: string[] = [`Basalt on ${params.basaltDatabase}`];
    const ids = await seedBasalt(base, token, posts, notes);
    let user: Target['user'];
    if (params.scenarios.some((s) => BASALT_ONLY.includes(s))) {
      try {
        await call(base, 'DELETE', '/api/collections/bench_users', undefined, token);
      } catch (e) {
        if (!(e instanceof HttpError && e.status === 404)) throw e;
      }
      await call(base, 'POST', '/api/collections', { name: 'bench_users', type: 'auth', fields: [] }, token);
      const userPassword = `bench ${randomBytes(8).toString('hex')}`;
      await call(base, 'POST', '/api/collections/bench_users/records', { email: 'reader@example.com', password: userPassword, passwordConfirm: userPassword }, token);
      const signedIn = (await call(base, 'POST', '/api/collections/bench_users/auth-with-password', { identity: 'reader@example.com', password: userPassword })) as { token: string };
      user = { email: 'reader@example.com', password: userPassword, token: signedIn.token };
    }
    return { name: 'basalt', base, ids, stop, notes, user, superuserToken: token, pid: child.pid };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- basalt log tail ---\n${tail(logFile)}`);
  }
}

/** Seed through the public API: batches of 500, then 50, then single creates as a fallback. */
async function seedBasalt(base: string, token: string, posts: PostInput[], notes: string[]): Promise<string[]> {
  const ids: string[] = [];
  let done = 0;
  for (const size of [500, 50]) {
    try {
      for (; done < posts.length; done += size) {
        const chunk = posts.slice(done, done + size);
        const out = (await call(
          base,
          'POST',
          '/api/batch',
          { requests: chunk.map((p) => ({ method: 'POST', url: RECORDS, body: p })) },
          token,
        )) as { status: number; body: { id?: string } }[];
        if (!Array.isArray(out) || out.length !== chunk.length) {
          throw new Error(`unexpected batch answer: ${JSON.stringify(out).slice(0, 500)}`);
        }
        for (const r of out) {
          if (r.status < 200 || r.status > 299 || !r.body?.id) throw new Error(`batch item failed: ${JSON.stringify(r)}`);
          ids.push(r.body.id);
        }
      }
      notes.push(`seeded with /api/batch (${size} per batch)`);
      return ids;
    } catch (e) {
      if (done > 0) throw e; // partial seed: do not mix methods
      log(`basalt: /api/batch with ${size} per request failed: ${(e as Error).message.slice(0, 400)}`);
    }
  }
  log('basalt: falling back to single creates');
  notes.push('seeded with single creates (batch failed)');
  for (const p of posts) {
    const rec = (await call(base, 'POST', RECORDS, p, token)) as { id: string };
    ids.push(rec.id);
  }
  return ids;
}

/** Both targets must hold the same logical rows: same match count, same page size, same first row. */
async function verify(t: Target, posts: PostInput[]): Promise<{ matches: number; pageItems: number }> {
  const q = `filter=${encodeURIComponent(LIST_FILTER)}&sort=${encodeURIComponent(LIST_SORT)}&perPage=${LIST_PER_PAGE}`;
  const list = (await call(t.base, 'GET', `${RECORDS}?${q}`)) as { totalItems: number; items: unknown[] };
  const want = expectedListMatches(posts);
  if (list.totalItems !== want) throw new Error(`${t.name}: list filter matches ${list.totalItems} rows, expected ${want}`);
  const wantItems = Math.min(LIST_PER_PAGE, want);
  if (list.items.length !== wantItems) throw new Error(`${t.name}: list page has ${list.items.length} items, expected ${wantItems}`);
  const rec = (await call(t.base, 'GET', `${RECORDS}/${t.ids[0]}`)) as PostInput;
  const p = posts[0];
  if (rec.title !== p.title || rec.views !== p.views || rec.published !== p.published) {
    throw new Error(`${t.name}: record ${t.ids[0]} does not match the seed: ${JSON.stringify(rec).slice(0, 300)}`);
  }
  return { matches: list.totalItems, pageItems: list.items.length };
}

async function runScenario(t: Target, scenario: Scenario, idsFile: string): Promise<LoadResult> {
  // view-auth: the same view-by-id, as a signed-in user, under a rule that needs the token.
  if (scenario === 'view-auth') await call(t.base, 'PATCH', '/api/collections/posts', { viewRule: '@request.auth.id != ""' }, t.superuserToken);
  try {
    return await runLoad(t, scenario, idsFile);
  } finally {
    if (scenario === 'view-auth') await call(t.base, 'PATCH', '/api/collections/posts', { viewRule: '' }, t.superuserToken);
  }
}

/**
 * CPU time (user + system, ms) a process has used, from /proc (Linux); undefined elsewhere. Server CPU
 * per request is a second view of cost that another process on the machine barely disturbs.
 */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined || platform() !== 'linux') return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are at 11 and 12.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

async function runLoad(t: Target, scenario: Scenario, idsFile: string): Promise<LoadResult> {
  // The server's CPU time over the measured part of the run (after the warm-up).
  const cpuAtStart = sleep(params.warmup * 1000).then(() => processCpuMs(t.pid));
  const userArgs = t.user ? ['--token', t.user.token, '--identity', t.user.email, '--password', t.user.password, '--auth-collection', 'bench_users'] : [];
  const r = await runChild(
    [
      join(BENCH_DIR, 'load.ts'),
      '--url', t.base,
      '--scenario', scenario,
      '--duration', String(params.duration),
      '--warmup', String(params.warmup),
      '--connections', String(params.connections),
      '--ids', idsFile,
      ...userArgs,
    ],
    (params.duration + params.warmup) * 1000 + 60_000,
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) {
    throw new Error(`load generator failed for ${t.name}/${scenario} (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  const result = JSON.parse(line) as LoadResult;
  const cpu0 = await cpuAtStart;
  const cpu1 = processCpuMs(t.pid);
  if (cpu0 !== undefined && cpu1 !== undefined && result.total > 0) result.serverCpuUsPerRequest = Math.round(((cpu1 - cpu0) * 1000 / result.total) * 10) / 10;
  return result;
}

// --- main -------------------------------------------------------------------------------------

interface TargetReport {
  notes: string[];
  verify?: { matches: number; pageItems: number };
  scenarios: Partial<Record<Scenario, LoadResult>>;
  error?: string;
}

const started = new Date();
const work = mkdtempSync(join(tmpdir(), 'basalt-bench-'));
const posts = seedPosts(params.records);
const report: Partial<Record<TargetName, TargetReport>> = {};
let harnessFailed = false;

log(`work dir ${work}; ${posts.length} posts; scenarios ${params.scenarios.join(',')}; ` +
  `${params.connections} connections, ${params.warmup}s warm-up + ${params.duration}s each`);
if (flags['database-url']) log('Basalt runs on PostgreSQL; the bare baseline stays on SQLite');

for (const name of params.targets) {
  const rep: TargetReport = { notes: [], scenarios: {} };
  report[name] = rep;
  let t: Target | undefined;
  try {
    log(`${name}: starting and seeding`);
    const t0 = Date.now();
    t = name === 'bare' ? await startBare(work, posts) : await startBasalt(work, posts);
    rep.notes = t.notes;
    rep.verify = await verify(t, posts);
    log(`${name}: ready in ${((Date.now() - t0) / 1000).toFixed(1)}s, list filter matches ${rep.verify.matches} rows`);
    // Rotate through 1,000 existing ids, spread over the table.
    const step = Math.max(1, Math.floor(t.ids.length / 1000));
    const idsFile = join(work, `${name}-ids.json`);
    writeFileSync(idsFile, JSON.stringify(t.ids.filter((_, i) => i % step === 0).slice(0, 1000)));
    for (const s of params.scenarios) {
      if (name === 'bare' && BASALT_ONLY.includes(s)) continue;
      log(`${name}: ${s}`);
      const r = await runScenario(t, s, idsFile);
      rep.scenarios[s] = r;
      if (r.non2xx > 0 || r.errors > 0) {
        log(`!!!!! ${name}/${s}: ${r.non2xx} non-2xx responses, ${r.errors} errors (${r.timeouts} timeouts) ` +
          `out of ${r.total}; status codes ${JSON.stringify(r.statusCodes)}; sample ${JSON.stringify(r.sampleFailure)}`);
      }
    }
  } catch (e) {
    rep.error = (e as Error).message;
    harnessFailed = true;
    log(`!!!!! ${name} FAILED: ${rep.error}`);
  } finally {
    if (t) await t.stop();
  }
}

// --- report -----------------------------------------------------------------------------------

interface Row {
  scenario: Scenario;
  bare?: LoadResult;
  basalt?: LoadResult;
  ratio: number | null;
  target: number;
  verdict: 'PASS' | 'MISSED' | 'INVALID' | 'n/a';
}

const rows: Row[] = params.scenarios.map((s) => {
  const bare = report.bare?.scenarios[s];
  const basalt = report.basalt?.scenarios[s];
  const invalid = [bare, basalt].some((r) => r && (r.non2xx > 0 || r.errors > 0));
  const ratio = bare && basalt && bare.reqPerSec > 0 ? Math.round((basalt.reqPerSec / bare.reqPerSec) * 1000) / 1000 : null;
  const verdict = invalid ? 'INVALID' : ratio === null ? 'n/a' : ratio >= TARGETS[s] ? 'PASS' : 'MISSED';
  return { scenario: s, bare, basalt, ratio, target: TARGETS[s], verdict };
});

const fmtRps = (r?: LoadResult) => (r ? r.reqPerSec.toFixed(0) : '-');
const fmtLat = (r?: LoadResult) => (r ? `${r.latencyMs.p50}/${r.latencyMs.p99} ms` : '-');
const fmtCpu = (r?: LoadResult) => (r?.serverCpuUsPerRequest !== undefined ? r.serverCpuUsPerRequest.toFixed(1) : '-');
const table = [
  ['scenario', 'bare req/s', 'basalt req/s', 'ratio', 'bare p50/p99', 'basalt p50/p99', 'CPU µs/req bare/basalt', 'target', 'pass'],
  ...rows.map((r) => [
    r.scenario,
    fmtRps(r.bare),
    fmtRps(r.basalt),
    r.ratio === null ? '-' : r.ratio.toFixed(2),
    fmtLat(r.bare),
    fmtLat(r.basalt),
    `${fmtCpu(r.bare)}/${fmtCpu(r.basalt)}`,
    `>= ${r.target}`,
    r.verdict,
  ]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row: string[]) => '| ' + row.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
const out: string[] = [];
out.push('');
out.push(`Basalt benchmark — ${params.connections} connections, ${params.duration}s per scenario (+${params.warmup}s warm-up), ` +
  `${posts.length} posts, ${cpus().length} CPUs, Node ${process.version}`);
out.push(`bare: node:http + node:sqlite (SQLite)   basalt: ${params.basaltDatabase}` +
  (flags['database-url'] ? '   NOTE: Basalt on PostgreSQL vs a SQLite baseline — the ratio compares different databases' : ''));
out.push(line(table[0]));
out.push('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const row of table.slice(1)) out.push(line(row));
for (const r of rows) {
  for (const [name, res] of [['bare', r.bare], ['basalt', r.basalt]] as const) {
    if (res && (res.non2xx > 0 || res.errors > 0)) {
      out.push(`!!! ${r.scenario}/${name}: ${res.non2xx} non-2xx + ${res.errors} errors of ${res.total} requests — ` +
        `figures INVALID; status codes ${JSON.stringify(res.statusCodes)}; sample ${JSON.stringify(res.sampleFailure)?.slice(0, 400)}`);
    }
  }
  if (r.bare && r.basalt && r.bare.bytesPerResponse > 0) {
    const q = r.basalt.bytesPerResponse / r.bare.bytesPerResponse;
    if (q < 0.67 || q > 1.5) {
      out.push(`note: ${r.scenario}: response sizes differ (bare ${r.bare.bytesPerResponse} B, basalt ${r.basalt.bytesPerResponse} B)`);
    }
  }
}
const viewRps = report.basalt?.scenarios.view?.reqPerSec;
const viewAuthRps = report.basalt?.scenarios['view-auth']?.reqPerSec;
if (viewRps && viewAuthRps) {
  // One server thread saturated: the difference of the per-request times is what the token and rule add.
  out.push(`view-auth vs view: ${(1e6 / viewAuthRps - 1e6 / viewRps).toFixed(1)} µs more per request for token verification + auth rule ` +
    `(${(viewAuthRps / viewRps).toFixed(2)} of anonymous view throughput)`);
}
const missed = rows.filter((r) => r.verdict === 'MISSED').map((r) => r.scenario);
if (missed.length) out.push(`MISSED: ${missed.join(', ')} below target ratio`);
for (const [name, rep] of Object.entries(report)) if (rep?.error) out.push(`FAILED: ${name}: ${rep.error.split('\n').filter((l) => l.trim()).slice(0, 6).join(' / ')}`);
out.push('');
process.stdout.write(out.join('\n') + '\n');

const results = {
  startedAt: started.toISOString(),
  finishedAt: new Date().toISOString(),
  parameters: { ...params, seedCount: posts.length, listFilter: LIST_FILTER, listSort: LIST_SORT, perPage: LIST_PER_PAGE },
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    totalMemMiB: Math.round(totalmem() / 2 ** 20),
    platform: platform(),
    release: release(),
    arch: arch(),
    loadavgAtEnd: loadavg(),
    node: process.version,
    tmpdir: tmpdir(),
  },
  targets: report,
  summary: rows.map((r) => ({
    scenario: r.scenario,
    bareReqPerSec: r.bare?.reqPerSec ?? null,
    basaltReqPerSec: r.basalt?.reqPerSec ?? null,
    ratio: r.ratio,
    target: r.target,
    verdict: r.verdict,
    bareLatencyMs: r.bare?.latencyMs ?? null,
    basaltLatencyMs: r.basalt?.latencyMs ?? null,
  })),
};
const resultsDir = join(BENCH_DIR, 'results');
mkdirSync(resultsDir, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, '-');
const json = JSON.stringify(results, null, 2) + '\n';
writeFileSync(join(resultsDir, `${stamp}.json`), json);
writeFileSync(join(resultsDir, 'latest.json'), json);
log(`results: bench/results/${stamp}.json (and latest.json)`);

if (!flags.keep) rmSync(work, { recursive: true, force: true });
else log(`kept ${work}`);
process.exit(harnessFailed ? 1 : 0);
