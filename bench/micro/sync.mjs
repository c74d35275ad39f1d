// Micro-benchmark of the synchronization primitives and queues, beside
// Python asyncio running the same cases (bench/micro/sync_asyncio.py) in the
// same run when python3 is present.
//
//   npm run build:ts                # compiles src/ into dist/ (dist/esm re-exports dist/cjs)
//   node bench/micro/sync.mjs       # [--quick] for a short run
//
// Cases:
// - Queue put+get pairs per second between two tasks (a producer putting N
//   items, a consumer getting them): unbounded (the producer rarely blocks)
//   and maxsize=1 (every item is a hand-over: a task switch each way).
// - Lock acquire/release per second, uncontended (one task; acquire() and
//   release(), then hold()), and with 100 waiters (101 tasks looping on
//   acquire/release: with FIFO fairness every acquire queues behind the
//   others, so each one is a wakeup and a task switch).
//
// Figures are operations per second (higher is better) and ns per
// operation; each case runs a warm-up pass, then the best of several timed
// passes is kept (the machine is shared and noisy). "ratio" is coio's time
// per operation over asyncio's (lower is better).

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const core = await import('../../dist/esm/index.js');
// Until index.ts exports them, take the primitives from their modules.
const Lock = core.Lock ?? (await import('../../dist/esm/locks.js')).Lock;
const Queue = core.Queue ?? (await import('../../dist/esm/queues.js')).Queue;
const { newEventLoop, gather, sleep } = core;

const QUICK = process.argv.includes('--quick');
const SCALE = QUICK ? 0.2 : 1;
const REPEAT = QUICK ? 3 : 5;
const n = (x) => Math.max(1000, Math.round(x * SCALE));

/** Run a coroutine on a fresh loop, closed afterwards. */
function runOnNewLoop(coro) {
  const loop = newEventLoop();
  try {
    return loop.runUntilComplete(coro);
  } finally {
    loop.close();
  }
}

/** Best (smallest) ns per op over REPEAT timed passes after one warm-up. */
function measure(ops, makeCoro) {
  runOnNewLoop(makeCoro()); // warm-up (JIT)
  let best = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    runOnNewLoop(makeCoro());
    best = Math.min(best, performance.now() - t0);
  }
  return (best * 1e6) / ops;
}

// --- the cases (each mirrored in sync_asyncio.py) ---------------------------

function* queuePairs(count, maxsize) {
  const q = new Queue(maxsize);
  function* producer() {
    for (let i = 0; i < count; i++) yield* q.put(i);
  }
  function* consumer() {
    for (let i = 0; i < count; i++) yield* q.get();
  }
  yield* gather(producer(), consumer());
}

function* lockUncontended(count) {
  const lock = new Lock();
  for (let i = 0; i < count; i++) {
    yield* lock.acquire();
    lock.release();
  }
}

function* lockHold(count) {
  const lock = new Lock();
  const body = function* () {};
  for (let i = 0; i < count; i++) yield* lock.hold(body);
}

function* lockContended(waiters, rounds) {
  const lock = new Lock();
  function* worker() {
    for (let i = 0; i < rounds; i++) {
      yield* lock.acquire();
      lock.release();
    }
  }
  // Hold the lock until every worker is queued on it: from then on, each
  // release wakes the next worker and the releasing one queues at the tail.
  yield* lock.acquire();
  const all = gather(...Array.from({ length: waiters + 1 }, () => worker()));
  yield* sleep(0);
  lock.release();
  yield* all;
}

const rows = [];
let c = n(200_000);
rows.push({ name: 'Queue put+get pairs, maxsize=0', ns: measure(c, () => queuePairs(c, 0)) });
c = n(100_000);
rows.push({ name: 'Queue put+get pairs, maxsize=1', ns: measure(c, () => queuePairs(c, 1)) });
c = n(1_000_000);
rows.push({ name: 'Lock acquire/release, uncontended', ns: measure(c, () => lockUncontended(c)) });
rows.push({ name: 'Lock hold / async with, uncontended', ns: measure(c, () => lockHold(c)) });
const rounds = Math.floor(n(2_000) / 2);
c = 101 * rounds;
rows.push({ name: 'Lock acquire/release, 100 waiters', ns: measure(c, () => lockContended(100, rounds)) });

// --- Python asyncio, same run ------------------------------------------------

const here = dirname(fileURLToPath(import.meta.url));
const python = { version: null, rows: new Map() };
const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
if (probe.status === 0) {
  python.version = (probe.stdout || probe.stderr).trim();
  const args = [join(here, 'sync_asyncio.py'), ...(QUICK ? ['--quick'] : [])];
  const res = spawnSync('python3', args, { encoding: 'utf8', timeout: 600_000 });
  if (res.status === 0) {
    for (const line of res.stdout.split('\n')) {
      if (line.trim() === '') continue;
      const r = JSON.parse(line);
      python.rows.set(r.name, r.ns);
    }
  } else {
    console.error(`sync_asyncio.py failed (${res.status}): ${res.stderr}`);
  }
}

const fmt = (ns) => (ns === undefined ? '-'.padStart(22) : `${(1e9 / ns / 1e6).toFixed(2).padStart(7)} M/s ${ns.toFixed(0).padStart(6)} ns`);
console.log(`node ${process.version}${python.version ? `, ${python.version} asyncio` : ', no python3: asyncio skipped'}${QUICK ? ' (quick)' : ''}`);
console.log(`${'case'.padEnd(38)} ${'coio'.padEnd(22)}   ${'asyncio'.padEnd(22)}   ratio`);
for (const { name, ns } of rows) {
  const py = python.rows.get(name);
  const ratio = py === undefined ? '' : `${(ns / py).toFixed(2)}x`;
  console.log(`${name.padEnd(38)} ${fmt(ns)}   ${fmt(py)}   ${ratio}`);
}
