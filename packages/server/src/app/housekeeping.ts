/**
 * Periodic clean-up that keeps system tables bounded: audit retention, expired refresh tokens. Every
 * node runs it; the jobs are idempotent deletes, so several nodes doing the same work is harmless.
 */
import type { Logger } from 'pino';

/** One job: a name for the logs and the work (answers how many rows it removed). */
export type HousekeepingJob = [name: string, run: () => Promise<number>];

/** How often the jobs run, and how soon after start the first run is. */
const EVERY_MS = 60 * 60 * 1000;
const FIRST_AFTER_MS = 30 * 1000;

/** Running housekeeping: run the jobs now, or stop the timers (waiting for a run in progress). */
export interface Housekeeping {
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

/** Start the jobs on timers that never keep the process alive. */
export function startHousekeeping(logger: Logger, jobs: readonly HousekeepingJob[]): Housekeeping {
  let running: Promise<void> | undefined;
  let stopped = false;
  const runJobs = async (): Promise<void> => {
    for (const [name, run] of jobs) {
      if (stopped) return;
      try {
        const removed = await run();
        if (removed > 0) logger.info({ job: name, removed }, 'housekeeping');
      } catch (e) {
        logger.warn({ job: name, err: e }, 'housekeeping job failed');
      }
    }
  };
  // One run at a time; a caller asking while one runs waits for that run.
  const runAll = (): Promise<void> => (running ??= runJobs().finally(() => (running = undefined)));
  const first = setTimeout(() => void runAll(), FIRST_AFTER_MS);
  const every = setInterval(() => void runAll(), EVERY_MS);
  first.unref();
  every.unref();
  return {
    runNow: runAll,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(every);
      await running;
    },
  };
}
