/**
 * Rate-limit windows are fixed (`floor(now / window)`): a burst that straddles a window's end is
 * counted in two windows, and a test that expects a 429 after N requests then sees a 200. Tests that
 * count within one window call {@link roomInWindow} first.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Wait, if needed, until the current `windowSeconds` window has at least `needMs` left. Every
 * policy's window (60 s, 900 s, 3600 s) starts on a minute, so room in the 60 s window is room in
 * all of them: the default covers every quota.
 */
export async function roomInWindow(windowSeconds = 60, needMs = 10_000): Promise<void> {
  const left = windowSeconds * 1000 - (Date.now() % (windowSeconds * 1000));
  if (left < needMs) await sleep(left + 50);
}
