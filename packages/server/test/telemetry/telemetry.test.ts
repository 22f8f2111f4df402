import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { openSqlite } from '../../src/db/index.ts';
import { createLogger, createMetrics, instrumentDatabase, observeReply, METRIC_NAMES } from '../../src/telemetry/index.ts';

/** A writable that keeps what was written, one JSON object per line. */
function sink(): { stream: Writable; lines: () => Array<Record<string, any>> } {
  let text = '';
  const stream = new Writable({ write(chunk, _enc, cb) { text += chunk.toString(); cb(); } });
  return { stream, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

describe('createMetrics + observeReply', () => {
  const metrics = createMetrics();
  const app = Fastify();
  app.get('/api/collections/:name/records/:id', async (req, reply) => {
    observeReply(metrics, req, reply.code(200));
    return { id: (req.params as { id: string }).id };
  });
  app.post('/api/fail', async (req, reply) => {
    observeReply(metrics, req, reply.code(422));
    return reply.send({ code: 'x' });
  });
  app.setNotFoundHandler((req, reply) => {
    observeReply(metrics, req, reply.code(404));
    return reply.send({ code: 'not_found' });
  });
  after(() => app.close());

  it('counts requests by route pattern, never the raw URL', async () => {
    for (const id of ['aaaaaaaaaaaaaa1', 'aaaaaaaaaaaaaa2', 'aaaaaaaaaaaaaa3']) {
      const res = await app.inject({ method: 'GET', url: `/api/collections/posts/records/${id}?fields=id` });
      assert.equal(res.statusCode, 200);
    }
    assert.equal((await app.inject({ method: 'POST', url: '/api/fail' })).statusCode, 422);
    assert.equal((await app.inject({ method: 'GET', url: '/no/such/path/123' })).statusCode, 404);

    const { contentType, body } = await metrics.render();
    assert.match(contentType, /^text\/plain/);
    assert.match(body, new RegExp(`${METRIC_NAMES.httpRequests}\\{method="GET",route="/api/collections/:name/records/:id",status_class="2xx"\\} 3`));
    assert.match(body, /basalt_http_requests_total\{method="POST",route="\/api\/fail",status_class="4xx"\} 1/);
    assert.match(body, /basalt_http_requests_total\{method="GET",route="unmatched",status_class="4xx"\} 1/);
    assert.match(body, /basalt_http_request_duration_seconds_bucket\{le="0\.001",method="GET",route="\/api\/collections\/:name\/records\/:id",status_class="2xx"\}/);
    assert.match(body, /basalt_http_request_duration_seconds_count\{method="GET",route="\/api\/collections\/:name\/records\/:id",status_class="2xx"\} 3/);
    assert.doesNotMatch(body, /aaaaaaaaaaaaaa1|\/no\/such\/path|posts/);
    assert.match(body, /process_cpu_user_seconds_total/, 'default process metrics');
  });

  it('keeps registries apart, so several apps can share a process', async () => {
    const other = createMetrics();
    other.observeRequest('GET', '/x', 200, 0.01);
    assert.doesNotMatch((await metrics.render()).body, /route="\/x"/);
    assert.match((await other.render()).body, /route="\/x"/);
  });

  it('folds unknown methods into OTHER', async () => {
    const m = createMetrics();
    m.observeRequest('BREW', '/coffee', 418, 0.001);
    assert.match((await m.render()).body, /basalt_http_requests_total\{method="OTHER",route="\/coffee",status_class="4xx"\} 1/);
  });
});

describe('createLogger', () => {
  it('writes JSON lines and redacts credentials and secrets', () => {
    const out = sink();
    const log = createLogger({ level: 'info', destination: out.stream });
    log.info({ req: { method: 'GET', headers: { authorization: 'Bearer eyJhbGciOi.secret', cookie: 'sid=1', accept: 'application/json' } } }, 'request');
    log.info({ body: { email: 'a@b.c', password: 'hunter22' }, token: 'tok-123', data: { auth: { refreshToken: 'rt-456' } } }, 'signin');
    const [first, second] = out.lines();
    assert.equal(first.msg, 'request');
    assert.equal(first.level, 'info');
    assert.ok(first.time && first.pid && first.hostname);
    assert.equal(first.req.headers.authorization, '[REDACTED]');
    assert.equal(first.req.headers.cookie, '[REDACTED]');
    assert.equal(first.req.headers.accept, 'application/json');
    assert.equal(second.body.password, '[REDACTED]');
    assert.equal(second.body.email, 'a@b.c');
    assert.equal(second.token, '[REDACTED]');
    assert.equal(second.data.auth.refreshToken, '[REDACTED]');
    const text = JSON.stringify(out.lines());
    for (const secret of ['eyJhbGciOi', 'hunter22', 'tok-123', 'rt-456', 'sid=1']) assert.ok(!text.includes(secret), secret);
  });

  it('redacts the Authorization header of Fastify request logs', async () => {
    const out = sink();
    const app = Fastify({ loggerInstance: createLogger({ level: 'info', destination: out.stream }) });
    app.get('/x', async (req) => { req.log.info({ req: { headers: req.headers } }, 'handling'); return {}; });
    await app.inject({ method: 'GET', url: '/x', headers: { authorization: 'Bearer SECRET-JWT' } });
    await app.close();
    const lines = out.lines();
    assert.ok(lines.some((l) => l.reqId && l.msg === 'handling'));
    assert.ok(!JSON.stringify(lines).includes('SECRET-JWT'));
  });

  it('respects the level', () => {
    const out = sink();
    const log = createLogger({ level: 'warn', destination: out.stream });
    log.info('quiet');
    log.warn('loud');
    assert.deepEqual(out.lines().map((l) => l.msg), ['loud']);
  });

  it('pretty-prints without leaking secrets', async () => {
    let text = '';
    const stream = new Writable({ write(chunk, _enc, cb) { text += chunk.toString(); cb(); } });
    const log = createLogger({ level: 'info', pretty: true, destination: stream });
    log.info({ password: 'hunter22' }, 'pretty line');
    await new Promise((r) => setImmediate(r));
    assert.match(text, /pretty line/);
    assert.ok(!text.includes('hunter22'));
  });
});

describe('instrumentDatabase', () => {
  it('times all/get/run/transaction on SQLite and passes the Database through', async () => {
    const inner = openSqlite({ path: ':memory:' });
    const metrics = createMetrics();
    const db = instrumentDatabase(inner, metrics);
    assert.equal(db.dialect, inner.dialect);
    assert.equal(db.description, inner.description);

    await db.run('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)');
    await db.run('INSERT INTO t (id, n) VALUES (?, ?)', ['a', 1]);
    const n = await db.transaction(async (tx) => {
      await tx.run('INSERT INTO t (id, n) VALUES (?, ?)', ['b', 2]);
      return (await tx.get<{ c: number }>('SELECT COUNT(*) AS c FROM t'))!.c;
    });
    assert.equal(Number(n), 2);
    assert.deepEqual((await db.all<{ id: string }>('SELECT id FROM t ORDER BY id')).map((r) => r.id), ['a', 'b']);
    await assert.rejects(db.get('SELECT * FROM missing_table'));
    await assert.rejects(db.transaction(async () => { throw new Error('boom'); }), /boom/);

    const body = (await metrics.render()).body;
    const count = (op: string) => Number(new RegExp(`${METRIC_NAMES.dbDuration}_count\\{operation="${op}",dialect="sqlite"\\} (\\d+)`).exec(body)?.[1]);
    assert.equal(count('run'), 3, 'two direct runs + one inside the transaction');
    assert.equal(count('get'), 2, 'one in the transaction + one failing');
    assert.equal(count('all'), 1);
    assert.equal(count('transaction'), 2);
    await db.close();
  });
});
