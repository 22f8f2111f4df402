/**
 * Bounded reads on SQLite, off the main thread (docs/decisions/007-bounded-reads.md).
 *
 * `node:sqlite` is synchronous: a statement that runs for seconds on the main thread blocks every
 * request, `/api/health` included. Reads whose cost depends on client input therefore run on a few
 * worker threads, each with its own read-only connection to the same WAL file (sqlite-read-worker.ts).
 * Each statement gets a deadline; the row guard in the statement (`Dialect.rowGuard`) throws once it
 * has passed, which ends the statement inside SQLite. A statement the guard cannot reach (a plain
 * scan, no joins) is abandoned at 1.5 × the limit: its worker is terminated (the thread ends when the
 * statement returns) and replaced, so the pool keeps serving.
 */
import { Worker } from 'node:worker_threads';
import { BasaltError } from '../../errors/index.ts';
import type { Row, SqlValue } from '../db-types.ts';

/** What a worker is started with. */
export interface WorkerSetup {
  path: string;
  busyTimeoutMs: number;
}

/** One statement for a worker; `deadline` is `Date.now()` ms. */
export interface ReadRequest {
  id: number;
  sql: string;
  params: readonly SqlValue[];
  deadline: number;
}

/** A worker's answer: rows, the guard stopped it, or the driver's error. */
export type ReadReply =
  | { id: number; rows: Row[] }
  | { id: number; expired: true }
  | { id: number; error: { message: string; code?: string; errcode?: number } };

/** What a worker posts: once `ready` (its connection is open), then one reply per request. */
export type WorkerMessage = ReadReply | { ready: true };

/** Options of {@link SqliteReadPool}. */
export interface ReadPoolOptions extends WorkerSetup {
  /** Longest a statement may run, ms; a read waits at most twice that (at least 2 s) for a free worker. */
  timeoutMs: number;
  /** Worker threads (each runs one statement at a time). */
  workers: number;
  /** Reads that may wait for a worker; more are refused at once with `database_busy`. */
  maxQueue: number;
}

interface Job {
  sql: string;
  params: readonly SqlValue[];
  resolve(rows: Row[]): void;
  reject(e: unknown): void;
  queueTimer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  /** The connection is open: statements' deadlines never include the thread's start-up. */
  ready: boolean;
  job: Job | null;
  jobId: number;
  timer?: NodeJS.Timeout;
}

const WORKER_URL = new URL('./sqlite-read-worker.ts', import.meta.url);

/** A small pool of read workers with a bounded queue. See the module comment. */
export class SqliteReadPool {
  readonly #opts: ReadPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  /** Workers terminated after an overrun whose threads have not ended yet. */
  #stopping = 0;
  #nextId = 1;
  #closed = false;

  constructor(opts: ReadPoolOptions) {
    this.#opts = opts;
  }

  /** All rows of `sql`, run on a worker within the time limit. */
  read(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    if (this.#closed) return Promise.reject(new BasaltError('unavailable', { message: 'The database is closed.' }));
    if (this.#queue.length >= this.#opts.maxQueue) return Promise.reject(new BasaltError('database_busy'));
    return new Promise<Row[]>((resolve, reject) => {
      const job: Job = { sql, params, resolve, reject };
      const slot = this.#idleSlot();
      if (slot) return this.#start(slot, job);
      this.#grow();
      // Waiting is bounded too: past that the pool is overloaded, which is not this query's fault. The
      // floor covers a worker's start-up (~0.1 s, more on a loaded machine) before the first read.
      job.queueTimer = setTimeout(() => {
        const i = this.#queue.indexOf(job);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(new BasaltError('database_busy'));
      }, Math.max(2 * this.#opts.timeoutMs, 2000));
      this.#queue.push(job);
    });
  }

  /** Stop every worker; reads in flight or waiting reject with `unavailable`. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new BasaltError('unavailable', { message: 'The database is closed.' });
    for (const job of this.#queue.splice(0)) {
      clearTimeout(job.queueTimer);
      job.reject(closed);
    }
    const slots = this.#slots.splice(0);
    for (const s of slots) {
      clearTimeout(s.timer);
      s.job?.reject(closed);
      s.job = null;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** A started worker without a statement. */
  #idleSlot(): Slot | undefined {
    for (const s of this.#slots) if (s.ready && !s.job) return s;
    return undefined;
  }

  /** Start a worker for waiting reads, one at a time, when the pool has room. */
  #grow(): void {
    if (this.#closed || this.#slots.some((s) => !s.ready)) return;
    const { workers } = this.#opts;
    // Abandoned workers still hold a thread until their statement returns; never more than 2 × workers.
    if (this.#slots.length < workers && this.#slots.length + this.#stopping < 2 * workers) this.#spawn();
  }

  #spawn(): void {
    const setup: WorkerSetup = { path: this.#opts.path, busyTimeoutMs: this.#opts.busyTimeoutMs };
    const worker = new Worker(WORKER_URL, { workerData: setup, name: 'basalt-sqlite-read' });
    const slot: Slot = { worker, ready: false, job: null, jobId: 0 };
    worker.on('message', (m: WorkerMessage) => {
      if ('ready' in m) {
        slot.ready = true;
        this.#dispatch();
      } else {
        this.#reply(slot, m);
      }
    });
    worker.on('error', (e) => this.#lost(slot, e));
    worker.on('exit', (code) => this.#lost(slot, new Error(`bounded-read worker exited with code ${code}`)));
    // An idle worker never keeps the process alive (CLI commands, tests that forget close()).
    worker.unref();
    this.#slots.push(slot);
  }

  #start(slot: Slot, job: Job): void {
    const id = this.#nextId++;
    slot.job = job;
    slot.jobId = id;
    const { timeoutMs } = this.#opts;
    slot.worker.ref();
    const request: ReadRequest = { id, sql: job.sql, params: job.params, deadline: Date.now() + timeoutMs };
    slot.worker.postMessage(request);
    slot.timer = setTimeout(() => this.#overrun(slot), timeoutMs + Math.max(50, timeoutMs / 2));
  }

  #reply(slot: Slot, m: ReadReply): void {
    const job = slot.job;
    if (!job || m.id !== slot.jobId) return;
    this.#finish(slot);
    if ('rows' in m) job.resolve(m.rows);
    else if ('expired' in m) job.reject(new BasaltError('query_timeout'));
    else job.reject(Object.assign(new Error(m.error.message), { code: m.error.code, errcode: m.error.errcode }));
    this.#dispatch();
  }

  /** The statement outlived its deadline without meeting a row guard: answer, and replace the worker. */
  #overrun(slot: Slot): void {
    const job = slot.job;
    if (!job) return;
    this.#finish(slot);
    this.#retire(slot);
    this.#stopping++;
    // terminate() cannot interrupt native code: the thread ends when the statement returns (or calls
    // the row guard, which then fails because the isolate is terminating).
    void slot.worker.terminate().finally(() => {
      this.#stopping--;
      this.#dispatch();
    });
    job.reject(new BasaltError('query_timeout'));
    this.#dispatch();
  }

  /** The worker died (failed to open the database, crashed, or exited): fail its read, replace it later. */
  #lost(slot: Slot, cause: unknown): void {
    if (!this.#retire(slot)) return;
    const job = slot.job;
    if (job) {
      this.#finish(slot);
      job.reject(new BasaltError('unavailable', { message: 'A database worker stopped; try again.', cause }));
    }
    this.#dispatch();
  }

  #finish(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.job = null;
    slot.worker.unref();
  }

  /** Remove `slot` from the pool; false when it was already gone. */
  #retire(slot: Slot): boolean {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return false;
    this.#slots.splice(i, 1);
    return true;
  }

  #dispatch(): void {
    while (!this.#closed && this.#queue.length) {
      const slot = this.#idleSlot();
      if (!slot) return this.#grow();
      const job = this.#queue.shift()!;
      clearTimeout(job.queueTimer);
      this.#start(slot, job);
    }
  }
}
