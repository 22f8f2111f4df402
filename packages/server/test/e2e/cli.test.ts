/**
 * The `basalt` command as users run it: help and exit codes (0 ok, 1 failure, 2 usage/config error),
 * `migrate create`, the automigrate round trip (schema changes made through the API on one instance
 * become migration files that rebuild the same schema on another: `migrate up`, `status`, `down`),
 * and a graceful SIGTERM that lets an in-flight request finish.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialects } from '../support/databases.ts';
import { freshServerData, runCli, runCliOk, runClis, startServer, type ServerData, type ServerProcess } from '../support/server-process.ts';

type Json = Record<string, any>;

/** Collections as the API lists them, without timestamps, by name. */
async function schemaOf(s: ServerProcess, token: string): Promise<Json[]> {
  const r = await s.request('GET', '/api/collections?perPage=1000', { token });
  assert.equal(r.status, 200, r.text);
  return (r.body.items as Json[])
    .map(({ created: _c, updated: _u, ...rest }) => rest)
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

/** A record without its autodate values. */
function withoutDates(r: Json): Json {
  const { created: _c, updated: _u, ...rest } = r;
  return rest;
}

/** Same data location, other migrations dir. */
function withMigrationsDir(data: ServerData, migrationsDir: string): ServerData {
  return {
    ...data,
    migrationsDir,
    flags: () => {
      const f = data.flags();
      f[f.indexOf('--migrations-dir') + 1] = migrationsDir;
      return f;
    },
  };
}

/** Wait until the wall clock is in a later second than `t` (migration file names have second resolution). */
async function nextSecond(t: number): Promise<void> {
  while (Math.floor(Date.now() / 1000) <= Math.floor(t / 1000)) await new Promise((r) => setTimeout(r, 20));
}

for (const dialect of dialects()) {
  describe(`basalt CLI (${dialect})`, () => {
    it('--help prints usage and exits 0 for every command', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const cases: [string[], RegExp][] = [
        [['--help'], /Usage: basalt <command>[\s\S]*serve[\s\S]*superuser upsert[\s\S]*migrate/],
        [['help'], /Usage: basalt <command>/],
        [[], /Usage: basalt <command>/],
        [['serve', '--help', ...data.flags()], /Usage: basalt serve[\s\S]*--http HOST:PORT[\s\S]*--automigrate[\s\S]*--database-url/],
        [['serve', '-h'], /Usage: basalt serve/],
        [['superuser', '--help'], /Usage: basalt superuser upsert EMAIL PASSWORD/],
        [['migrate', '--help'], /Usage: basalt migrate[\s\S]*up[\s\S]*down \[N\][\s\S]*status[\s\S]*create NAME/],
      ];
      const results = await runClis(cases.map(([args]) => ({ args })));
      results.forEach((r, i) => {
        const [args, usage] = cases[i];
        assert.equal(r.code, 0, `basalt ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stdout, usage, `basalt ${args.join(' ')}`);
        assert.equal(r.stderr, '');
      });
      // `serve --help` must not have started anything (it returned instead of listening).
      assert.equal(existsSync(join(data.dir, 'data.db')), false, 'serve --help opened no database');
      const v = await runCli(['--version']);
      assert.equal(v.code, 0);
      assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+/);
    });

    it('usage and configuration errors exit 2 with a message on stderr', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      // The bad option comes after the data flags: for a repeated option the last one wins.
      const cases: string[][] = [
        ['frobnicate'],
        ['serve', ...data.flags(), '--no-such-flag'],
        ['serve', ...data.flags(), 'extra-positional'],
        ['serve', ...data.flags(), '--http', 'not-an-address'],
        ['serve', ...data.flags(), '--http', '127.0.0.1:99999'],
        ['serve', ...data.flags(), '--http', '127.0.0.1:'],
        ['serve', ...data.flags(), '--log-level', 'chatty'],
        ['serve', ...data.flags(), '--database-url', 'mysql://x@localhost/db'],
        ['serve', ...data.flags(), '--database-schema', 'Bad-Schema!'],
        ['superuser', ...data.flags(), 'upsert', 'only-email@example.com'],
        ['superuser', ...data.flags(), 'delete', 'a@example.com', 'password123'],
        ['migrate', ...data.flags(), 'sideways'],
        ['migrate', ...data.flags(), 'create'],
        ['migrate', ...data.flags(), 'up', '--bogus'],
        ['migrate', ...data.flags(), 'down', '0'],
        ['migrate', ...data.flags(), 'down', 'many'],
        ['migrate', ...data.flags(), 'up', 'extra'],
      ];
      const results = await runClis(cases.map((args) => ({ args })));
      results.forEach((r, i) => {
        const args = cases[i].join(' ');
        assert.equal(r.code, 2, `basalt ${args} → ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
        assert.match(r.stderr, /^basalt: \S/, `basalt ${args} explains itself on stderr`);
        assert.doesNotMatch(r.stdout, /serving at/, `basalt ${args} did not start serving`);
      });
      assert.match(results[0].stderr, /unknown command "frobnicate"/);
      assert.match(results[3].stderr, /--http/);
    });

    it('a runtime failure exits 1: a broken migration stops `migrate up`', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const created = await runCliOk(['migrate', 'create', 'broken', ...data.flags()]);
      const file = /created (\S+)/.exec(created.stdout)![1];
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(data.migrationsDir, file), `export default { async up(m) { throw new Error('boom in up'); }, async down(m) {} };\n`);
      const r = await runCli(['migrate', 'up', ...data.flags()]);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /boom in up/);
      const status = await runCliOk(['migrate', 'status', ...data.flags()]);
      assert.match(status.stdout, new RegExp(`pending\\s+${file.replace('.', '\\.')}`), 'a failed migration stays pending');
    });

    it('migrate create writes an empty migration file; status lists it as pending', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const r = await runCliOk(['migrate', 'create', 'Add Posts Index!', ...data.flags()]);
      const files = readdirSync(data.migrationsDir);
      assert.equal(files.length, 1);
      assert.match(files[0], /^\d{10}_add_posts_index\.js$/);
      assert.match(r.stdout, new RegExp(`created ${files[0].replace('.', '\\.')}`));
      const text = readFileSync(join(data.migrationsDir, files[0]), 'utf8');
      assert.match(text, /export default/);
      assert.match(text, /async up\(m\)/);
      assert.match(text, /async down\(m\)/);
      const again = await runCliOk(['migrate', 'create', 'add posts index', ...data.flags()]);
      assert.equal(readdirSync(data.migrationsDir).length, 2, `a second file with the same name gets a new name: ${again.stdout}`);
      const status = await runCliOk(['migrate', 'status', ...data.flags()]);
      const lines = status.stdout.trim().split('\n');
      assert.equal(lines.length, 2, status.stdout);
      for (const l of lines) assert.match(l, /^pending\s+\d{10}_add_posts_index(_1)?\.js$/);
      // The empty migrations apply (they do nothing) and are recorded.
      const up = await runCliOk(['migrate', 'up', ...data.flags()]);
      assert.equal(up.stdout.trim().split('\n').filter((l) => l.startsWith('applied ')).length, 2, up.stdout);
      const up2 = await runCliOk(['migrate', 'up', ...data.flags()]);
      assert.match(up2.stdout, /nothing to apply/);
    });

    it('automigrate files sort in the order the schema changes were made', async (t) => {
      const a = freshServerData(dialect);
      t.after(() => a.cleanup());
      const server = await startServer(a, { args: ['--automigrate'] });
      t.after(() => server.kill());
      const token = await server.superuserToken();
      // A user creates "tags" first, then "posts" pointing at it: applied elsewhere, the files must run
      // in that order or the relation target does not exist yet.
      const order: string[] = [];
      const seen = new Set<string>();
      const step = async (method: string, path: string, body?: unknown) => {
        const r = await server.request(method, path, { token, body });
        assert.ok(r.status === 200 || r.status === 204, `${method} ${path}: ${r.status} ${r.text}`);
        const fresh = readdirSync(a.migrationsDir).filter((f) => !seen.has(f));
        assert.equal(fresh.length, 1, `one new migration file per schema change (${method} ${path}): ${fresh.join(', ')}`);
        seen.add(fresh[0]);
        order.push(fresh[0]);
      };
      await step('POST', '/api/collections', { name: 'tags', fields: [{ name: 'label', type: 'text' }] });
      await step('POST', '/api/collections', { name: 'posts', fields: [{ name: 'title', type: 'text' }, { name: 'tag', type: 'relation', collectionId: 'tags', maxSelect: 1 }] });
      await step('POST', '/api/collections', { name: 'drafts', fields: [{ name: 'x', type: 'text' }] });
      await step('DELETE', '/api/collections/drafts');
      await step('POST', '/api/collections', { name: 'drafts', fields: [{ name: 'y', type: 'text' }] });
      for (let i = 0; i < 11; i++) await step('PATCH', '/api/collections/posts', { listRule: `title != "${i}"` });
      await server.stop();

      const status = await runCliOk(['migrate', 'status', ...a.flags()]);
      const listed = status.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop());
      assert.deepEqual(listed, order, 'migrate status / migrate up order = the order the changes were made');

      // The consequence: another instance cannot rebuild the schema from these files.
      const b = freshServerData(dialect, { migrationsDir: a.migrationsDir });
      t.after(() => b.cleanup());
      const up = await runCli(['migrate', 'up', ...b.flags()]);
      assert.equal(up.code, 0, `migrate up on a fresh instance: ${up.stdout}\n${up.stderr}`);
    });

    it('automigrate round trip: API schema changes on A → files → migrate up on B gives the same schema; status; down', async (t) => {
      const a = freshServerData(dialect);
      const b = freshServerData(dialect, { migrationsDir: a.migrationsDir });
      const emptyMigrations = mkdtempSync(join(tmpdir(), 'basalt-nomigrations-'));
      const servers: ServerProcess[] = [];
      t.after(async () => {
        for (const s of servers) await s.kill();
        await a.cleanup();
        await b.cleanup();
        rmSync(emptyMigrations, { recursive: true, force: true });
      });

      const A = await startServer(a, { args: ['--automigrate'] });
      servers.push(A);
      const logLines = A.output().split('\n').filter((l) => l.startsWith('{'));
      assert.ok(logLines.length > 0 && logLines.every((l) => { const j = JSON.parse(l); return j.level !== undefined && typeof j.time !== 'undefined'; }), 'logs are pino JSON on stdout');
      assert.ok(logLines.some((l) => String(JSON.parse(l).msg).includes('serving at')), 'a "serving at" line announces readiness');
      const ta = await A.superuserToken();
      const api = async (method: string, path: string, body?: unknown) => {
        const r = await A.request(method, path, { token: ta, body });
        assert.ok(r.status === 200 || r.status === 204, `${method} ${path}: ${r.status} ${r.text}`);
        return r.body as Json;
      };
      // Creation order sorts the same as names would, so this test does not depend on file-name order.
      await api('POST', '/api/collections', {
        name: 'authors', type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: null, deleteRule: null,
        fields: [{ name: 'name', type: 'text', required: true, max: 50 }],
      });
      await api('POST', '/api/collections', {
        name: 'posts', type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'title', type: 'text', required: true },
          { name: 'views', type: 'number', min: 0 },
          { name: 'legacy', type: 'text' },
          { name: 'status', type: 'select', values: ['draft', 'published', 'archived'], maxSelect: 1 },
          { name: 'author', type: 'relation', collectionId: 'authors', maxSelect: 1 },
          { name: 'created', type: 'autodate', onCreate: true },
        ],
        indexes: [{ name: 'posts_by_views', columns: ['-views'] }],
      });
      await api('POST', '/api/collections', { name: 'scratch', type: 'base', fields: [{ name: 'note', type: 'text' }] });
      await api('POST', '/api/collections/authors/records', { id: 'authoraaaaaaaaa', name: 'Ada' });
      await api('POST', '/api/collections/posts/records', { id: 'postbeforechang', title: 'Before', views: 7, legacy: 'old', status: 'draft', author: 'authoraaaaaaaaa' });

      const author = { id: 'authorbbbbbbbbb', name: 'Grace' };
      const post = { id: 'postafterchange', title: 'After', hits: 3, status: ['draft', 'published'], author: 'authorbbbbbbbbb', summary: 'short' };
      const bad = { title: 'Bad', status: ['nope'], hits: -1 };
      async function writeSame(s: ServerProcess, tok: string): Promise<Json> {
        const ra = await s.request('POST', '/api/collections/authors/records', { token: tok, body: author });
        const rp = await s.request('POST', '/api/collections/posts/records?expand=author', { token: tok, body: post });
        const rb = await s.request('POST', '/api/collections/posts/records', { token: tok, body: bad });
        const rl = await s.request('GET', `/api/collections/posts/records?filter=${encodeURIComponent('status ?= "published" && hits < 5')}`);
        return {
          author: [ra.status, withoutDates(ra.body)],
          post: [rp.status, withoutDates({ ...rp.body, expand: { author: withoutDates(rp.body.expand?.author ?? {}) } })],
          bad: [rb.status, rb.body?.code, Object.keys(rb.body?.data ?? {}).sort()],
          list: [rl.status, (rl.body?.items ?? []).map((x: Json) => x.id)],
        };
      }
      const fieldsOf = async () => ((await api('GET', '/api/collections/posts')).fields as Json[]);
      // add a field
      await api('PATCH', '/api/collections/posts', { fields: [...(await fieldsOf()), { name: 'summary', type: 'text', max: 200 }] });
      // rename a field (same id, new name)
      // (the index on the field is renamed in the same request: Basalt's portable indexes name columns)
      await api('PATCH', '/api/collections/posts', {
        fields: (await fieldsOf()).map((f) => (f.name === 'views' ? { ...f, name: 'hits' } : f)),
        indexes: [{ name: 'posts_by_hits', columns: ['-hits'] }],
      });
      // remove a field
      await api('PATCH', '/api/collections/posts', { fields: (await fieldsOf()).filter((f) => f.name !== 'legacy') });
      // single select → multi select, and a rule change
      await api('PATCH', '/api/collections/posts', { fields: (await fieldsOf()).map((f) => (f.name === 'status' ? { ...f, maxSelect: 3 } : f)), listRule: 'status ?= "published"' });
      // The last change in a later second, so that it is deterministically the last file.
      await nextSecond(Date.now());
      await api('DELETE', '/api/collections/scratch');

      const files = readdirSync(a.migrationsDir).sort();
      assert.equal(files.length, 8, `one file per schema change: ${files.join(', ')}`);
      for (const f of files) assert.match(f, /^\d{10}_(created|updated|deleted)_[a-z0-9_]+\.js$/);
      assert.match(files[files.length - 1], /_deleted_scratch\.js$/);
      assert.equal(files.filter((f) => /_created_/.test(f)).length, 3);
      assert.equal(files.filter((f) => /_updated_posts/.test(f)).length, 4);

      // A's own data went through the changes.
      const before = await api('GET', '/api/collections/posts/records/postbeforechang');
      assert.equal(before.hits, 7);
      assert.deepEqual(before.status, ['draft']);
      assert.equal('legacy' in before, false);
      assert.equal('views' in before, false);
      assert.equal(before.summary, '');
      // The tables accept the same records, and refuse the same bad ones (A now, B after migrate up).
      const answerA = await writeSame(A, ta);
      assert.equal(answerA.post[0], 200, JSON.stringify(answerA));
      assert.deepEqual(answerA.bad.slice(0, 1), [400]);
      assert.deepEqual(answerA.list, [200, ['postafterchange']]);
      // The files are recorded as applied on A (the changes already happened there).
      const schemaA = await schemaOf(A, ta);
      await A.stop();
      const statusA = await runCliOk(['migrate', 'status', ...a.flags()]);
      assert.equal(statusA.stdout.trim().split('\n').filter((l) => l.startsWith('applied')).length, 8, statusA.stdout);

      // B: a fresh database, the same files.
      const statusB0 = await runCliOk(['migrate', 'status', ...b.flags()]);
      assert.deepEqual(statusB0.stdout.trim().split('\n').map((l) => l.split(/\s+/)), files.map((f) => ['pending', f]));
      const up = await runCliOk(['migrate', 'up', ...b.flags()]);
      assert.deepEqual(up.stdout.trim().split('\n'), files.map((f) => `applied ${f}`));
      const statusB = await runCliOk(['migrate', 'status', ...b.flags()]);
      const statusLines = statusB.stdout.trim().split('\n');
      assert.equal(statusLines.length, 8);
      statusLines.forEach((l, i) => assert.match(l, new RegExp(`^applied \\d{4}-\\d\\d-\\d\\d[ T][\\d:.]+Z?\\s+${files[i].replace('.', '\\.')}$`)));
      assert.match((await runCliOk(['migrate', 'up', ...b.flags()])).stdout, /nothing to apply/);

      const B = await startServer(b);
      servers.push(B);
      const tb = await B.superuserToken();
      const schemaB = await schemaOf(B, tb);
      assert.deepEqual(schemaB.map((c) => c.name), ['_roles', '_superusers', 'authors', 'posts']);
      assert.deepEqual(schemaB, schemaA, 'B has exactly the collections of A (ids, fields, rules, indexes)');
      const posts = schemaB.find((c) => c.name === 'posts')!;
      assert.deepEqual(posts.fields.map((f: Json) => f.name), ['id', 'title', 'hits', 'status', 'author', 'created', 'summary']);

      assert.deepEqual(await writeSame(B, tb), answerA, 'A and B answer the same writes the same way');

      // migrate down reverts the last migration (the delete of "scratch": down re-creates it).
      await B.stop();
      const down = await runCliOk(['migrate', 'down', ...b.flags()]);
      assert.equal(down.stdout.trim(), `reverted ${files[files.length - 1]}`);
      const statusDown = (await runCliOk(['migrate', 'status', ...b.flags()])).stdout.trim().split('\n');
      assert.match(statusDown[statusDown.length - 1], new RegExp(`^pending\\s+${files[files.length - 1].replace('.', '\\.')}$`));
      assert.equal(statusDown.filter((l) => l.startsWith('applied')).length, 7);
      // Serve B without the migration files, so serve does not re-apply the reverted one.
      const B2 = await startServer(withMigrationsDir(b, emptyMigrations));
      servers.push(B2);
      const tb2 = await B2.superuserToken();
      const schemaDown = await schemaOf(B2, tb2);
      assert.deepEqual(schemaDown.map((c) => c.name), ['_roles', '_superusers', 'authors', 'posts', 'scratch']);
      const scratch = await B2.request('POST', '/api/collections/scratch/records', { token: tb2, body: { note: 'back again' } });
      assert.equal(scratch.status, 200, scratch.text);
      await B2.stop();
      // Down twice more: the select goes back to single, then the removed field comes back.
      const down2 = await runCliOk(['migrate', 'down', '2', ...b.flags()]);
      assert.deepEqual(down2.stdout.trim().split('\n'), [`reverted ${files[6]}`, `reverted ${files[5]}`]);
      const B3 = await startServer(withMigrationsDir(b, emptyMigrations));
      servers.push(B3);
      const tb3 = await B3.superuserToken();
      const posts3 = (await schemaOf(B3, tb3)).find((c) => c.name === 'posts')!;
      assert.deepEqual(posts3.fields.map((f: Json) => f.name), ['id', 'title', 'hits', 'legacy', 'status', 'author', 'created', 'summary']);
      assert.equal(posts3.fields.find((f: Json) => f.name === 'status').maxSelect, 1);
      const kept = await B3.request('GET', '/api/collections/posts/records/postafterchange', { token: tb3 });
      assert.equal(kept.status, 200, kept.text);
      assert.equal(kept.body.status, 'published', 'multi → single keeps the last value (as PocketBase)');
      assert.equal(kept.body.legacy, '');
      await B3.stop();
    });

    it('SIGTERM lets an in-flight request finish, then exits 0', async (t) => {
      const data = freshServerData(dialect);
      const servers: ServerProcess[] = [];
      t.after(async () => {
        for (const s of servers) await s.kill();
        await data.cleanup();
      });
      // debug level: Fastify logs "incoming request" once a request is routed, which tells us it is in flight.
      const server = await startServer(data, { args: ['--log-level', 'debug'] });
      servers.push(server);
      const token = await server.superuserToken();
      const c = await server.request('POST', '/api/collections', { token, body: { name: 'notes', createRule: '', fields: [{ name: 'text', type: 'text' }] } });
      assert.equal(c.status, 200, c.text);

      // A create whose body arrives in two parts, over a keep-alive connection (as browsers, fetch and the
      // SDK use): the request is in flight while the signal arrives.
      const body = JSON.stringify({ id: 'inflightnote001', text: 'x'.repeat(5000) });
      const half = Math.floor(body.length / 2);
      const agent = new Agent({ keepAlive: true });
      t.after(() => agent.destroy());
      let finish!: () => void;
      const pending = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(`${server.url}/api/collections/notes/records`, {
          agent, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: token },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (s: string) => (text += s)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.write(body.slice(0, half));
        finish = () => req.end(body.slice(half));
      });
      const routed = () => server.output().split('\n').some((l) => l.includes('"incoming request"') && l.includes('"POST"') && l.includes('/api/collections/notes/records'));
      for (const deadline = Date.now() + 10_000; !routed(); ) {
        assert.ok(Date.now() < deadline, `the request never reached the server\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      server.child.kill('SIGTERM');
      // The server must still be up, waiting for the request: it has not exited within 300 ms.
      const early = await Promise.race([server.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 300))]);
      assert.equal(early, 'running', `the server waited for the in-flight request\n${server.output()}`);
      assert.match(server.output(), /shutting down/);
      finish();
      const res = await pending;
      assert.equal(res.status, 200, res.text);
      assert.equal(JSON.parse(res.text).id, 'inflightnote001');
      // SIGTERM was sent already: the process must now exit 0 promptly, even though the client keeps its
      // connection open (keep-alive) after the answer.
      await server.stop(5000);

      // The write of the in-flight request is there after a restart.
      const again = await startServer(data, { superuser: false });
      servers.push(again);
      const got = await again.request('GET', '/api/collections/notes/records/inflightnote001', { token: await again.superuserToken() });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.text.length, 5000);
      await again.stop();
    });
  });
}
