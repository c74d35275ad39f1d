// Runs in every test file: no test file may leave an fd open.
// (Loops and timers are checked by the tests that create them; the loop's own
// bookkeeping is asserted in test/loop.test.ts.)
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';

/** Open fds of this process, or -1 where /proc is missing. */
export function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

let baseline = -1;

beforeAll(() => {
  baseline = openFds();
});

afterAll(async () => {
  if (baseline < 0) return;
  // Let sockets closed by the last test's peers settle (close is synchronous
  // for our own fds; this only gives Node's own handles one turn).
  await new Promise((resolve) => setImmediate(resolve));
  expect(openFds(), 'fds left open by this test file').toBe(baseline);
});
