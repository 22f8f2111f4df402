/**
 * A bounded-read worker thread (see sqlite-read-pool.ts): one read-only connection to the database
 * file, one statement at a time, rows answered by message. The row guard on this connection throws
 * once the request's deadline has passed, which ends `sqlite3_step` with an error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './sqlite-connection.ts';
import type { ReadReply, ReadRequest, WorkerMessage, WorkerSetup } from './sqlite-read-pool.ts';

const setup = workerData as WorkerSetup;
const conn = openConnection(setup.path, { busyTimeoutMs: setup.busyTimeoutMs, readOnly: true });
const port = parentPort!;
port.postMessage({ ready: true } satisfies WorkerMessage);

port.on('message', (m: ReadRequest) => {
  let reply: ReadReply;
  try {
    const r = conn.allUntil(m.sql, m.params, m.deadline);
    reply = 'rows' in r ? { id: m.id, rows: r.rows } : { id: m.id, expired: true };
  } catch (e) {
    const err = e as { message?: string; code?: string; errcode?: number };
    reply = { id: m.id, error: { message: String(err?.message ?? e), code: err?.code, errcode: err?.errcode } };
  }
  port.postMessage(reply);
});
