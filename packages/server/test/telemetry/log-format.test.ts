/**
 * Log format: JSON lines when standard output is not a terminal (log shippers), human-readable
 * pino-pretty lines on a terminal, and `logFormat` (`--log-format`, `BASALT_LOG_FORMAT`) forces either.
 * The terminal is a real pseudo-terminal (util-linux `script`), the server a real `basalt serve`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_PATH } from '../support/server-process.ts';
import { prettyLogs } from '../../src/telemetry/index.ts';

/** Start `basalt serve` (on a pseudo-terminal when `tty`), collect its output until it is serving, stop it. */
async function serveOutput(opts: { tty: boolean; args?: string[]; env?: Record<string, string> }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'basalt-logfmt-'));
  try {
    const argv = [process.execPath, CLI_PATH, 'serve', '--http', '127.0.0.1:0', '--dir', dir, '--migrations-dir', join(dir, 'm'), ...(opts.args ?? [])];
    const env: NodeJS.ProcessEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BASALT_') && !k.startsWith('NODE_TEST'))), ...opts.env };
    if (opts.tty && spawnSync('script', ['--version'], { stdio: 'ignore' }).status !== 0) assert.fail('this test needs util-linux `script` for a pseudo-terminal');
    const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = opts.tty
      ? spawn('script', ['-qfec', quoted, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
      : spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
    const exited = new Promise((r) => child.on('exit', r));
    for (const deadline = Date.now() + 30_000; !/serving at/.test(out); ) {
      if (Date.now() > deadline) {
        process.kill(-child.pid!, 'SIGKILL');
        assert.fail(`basalt serve did not start\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 300));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
const jsonLines = (s: string) => plain(s).split('\n').filter((l) => l.trim().startsWith('{"level"'));
const isJsonLog = (s: string) => {
  const lines = jsonLines(s);
  return lines.length > 0 && lines.every((l) => { const j = JSON.parse(l) as { level?: string; time?: string }; return typeof j.level === 'string' && typeof j.time === 'string'; });
};

describe('log format', () => {
  it('prettyLogs: auto follows the terminal, json and pretty force', () => {
    const table: [Parameters<typeof prettyLogs>[0], boolean, boolean][] = [
      ['auto', true, true], ['auto', false, false], ['json', true, false], ['json', false, false], ['pretty', true, true], ['pretty', false, true],
    ];
    for (const [format, tty, pretty] of table) assert.equal(prettyLogs(format, tty), pretty, `${format} on ${tty ? 'a terminal' : 'a pipe'}`);
  });

  const cases: { name: string; tty: boolean; args?: string[]; env?: Record<string, string>; pretty: boolean }[] = [
    { name: 'a pipe (auto): JSON lines', tty: false, pretty: false },
    { name: 'a terminal (auto): human-readable lines', tty: true, pretty: true },
    { name: 'a terminal with BASALT_LOG_FORMAT=json: JSON lines', tty: true, env: { BASALT_LOG_FORMAT: 'json' }, pretty: false },
    { name: 'a pipe with --log-format pretty: human-readable lines', tty: false, args: ['--log-format', 'pretty'], pretty: true },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const out = await serveOutput(c);
      if (c.pretty) {
        assert.equal(jsonLines(out).length, 0, `no JSON lines:\n${out}`);
        assert.match(plain(out), /\bINFO\b.*serving at http:\/\/127\.0\.0\.1:\d+/, out);
        assert.match(plain(out), /\bWARN\b.*superuser upsert/, out);
      } else {
        assert.ok(isJsonLog(out), `JSON lines:\n${out}`);
        assert.ok(jsonLines(out).some((l) => (JSON.parse(l) as { msg?: string }).msg?.includes('serving at')), out);
      }
    });
  }
});
