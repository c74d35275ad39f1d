// Runs in every test file (each in its own process): no test file may leave
// an fd open, an event loop open or running, or a Node timer pending.
// (Each loop's own leftovers, registered fds, timers and tasks, are checked
// per test by test/helpers.ts useLoop and test/core_helpers.ts useCoreLoop.)
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { openLoops, sanitizedChildEnv } from './leaks.js';

// ---- scripts/asan.sh -------------------------------------------------------
// Under the sanitizer run this process has the ASan runtime preloaded and
// COIO_ADDON_PATH naming the sanitized addon. Load it now, then keep both out
// of the environment child processes inherit: a preloaded ASan runtime hangs
// some programs the tests run (curl deadlocks in setlocale), and a child
// without it cannot load the sanitized addon. A test that wants a sanitized
// node child passes sanitizedChildEnv() to it.
if (process.env.LD_PRELOAD?.includes('libasan') && process.env.COIO_ADDON_PATH) {
  const sanitized = sanitizedChildEnv();
  for (const name of ['LD_PRELOAD', 'COIO_ADDON_PATH'] as const) sanitized[name] = process.env[name]!;
  await import('../src/native.js'); // reads COIO_ADDON_PATH once, at load
  if (!readFileSync('/proc/self/maps', 'utf8').includes(sanitized.COIO_ADDON_PATH!)) {
    throw new Error(`the sanitized addon ${sanitized.COIO_ADDON_PATH!} is not loaded in this process`);
  }
  delete process.env.LD_PRELOAD;
  delete process.env.COIO_ADDON_PATH;
}

// ---- leak checks -------------------------------------------------------------

/** Open fds of this process, or -1 where /proc is missing. */
export function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

/** Each open fd with what it points at ("socket:[123]", a path, "anon_inode:[eventpoll]"). */
function fdTable(): Map<string, string> {
  const table = new Map<string, string>();
  try {
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        table.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        // closed between the listing and the readlink (the listing's own fd)
      }
    }
  } catch {
    // no /proc: nothing to name
  }
  return table;
}

/** The fds open now that were not open at the baseline, named, for the failure message. */
function newFds(before: Map<string, string>): string {
  const added = [...fdTable()].filter(([fd, target]) => before.get(fd) !== target);
  return added.map(([fd, target]) => `${fd} -> ${target}`).join(', ') || 'none named';
}

/** Node timers (setTimeout / setInterval) pending in this process. */
function nodeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/**
 * Node timers above the baseline, after giving short ones up to a second to
 * fire: vitest's own (it flushes captured console output on a timer) come
 * and go; a timer a test forgot stays.
 */
async function leftoverTimers(baseline: number): Promise<number> {
  for (let i = 0; i < 20 && nodeTimers() > baseline; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return nodeTimers() - baseline;
}

let baseline = -1;
let baselineTable = new Map<string, string>();
let timersBaseline = 0;

beforeAll(() => {
  baseline = openFds();
  baselineTable = fdTable();
  timersBaseline = nodeTimers();
});

afterAll(async () => {
  // Let sockets closed by the last test's peers settle (close is synchronous
  // for our own fds; this only gives Node's own handles one turn).
  await new Promise((resolve) => setImmediate(resolve));
  // A resolver that went idle has told its thread to stop; the thread's
  // fds are freed when it ends, which under load can take longer than a turn.
  await (await import('../src/resolver.js'))._resolverThreadsEnded();
  expect(openLoops().map(String), 'event loops left open by this test file').toEqual([]);
  const events = await import('../src/events.js');
  expect(events._getRunningLoop(), 'a loop still marked running').toBeNull();
  const set = events._getSetLoop();
  expect(set === null || set.isClosed(), `the loop set by setEventLoop / getEventLoop is still open: ${String(set)}`).toBe(true);
  expect(await leftoverTimers(timersBaseline), 'Node timers left pending by this test file').toBeLessThanOrEqual(0);
  if (baseline >= 0) expect(openFds(), `fds left open by this test file (${newFds(baselineTable)})`).toBe(baseline);
});
