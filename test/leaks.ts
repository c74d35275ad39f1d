// Shared between test/setup.ts and the tests, in every test file's process.
//
// Loops: what test/setup.ts checks at the end of every file besides fds, the
// loops the test helpers made. The core keeps no registry of live loops, so
// only loops made through test/helpers.ts useLoop (and trackLoop) are seen
// here; loops a test makes with newEventLoop directly are its own to close.
// No imports: test/setup.ts loads this before anything loads the addon.

export interface TrackedLoop {
  isClosed(): boolean;
  toString(): string;
}

const live = new Set<TrackedLoop>();

/** Remember a loop until it is closed (test/setup.ts fails the file if it never is). */
export function trackLoop<L extends TrackedLoop>(loop: L): L {
  live.add(loop);
  return loop;
}

/** The tracked loops that are still open; closed ones are forgotten. */
export function openLoops(): TrackedLoop[] {
  for (const loop of live) if (loop.isClosed()) live.delete(loop);
  return [...live];
}

/**
 * Under scripts/asan.sh: LD_PRELOAD and COIO_ADDON_PATH, which test/setup.ts
 * takes out of the environment children inherit. Spread into a node child's
 * env to run it on the sanitized addon too. Empty otherwise.
 */
const sanitized: Record<string, string> = {};
export function sanitizedChildEnv(): Record<string, string> {
  return sanitized;
}
