/**
 * Typed record hooks (PocketBase `core/events.go` style): handlers receive an event object and a
 * `next()` that runs the rest of the chain and finally the write itself. They run inside the write's
 * transaction, so a handler that throws aborts the write and its change event.
 */
import type { Executor } from '../db/index.ts';
import type { Collection } from '../schema/index.ts';
import type { Principal } from './principal.ts';

/** The write a hook sees. */
export type RecordOperation = 'create' | 'update' | 'delete';

/** What a record hook handler receives. `record` may be modified before `next()` on create/update. */
export interface RecordEvent {
  op: RecordOperation;
  collection: Collection;
  /** Column values to write (create/update) or the stored record (delete). */
  record: Record<string, unknown>;
  /** The record before the write (update/delete). */
  original: Record<string, unknown> | null;
  principal: Principal;
  /** The open transaction: read and write through it to stay atomic with the write. */
  tx: Executor;
}

/** A hook handler. It must call `next()` exactly once to let the write happen. */
export type RecordHandler = (event: RecordEvent, next: () => Promise<void>) => Promise<void>;

interface Registered {
  id: string;
  priority: number;
  collection: string | '*';
  op: RecordOperation | '*';
  handler: RecordHandler;
}

/** The hook bus for record writes. */
export class RecordHooks {
  #handlers: Registered[] = [];

  /**
   * Register a handler for `op` on `collection` (`'*'` for all). Lower priority runs first.
   * Registering the same `id` again replaces the handler.
   *
   * @example
   * hooks.on('create', 'posts', async (e, next) => { e.record.slug ||= slugify(String(e.record.title)); await next(); }, { id: 'slug' });
   */
  on(op: RecordOperation | '*', collection: string | '*', handler: RecordHandler, opts: { id?: string; priority?: number } = {}): string {
    const id = opts.id ?? `hook_${this.#handlers.length + 1}_${Date.now()}`;
    this.#handlers = this.#handlers.filter((h) => h.id !== id);
    this.#handlers.push({ id, priority: opts.priority ?? 0, collection, op, handler });
    this.#handlers.sort((a, b) => a.priority - b.priority);
    return id;
  }

  /** Remove a handler by id. */
  off(id: string): void {
    this.#handlers = this.#handlers.filter((h) => h.id !== id);
  }

  /** Run the chain for `event`, ending with `write`. */
  async run(event: RecordEvent, write: () => Promise<void>): Promise<void> {
    const chain = this.#handlers.filter((h) => (h.op === '*' || h.op === event.op) && (h.collection === '*' || h.collection === event.collection.name));
    let wrote = false;
    const step = async (i: number): Promise<void> => {
      if (i < chain.length) {
        let called = false;
        await chain[i].handler(event, async () => {
          if (called) throw new Error(`hook ${chain[i].id} called next() twice`);
          called = true;
          await step(i + 1);
        });
        return;
      }
      wrote = true;
      await write();
    };
    await step(0);
    if (!wrote) throw new Error('a record hook did not call next(); the write was not performed');
  }
}
