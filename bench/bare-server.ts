/**
 * The bare baseline: `node:http` + `node:sqlite` and nothing else. It answers the three benchmark
 * requests with the same HTTP API shape as Basalt (PocketBase's records API), on the same table
 * schema, with the same durability settings (WAL, synchronous=FULL), so the load generator is
 * byte-for-byte identical for both targets. What Basalt costs on top of this is the "framework tax"
 * the ratio measures: routing, auth/rules, filter compilation, validation, hooks, the change log.
 *
 * Usage: node bench/bare-server.ts --port 8091 --db /tmp/bare.db [--seed 10000]
 *   (or BARE_PORT / BARE_DB env). Seeds the file directly when the table is empty, then prints
 *   one JSON line `{"ready":true,"port":N,"rows":N}` on stdout.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { seedPosts, SEED_COUNT } from './seed-data.ts';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    db: { type: 'string' },
    seed: { type: 'string' },
  },
});

const port = Number(args.port ?? process.env.BARE_PORT ?? 8091);
const host = args.host ?? process.env.BARE_HOST ?? '127.0.0.1';
const dbPath = args.db ?? process.env.BARE_DB ?? 'bench-bare.db';
const seedCount = Number(args.seed ?? SEED_COUNT);

// Same collection metadata a PocketBase-shaped record carries, so response sizes match Basalt's.
const COLLECTION_ID = 'pbc_0000benchbare';
const COLLECTION_NAME = 'posts';
const COLUMNS = ['id', 'title', 'body', 'views', 'published', 'created', 'updated'] as const;
const SELECT_COLS = COLUMNS.join(', ');

const db = new DatabaseSync(dbPath);
db.exec('PRAGMA journal_mode = WAL');
db.exec('PRAGMA synchronous = FULL'); // Basalt's durability setting: fsync on every commit
db.exec('PRAGMA busy_timeout = 5000');
// Basalt's cache settings, so the comparison measures the server, not the configuration.
db.exec('PRAGMA cache_size = -32000');
db.exec('PRAGMA temp_store = MEMORY');
db.exec(`CREATE TABLE IF NOT EXISTS posts (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL DEFAULT '',
  views REAL NOT NULL DEFAULT 0,
  published BOOLEAN NOT NULL DEFAULT FALSE,
  created TEXT NOT NULL DEFAULT '',
  updated TEXT NOT NULL DEFAULT ''
)`);
// No secondary index: Basalt declares none for `posts` in the benchmark schema.

/** `2024-01-02 03:04:05.678Z`, PocketBase's datetime format. */
function nowStamp(): string {
  return new Date().toISOString().replace('T', ' ');
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** A random 15-char [a-z0-9] id (rejection sampling keeps it unbiased). */
function newId(): string {
  let s = '';
  while (s.length < 15) {
    for (const b of randomBytes(24)) {
      if (b < 252) s += ID_ALPHABET[b % 36];
      if (s.length === 15) break;
    }
  }
  return s;
}

const insertStmt = db.prepare(
  'INSERT INTO posts (id, title, body, views, published, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)',
);
const viewStmt = db.prepare(`SELECT ${SELECT_COLS} FROM posts WHERE id = ?`);

{
  const row = db.prepare('SELECT COUNT(*) AS n FROM posts').get() as { n: number };
  if (row.n === 0 && seedCount > 0) {
    // Insert directly, in seed order, with the seed's `created` (Basalt gets the same values).
    db.exec('BEGIN');
    for (const p of seedPosts(seedCount)) {
      insertStmt.run(p.id, p.title, p.body, p.views, p.published ? 1 : 0, p.created, nowStamp());
    }
    db.exec('COMMIT');
  }
}

type Row = Record<(typeof COLUMNS)[number], string | number>;

function toRecord(r: Row): Record<string, unknown> {
  return {
    collectionId: COLLECTION_ID,
    collectionName: COLLECTION_NAME,
    id: r.id,
    title: r.title,
    body: r.body,
    views: r.views,
    published: r.published === 1,
    created: r.created,
    updated: r.updated,
  };
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function fail(res: ServerResponse, status: number, message: string): void {
  send(res, status, { status, message, data: {} });
}

// --- A deliberately small filter language: `field op literal` terms joined by `&&`. ---------------
// Enough for the benchmark query, parsed per request (as Basalt must), values always bound.
const FILTERABLE = new Set(['id', 'title', 'body', 'views', 'published', 'created', 'updated']);
const SORTABLE = FILTERABLE;
const TERM = /^\s*([a-z_]+)\s*(=|!=|>=|<=|>|<)\s*(true|false|-?\d+(?:\.\d+)?|"[^"]*"|'[^']*')\s*$/;

interface Compiled {
  where: string;
  params: (string | number)[];
}

function compileFilter(filter: string): Compiled | null {
  if (filter.trim() === '') return { where: '1 = 1', params: [] };
  const parts: string[] = [];
  const params: (string | number)[] = [];
  for (const term of filter.split('&&')) {
    const m = TERM.exec(term);
    if (!m || !FILTERABLE.has(m[1])) return null;
    const lit = m[3];
    let value: string | number;
    if (lit === 'true' || lit === 'false') value = lit === 'true' ? 1 : 0;
    else if (lit.startsWith('"') || lit.startsWith("'")) value = lit.slice(1, -1);
    else value = Number(lit);
    parts.push(`${m[1]} ${m[2] === '!=' ? '<>' : m[2]} ?`);
    params.push(value);
  }
  return { where: parts.join(' AND '), params };
}

function compileSort(sort: string): string | null {
  if (sort.trim() === '') return '';
  const out: string[] = [];
  for (const raw of sort.split(',')) {
    const s = raw.trim();
    const desc = s.startsWith('-');
    const name = desc || s.startsWith('+') ? s.slice(1) : s;
    if (!SORTABLE.has(name)) return null;
    out.push(`${name} ${desc ? 'DESC' : 'ASC'}`);
  }
  return ` ORDER BY ${out.join(', ')}`;
}

// Prepared statements are cached by SQL text: compile once, run many.
const stmtCache = new Map<string, StatementSync>();
function prepared(sql: string): StatementSync {
  let s = stmtCache.get(sql);
  if (!s) {
    s = db.prepare(sql);
    stmtCache.set(sql, s);
  }
  return s;
}

function handleList(res: ServerResponse, query: URLSearchParams): void {
  const where = compileFilter(query.get('filter') ?? '');
  if (!where) return fail(res, 400, 'Invalid filter.');
  const order = compileSort(query.get('sort') ?? '');
  if (order === null) return fail(res, 400, 'Invalid sort.');
  const page = Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1);
  const perPage = Math.min(1000, Math.max(1, Number.parseInt(query.get('perPage') ?? '30', 10) || 30));
  const skipTotal = ['1', 'true'].includes(query.get('skipTotal') ?? '');
  const rows = prepared(`SELECT ${SELECT_COLS} FROM posts WHERE ${where.where}${order} LIMIT ? OFFSET ?`).all(
    ...where.params,
    perPage,
    (page - 1) * perPage,
  ) as Row[];
  let totalItems = -1;
  let totalPages = -1;
  if (!skipTotal) {
    const c = prepared(`SELECT COUNT(*) AS n FROM posts WHERE ${where.where}`).get(...where.params) as { n: number };
    totalItems = c.n;
    totalPages = Math.ceil(c.n / perPage);
  }
  send(res, 200, { page, perPage, totalItems, totalPages, items: rows.map(toRecord) });
}

function handleView(res: ServerResponse, id: string): void {
  const row = viewStmt.get(id) as Row | undefined;
  if (!row) return fail(res, 404, "The requested resource wasn't found.");
  send(res, 200, toRecord(row));
}

function handleCreate(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > 1 << 20) {
      fail(res, 413, 'Request body too large.');
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (res.writableEnded) return;
    let input: unknown;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return fail(res, 400, 'Invalid JSON body.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return fail(res, 400, 'The body must be a JSON object.');
    }
    const b = input as Record<string, unknown>;
    const title = b.title ?? '';
    const text = b.body ?? '';
    const views = b.views ?? 0;
    const published = b.published ?? false;
    const created = b.created ?? '';
    if (typeof title !== 'string' || typeof text !== 'string') return fail(res, 400, 'title/body must be strings.');
    if (typeof views !== 'number' || !Number.isFinite(views)) return fail(res, 400, 'views must be a number.');
    if (typeof published !== 'boolean') return fail(res, 400, 'published must be a boolean.');
    if (typeof created !== 'string' || (created !== '' && Number.isNaN(Date.parse(created.replace(' ', 'T'))))) return fail(res, 400, 'created must be a date.');
    const id = newId();
    const ts = nowStamp();
    try {
      insertStmt.run(id, title, text, views, published ? 1 : 0, created, ts);
    } catch (e) {
      return fail(res, 400, `Failed to create record: ${(e as Error).message}`);
    }
    send(res, 200, toRecord({ id, title, body: text, views, published: published ? 1 : 0, created, updated: ts }));
  });
}

const RECORDS = '/api/collections/posts/records';

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  try {
    if (path === RECORDS) {
      if (req.method === 'GET') return handleList(res, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
      if (req.method === 'POST') return handleCreate(req, res);
    } else if (path.startsWith(RECORDS + '/') && req.method === 'GET') {
      return handleView(res, decodeURIComponent(path.slice(RECORDS.length + 1)));
    } else if (path === '/api/health' && req.method === 'GET') {
      return send(res, 200, { code: 200, message: 'API is healthy.', data: {} });
    }
    fail(res, 404, "The requested resource wasn't found.");
  } catch (e) {
    fail(res, 500, (e as Error).message);
  }
});
server.keepAliveTimeout = 65_000;

server.listen(port, host, () => {
  const rows = (db.prepare('SELECT COUNT(*) AS n FROM posts').get() as { n: number }).n;
  process.stdout.write(JSON.stringify({ ready: true, port, rows }) + '\n');
});

function shutdown(): void {
  server.close();
  server.closeAllConnections();
  db.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
