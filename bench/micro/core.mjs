// Micro-benchmark of the core: callSoon, timers, tasks, task switches, each
// beside the nearest Node primitive, in one run.
//
//   npm run build:ts              # compiles src/ into dist/ (dist/esm re-exports dist/cjs)
//   node bench/micro/core.mjs     # [--quick] for a short run
//
// Figures are operations per second (higher is better) and ns per operation;
// "ratio" is coio's cost per operation over Node's (lower is better; the
// targets are callSoon <= 2x setImmediate and a task switch <= 2x an await
// on a resolved Promise). Each case runs a warm-up pass, then the best of
// several timed passes is kept (the machine is shared and noisy).

const DIST = process.env.COIO_DIST ?? '../../dist/esm/index.js';
const { newEventLoop, sleep, eagerTaskFactory } = await import(DIST);

const QUICK = process.argv.includes('--quick');
const SCALE = QUICK ? 0.2 : 1;
const REPEAT = QUICK ? 3 : 5;
const n = (x) => Math.max(1000, Math.round(x * SCALE));

const now = () => performance.now();

/** Best (smallest) ns per op over REPEAT timed passes after one warm-up. */
async function measure(ops, fn) {
  await fn(); // warm-up (JIT)
  let best = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = now();
    await fn();
    best = Math.min(best, now() - t0);
  }
  return (best * 1e6) / ops;
}

const rows = [];
function row(name, coioNs, nodeName, nodeNs) {
  rows.push({ name, coioNs, nodeName, nodeNs });
  const fmt = (ns) => `${(1e9 / ns / 1e6).toFixed(2).padStart(7)} M/s ${ns.toFixed(0).padStart(6)} ns`;
  console.log(`${name.padEnd(34)} ${fmt(coioNs)}   | ${nodeName.padEnd(30)} ${fmt(nodeNs)}   ratio ${(coioNs / nodeNs).toFixed(2)}x`);
}

function withLoop(fn) {
  const loop = newEventLoop();
  try {
    return fn(loop);
  } finally {
    loop.close();
  }
}

// --- callSoon vs setImmediate ---------------------------------------------

function callSoonChain(count) {
  return withLoop((loop) => {
    let left = count;
    const tick = () => {
      if (--left > 0) loop.callSoon(tick);
      else loop.stop();
    };
    loop.callSoon(tick);
    loop.runForever();
  });
}

function setImmediateChain(count) {
  return new Promise((resolve) => {
    let left = count;
    const tick = () => {
      if (--left > 0) setImmediate(tick);
      else resolve();
    };
    setImmediate(tick);
  });
}

function callSoonBatch(count, batch) {
  return withLoop((loop) => {
    let left = count;
    let pending = 0;
    const cb = () => {
      left--;
      if (--pending === 0) refill();
    };
    const refill = () => {
      if (left <= 0) return loop.stop();
      for (let i = 0; i < batch; i++) loop.callSoon(cb);
      pending = batch;
    };
    refill();
    loop.runForever();
  });
}

function setImmediateBatch(count, batch) {
  return new Promise((resolve) => {
    let left = count;
    let pending = 0;
    const cb = () => {
      left--;
      if (--pending === 0) refill();
    };
    const refill = () => {
      if (left <= 0) return resolve();
      for (let i = 0; i < batch; i++) setImmediate(cb);
      pending = batch;
    };
    refill();
  });
}

// --- timers -----------------------------------------------------------------

// count timers with delays spread over [0, spanMs): scheduled and fired.
function callLaterMany(count, spanMs) {
  return withLoop((loop) => {
    let fired = 0;
    const cb = () => {
      if (++fired === count) loop.stop();
    };
    for (let i = 0; i < count; i++) loop.callLater(((i * 7919) % count) / count * spanMs / 1000, cb);
    loop.runForever();
  });
}

function setTimeoutMany(count, spanMs) {
  return new Promise((resolve) => {
    let fired = 0;
    const cb = () => {
      if (++fired === count) resolve();
    };
    for (let i = 0; i < count; i++) setTimeout(cb, ((i * 7919) % count) / count * spanMs);
  });
}

// Timers scheduled and cancelled before they fire (timeouts that don't expire).
function callLaterCancel(count) {
  return withLoop((loop) => {
    let left = count;
    const step = () => {
      for (let i = 0; i < 100; i++) loop.callLater(10, step).cancel();
      left -= 100;
      if (left > 0) loop.callSoon(step);
      else loop.stop();
    };
    loop.callSoon(step);
    loop.runForever();
  });
}

function setTimeoutCancel(count) {
  return new Promise((resolve) => {
    let left = count;
    const step = () => {
      for (let i = 0; i < 100; i++) clearTimeout(setTimeout(step, 10_000));
      left -= 100;
      if (left > 0) setImmediate(step);
      else resolve();
    };
    setImmediate(step);
  });
}

// --- tasks ------------------------------------------------------------------

function* trivial(i) {
  return i;
}

function tasksBatch(count, batch, eager = false) {
  return withLoop((loop) => {
    if (eager) loop.setTaskFactory(eagerTaskFactory);
    return loop.runUntilComplete(
      (function* () {
        let sum = 0;
        const tasks = new Array(batch);
        for (let done = 0; done < count; done += batch) {
          for (let i = 0; i < batch; i++) tasks[i] = loop.createTask(trivial(i));
          for (let i = 0; i < batch; i++) sum += yield* tasks[i];
        }
        return sum;
      })(),
    );
  });
}

async function trivialAsync(i) {
  return i;
}

async function asyncBatch(count, batch) {
  let sum = 0;
  const ps = new Array(batch);
  for (let done = 0; done < count; done += batch) {
    for (let i = 0; i < batch; i++) ps[i] = trivialAsync(i);
    for (let i = 0; i < batch; i++) sum += await ps[i];
  }
  return sum;
}

// A task awaiting a coroutine that awaits a sleep(0): the chain as a whole.
function awaitChain(count) {
  return withLoop((loop) =>
    loop.runUntilComplete(
      (function* () {
        let sum = 0;
        for (let i = 0; i < count; i++) sum += yield* trivial(i);
        return sum;
      })(),
    ),
  );
}

async function awaitAsyncChain(count) {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await trivialAsync(i);
  return sum;
}

// --- task switches ------------------------------------------------------------

// Two tasks taking turns: each `yield` (sleep(0)) hands the loop to the other.
function pingPongYield(switches) {
  return withLoop((loop) => {
    function* player() {
      for (let i = 0; i < switches / 2; i++) yield;
    }
    const a = loop.createTask(player());
    const b = loop.createTask(player());
    loop.runUntilComplete(b);
    loop.runUntilComplete(a);
  });
}

function pingPongSleep0(switches) {
  return withLoop((loop) => {
    function* player() {
      for (let i = 0; i < switches / 2; i++) yield* sleep(0);
    }
    const a = loop.createTask(player());
    const b = loop.createTask(player());
    loop.runUntilComplete(b);
    loop.runUntilComplete(a);
  });
}

// Two tasks handing a Future back and forth: A completes B's, then awaits its own.
function pingPongFutures(switches) {
  return withLoop((loop) => {
    const box = { a: loop.createFuture(), b: loop.createFuture() };
    function* ping() {
      for (let i = 0; i < switches / 2; i++) {
        const mine = (box.a = loop.createFuture());
        box.b.setResult(i);
        yield* mine;
      }
      box.b.setResult(-1);
    }
    function* pong() {
      for (;;) {
        const mine = box.b;
        const v = yield* mine;
        if (v === -1) return;
        box.b = loop.createFuture();
        box.a.setResult(v);
      }
    }
    const p = loop.createTask(pong());
    loop.runUntilComplete(ping());
    loop.runUntilComplete(p);
  });
}

async function awaitResolved(switches) {
  const resolved = Promise.resolve(1);
  async function player() {
    for (let i = 0; i < switches / 2; i++) await resolved;
  }
  await Promise.all([player(), player()]);
}

// Two async functions handing a Promise back and forth.
async function pingPongPromises(switches) {
  let resolveA;
  let resolveB;
  let b = new Promise((r) => (resolveB = r));
  async function ping() {
    for (let i = 0; i < switches / 2; i++) {
      const mine = new Promise((r) => (resolveA = r));
      resolveB(i);
      await mine;
    }
    resolveB(-1);
  }
  async function pong() {
    for (;;) {
      const v = await b;
      if (v === -1) return;
      b = new Promise((r) => (resolveB = r));
      resolveA(v);
    }
  }
  await Promise.all([pong(), ping()]);
}

// --- run ----------------------------------------------------------------------

console.log(`coio core micro-benchmark (node ${process.version}${QUICK ? ', quick' : ''}); best of ${REPEAT}`);
const N1 = n(1_000_000);
row('callSoon chain (1 per iteration)', await measure(N1, () => callSoonChain(N1)), 'setImmediate chain', await measure(N1, () => setImmediateChain(N1)));
row('callSoon batch (1000 per iter.)', await measure(N1, () => callSoonBatch(N1, 1000)), 'setImmediate batch', await measure(N1, () => setImmediateBatch(N1, 1000)));
const NT = n(200_000);
row('callLater fired (over 20 ms)', await measure(NT, () => callLaterMany(NT, 20)), 'setTimeout fired (over 20 ms)', await measure(NT, () => setTimeoutMany(NT, 20)));
row('callLater + cancel', await measure(NT, () => callLaterCancel(NT)), 'setTimeout + clearTimeout', await measure(NT, () => setTimeoutCancel(NT)));
const NK = n(500_000);
row('tasks created+awaited (batch 1000)', await measure(NK, () => tasksBatch(NK, 1000)), 'async calls awaited (batch 1000)', await measure(NK, () => asyncBatch(NK, 1000)));
// A request that completes without suspending (a cache hit): an eager Task
// (eagerTaskFactory) runs it inside createTask and never schedules it.
if (eagerTaskFactory !== undefined) row('eager tasks created+awaited (b. 1000)', await measure(NK, () => tasksBatch(NK, 1000, true)), 'the same, not eager', await measure(NK, () => tasksBatch(NK, 1000)));
row('yield* coroutine (no suspension)', await measure(N1, () => awaitChain(N1)), 'await async function', await measure(N1, () => awaitAsyncChain(N1)));
const NS = n(1_000_000);
const awaitNs = await measure(NS, () => awaitResolved(NS));
row('task switch: bare yield', await measure(NS, () => pingPongYield(NS)), 'await resolved Promise', awaitNs);
row('task switch: yield* sleep(0)', await measure(NS, () => pingPongSleep0(NS)), 'await resolved Promise', awaitNs);
row('task switch: via Futures', await measure(NS, () => pingPongFutures(NS)), 'async ping-pong via Promises', await measure(NS, () => pingPongPromises(NS)));
