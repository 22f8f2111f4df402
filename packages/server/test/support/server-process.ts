/**
 * The real server as a child process, for end-to-end tests that need a process boundary (SIGKILL,
 * SIGTERM, the CLI, exit codes): a fresh data location per dialect, the CLI run to completion, and
 * `serve` started on a free port and polled until `GET /api/health` answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshLocation, type DialectName } from './databases.ts';
import { SUPERUSER_EMAIL, SUPERUSER_PASSWORD } from './app.ts';

/** Absolute path of the CLI entry point. */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Where one server instance keeps its data: a data dir (SQLite) or a PostgreSQL schema, plus a migrations dir. */
export interface ServerData {
  dialect: DialectName;
  /** `--dir` (the SQLite file lives here; on PostgreSQL it only holds local files). */
  dir: string;
  /** `--migrations-dir`. */
  migrationsDir: string;
  /** PostgreSQL URL and schema, when the dialect is PostgreSQL. */
  databaseUrl?: string;
  databaseSchema?: string;
  /** The flags that select this data: `--dir`, `--migrations-dir`, and the PostgreSQL ones. */
  flags(): string[];
  /** Delete the data (drop the schema / remove the directories). */
  cleanup(): Promise<void>;
}

/** A fresh, empty data location for `dialect`. `migrationsDir` may be shared between instances. */
export function freshServerData(dialect: DialectName, opts: { migrationsDir?: string } = {}): ServerData {
  const loc = freshLocation(dialect);
  const dir = loc.dir ?? mkdtempSync(join(tmpdir(), 'basalt-e2e-'));
  const ownMigrations = !opts.migrationsDir;
  const migrationsDir = opts.migrationsDir ?? mkdtempSync(join(tmpdir(), 'basalt-migrations-'));
  return {
    dialect,
    dir,
    migrationsDir,
    databaseUrl: loc.url,
    databaseSchema: loc.schema,
    flags() {
      const f = ['--dir', dir, '--migrations-dir', migrationsDir];
      if (loc.url) f.push('--database-url', loc.url, '--database-schema', loc.schema!);
      return f;
    },
    async cleanup() {
      await loc.cleanup();
      rmSync(dir, { recursive: true, force: true });
      if (ownMigrations) rmSync(migrationsDir, { recursive: true, force: true });
    },
  };
}

/** The outcome of a CLI run. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for children: no `BASALT_*` variables leak in from the test runner's environment. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BASALT_') && !k.startsWith('NODE_TEST')) env[k] = v;
  return env;
}

/** Run `basalt ARGS…` to completion (same Node binary as the tests); `env` adds variables (e.g. `BASALT_*`). */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...childEnv(), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`basalt ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Run several CLI invocations, at most `concurrency` at a time (results in order): a burst of Node
 * processes on a busy machine makes each one slow enough to hit its timeout.
 */
export async function runClis(runs: { args: string[]; env?: Record<string, string> }[], opts: { timeoutMs?: number; concurrency?: number } = {}): Promise<CliResult[]> {
  const out: CliResult[] = new Array(runs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, runs.length) }, async () => {
    while (next < runs.length) {
      const i = next++;
      out[i] = await runCli(runs[i].args, { timeoutMs: opts.timeoutMs ?? 60_000, env: runs[i].env });
    }
  }));
  return out;
}

/** Run the CLI and fail (with its output) unless it exits 0. */
export async function runCliOk(args: string[]): Promise<CliResult> {
  const r = await runCli(args);
  if (r.code !== 0) throw new Error(`basalt ${args.join(' ')} exited ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A running `basalt serve` child. */
export interface ServerProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Everything the process wrote so far (stdout then stderr), for failure messages. */
  output(): string;
  /** Sign in as the test superuser; answers the token. */
  superuserToken(): Promise<string>;
  /** `fetch` relative to `url`; JSON bodies are serialised, `token` goes to `Authorization`. */
  request(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; text: string }>;
  /** SIGTERM, then wait for the exit; throws (with the output) unless it exits 0 within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL and wait until the process is gone. */
  kill(): Promise<void>;
  /** Resolves with the exit code and signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options for `startServer`. */
export interface StartOptions {
  /** Extra `serve` flags (e.g. `--automigrate`). */
  args?: string[];
  /** Upsert the test superuser through the CLI first (default true). */
  superuser?: boolean;
  /** How long to wait for readiness (default 20 s). */
  readyTimeoutMs?: number;
  /** Extra environment variables for the server (e.g. `BASALT_LOG_FORMAT`). */
  env?: Record<string, string>;
}

/** Upsert the test superuser (`SUPERUSER_EMAIL` / `SUPERUSER_PASSWORD`) through the CLI. */
export async function upsertSuperuser(data: ServerData): Promise<void> {
  await runCliOk(['superuser', 'upsert', SUPERUSER_EMAIL, SUPERUSER_PASSWORD, ...data.flags()]);
}

/** Start `basalt serve` on `data` and wait until it answers `GET /api/health`. */
export async function startServer(data: ServerData, opts: StartOptions = {}): Promise<ServerProcess> {
  if (opts.superuser !== false) await upsertSuperuser(data);
  // Port 0: the kernel picks a free port at listen time and the server prints it. (Choosing a free port
  // first and passing it on races with other test processes: one of them may take it in between, and
  // its server would then answer this test's requests.)
  const child = spawn(process.execPath, [CLI_PATH, 'serve', '--http', '127.0.0.1:0', ...data.flags(), ...(opts.args ?? [])], {
    env: { ...childEnv(), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const output = () => `--- stdout ---\n${stdout.slice(-8000)}\n--- stderr ---\n${stderr.slice(-8000)}`;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  let url = '';
  for (;;) {
    if (gone) throw new Error(`basalt serve exited before it was ready (${JSON.stringify(await exited)})\n${output()}`);
    url ||= /serving at (https?:\/\/[^\s"]+) /.exec(stdout)?.[1] ?? '';
    if (url) {
      try {
        const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) break;
      } catch {
        // not answering yet
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`basalt serve was not ready within ${opts.readyTimeoutMs ?? 20_000} ms\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const request: ServerProcess['request'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers.authorization = o.token;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text };
  };

  const waitExit = async (timeoutMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const r = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    return r;
  };

  return {
    child,
    url,
    port: Number(new URL(url).port),
    output,
    exited,
    request,
    async superuserToken() {
      const r = await request('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: SUPERUSER_EMAIL, password: SUPERUSER_PASSWORD } });
      if (r.status !== 200) throw new Error(`superuser sign-in: ${r.status} ${r.text}`);
      return (r.body as { token: string }).token;
    },
    async stop(timeoutMs = 5000) {
      if (!gone) child.kill('SIGTERM');
      const r = await waitExit(timeoutMs);
      if (r === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`basalt serve did not exit within ${timeoutMs} ms of SIGTERM\n${output()}`);
      }
      if (r.code !== 0) throw new Error(`basalt serve exited with ${r.code ?? r.signal} after SIGTERM\n${output()}`);
    },
    async kill() {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
  };
}
