/**
 * Configuration errors explain themselves: every bad configuration — in the file, the environment or
 * the flags, checked after merging against one schema — makes `basalt` exit 2 with the key path and
 * what was expected on stderr, never a crash (`Cannot read properties of undefined`) and never a
 * silently ignored typo. Run through the CLI as a child process, as users meet it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/server-process.ts';
import { unknownEnvironmentVariables } from '../../src/app/index.ts';

interface BadConfig {
  name: string;
  /** The config file's content (an object is written as JSON, a string as is). */
  file?: unknown;
  env?: Record<string, string>;
  args?: string[];
  /** Key paths stderr must name. */
  paths: string[];
  /** Other text stderr must contain (the origin of the value, a suggestion). */
  mentions?: string[];
  /** Text that must not appear (secrets). */
  hides?: string[];
}

const cases: BadConfig[] = [
  { name: 'a port that is not a number', file: { http: { port: 'abc' } }, paths: ['http.port'], mentions: ['"abc"'] },
  { name: 'a port out of range', file: { http: { host: '127.0.0.1', port: 70000 } }, paths: ['http.port'] },
  { name: 'an http address that is not host:port', file: { http: 'localhost' }, paths: ['http'] },
  { name: 'a misspelt top-level key', file: { htpp: '127.0.0.1:8090' }, paths: ['htpp'], mentions: ['"http"'] },
  { name: 'a misspelt nested key', file: { http: { hots: '127.0.0.1', port: 8090 } }, paths: ['http.hots'] },
  { name: 'a misspelt rate limit', file: { rateLimits: { signInPerIP: 3 } }, paths: ['rateLimits.signInPerIP'], mentions: ['"signInPerIp"'] },
  { name: 'a negative rate limit', file: { rateLimits: { signInPerIp: -1 } }, paths: ['rateLimits.signInPerIp'] },
  { name: 'a log level that does not exist', file: { logLevel: 'chatty' }, paths: ['logLevel'] },
  { name: 'a log format that does not exist', file: { logFormat: 'xml' }, paths: ['logFormat'] },
  { name: 'a boolean given as text', file: { automigrate: 'yes' }, paths: ['automigrate'] },
  { name: 'a list given as a string', file: { trustedProxies: '10.0.0.0/8' }, paths: ['trustedProxies'] },
  { name: 'a bad list item', file: { corsOrigins: ['https://app.example.com', 'null'] }, paths: ['corsOrigins[1]'] },
  { name: 'a bad proxy range', file: { trustedProxies: ['10.0.0.0/33'] }, paths: ['trustedProxies[0]'] },
  { name: 'an SMTP port that is not a number', file: { smtp: { host: 'smtp.example.com', port: 'x', from: { address: 'a@example.com' } } }, paths: ['smtp.port'] },
  { name: 'a misspelt SMTP sender member', file: { smtp: { from: { adress: 'a@example.com' } } }, paths: ['smtp.from.adress'] },
  { name: 'an SMTP host without a sender', file: { smtp: { host: 'smtp.example.com' } }, paths: ['smtp.from.address'] },
  { name: 'a body limit below the minimum', file: { bodyLimit: 10 }, paths: ['bodyLimit'] },
  { name: 'a database URL that is not PostgreSQL', file: { databaseUrl: 'mysql://u:hunter2@db/x' }, paths: ['databaseUrl'], hides: ['hunter2'] },
  { name: 'a metrics token that is too short (never echoed)', file: { metrics: { token: 'sekrit' } }, paths: ['metrics.token'], hides: ['sekrit'] },
  { name: 'a metrics listener that is not an address', file: { metrics: { http: 'nope' } }, paths: ['metrics.http'] },
  { name: 'a metrics listener on the public address', file: { http: '127.0.0.1:18090', metrics: { http: '127.0.0.1:18090' } }, paths: ['metrics.http'] },
  { name: 'a headers timeout below the minimum', file: { timeouts: { headersMs: 5 } }, paths: ['timeouts.headersMs'] },
  { name: 'a request timeout shorter than the headers timeout', file: { timeouts: { headersMs: 20000, requestMs: 15000 } }, paths: ['timeouts.requestMs'] },
  { name: 'both names of the data directory', file: { dir: '/tmp/a', dataDir: '/tmp/b' }, paths: ['dir'] },
  { name: 'an encryption key that does not parse (never echoed)', file: { encryptionKeys: ['k1:not-base64-secret'] }, paths: ['encryptionKeys'], hides: ['not-base64-secret'] },
  { name: 'a TLS certificate without its key', file: { tlsCert: '/etc/hostname' }, paths: ['tlsKey'] },
  { name: 'several problems at once, each named', file: { http: { port: 'abc' }, logLevle: 'debug', timeouts: { keepAliveMs: 'long' } }, paths: ['http.port', 'logLevle', 'timeouts.keepAliveMs'], mentions: ['"logLevel"'] },
  { name: 'an environment variable that is not a number', env: { BASALT_BODY_LIMIT: 'abc' }, paths: ['bodyLimit'], mentions: ['BASALT_BODY_LIMIT'] },
  { name: 'an environment address with a port out of range', env: { BASALT_HTTP: '127.0.0.1:99999' }, paths: ['http.port'], mentions: ['BASALT_HTTP'] },
  { name: 'an environment list with a bad member', env: { BASALT_TRUSTED_PROXIES: '10.0.0.0/8,not-an-ip' }, paths: ['trustedProxies[1]'], mentions: ['BASALT_TRUSTED_PROXIES'] },
  { name: 'a flag with an incomplete address', args: ['--http', '127.0.0.1:'], paths: ['http'], mentions: ['--http'] },
  { name: 'a flag with a bad metrics address', args: ['--metrics-http', 'x:y'], paths: ['metrics.http'], mentions: ['--metrics-http'] },
  { name: 'the file value named with its origin, the environment winning over it', file: { bodyLimit: 2048 }, env: { BASALT_BODY_LIMIT: '-5' }, paths: ['bodyLimit'], mentions: ['BASALT_BODY_LIMIT'] },
  { name: 'a file that is not an object', file: '[1, 2]', paths: [], mentions: ['JSON object'] },
  { name: 'a file that is not JSON', file: '{"http": ', paths: [], mentions: ['not valid JSON'] },
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('configuration validation (basalt serve as a child process)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'basalt-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function fileArgs(c: BadConfig, i: number): string[] {
    if (c.file === undefined) return [];
    const path = join(dir, `case-${i}.json`);
    writeFileSync(path, typeof c.file === 'string' ? c.file : JSON.stringify(c.file));
    return ['--config', path];
  }

  // One test per case (each with its own time budget), four child processes at a time.
  describe('each bad configuration exits 2 and names its key path and what was expected', { concurrency: 4 }, () => {
    cases.forEach((c, i) => {
      it(c.name, async () => {
        const data = join(dir, `data-${i}`);
        // No --http here: flags win over the file, and some cases are about the file's http.
        const r = await runCli(['serve', '--dir', data, '--migrations-dir', join(data, 'migrations'), ...fileArgs(c, i), ...(c.args ?? [])], { env: c.env, timeoutMs: 60_000 });
        const detail = `exit ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 500)}`;
        assert.equal(r.code, 2, detail);
        assert.match(r.stderr, /^basalt: \S/, detail);
        assert.doesNotMatch(r.stderr, /Cannot read properties|TypeError|at .*\.ts:\d+/, `no crash: ${detail}`);
        assert.doesNotMatch(r.stdout, /serving at/, `did not start: ${detail}`);
        for (const p of c.paths) assert.match(r.stderr, new RegExp(`(^|\\s)${escape(p)}[ :]`), `names ${p}: ${detail}`);
        for (const m of c.mentions ?? []) assert.ok(r.stderr.includes(m), `mentions ${m}: ${detail}`);
        for (const h of c.hides ?? []) assert.ok(!r.stderr.includes(h) && !r.stdout.includes(h), `never echoes ${h}: ${detail}`);
        assert.ok(!existsSync(join(data, 'data.db')), `touched no database: ${detail}`);
      });
    });
  });

  it('a misspelt BASALT_* variable is reported (serve warns about it), the suite\'s own are not', () => {
    const env = { BASALT_LOGLEVEL: 'debug', BASALT_HTTP: '127.0.0.1:1', BASALT_SMTP_HOST: '', BASALT_TEST_DATABASE_URL: 'x', BASALT_BENCH_CLI: 'x', PATH: '/bin' };
    assert.deepEqual(unknownEnvironmentVariables(env), ['BASALT_LOGLEVEL']);
  });

  it('a partial http object keeps the default host (the file {"http":{"port":N}} alone is enough)', async () => {
    const path = join(dir, 'port-only.json');
    writeFileSync(path, JSON.stringify({ http: { port: 0 }, dir: join(dir, 'port-only') }));
    // `migrate status` reads the whole configuration and opens the data, without listening.
    const r = await runCli(['migrate', 'status', '--config', path, '--migrations-dir', join(dir, 'port-only', 'migrations')], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'port-only', 'data.db')), '"dir" is accepted as the documented alias of "dataDir"');
  });
});
