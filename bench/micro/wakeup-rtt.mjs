// Wakeup round trips and the microtask drain, blocking loop vs guest mode.
// Run: `node bench/micro/wakeup-rtt.mjs [rounds] [backend,...]` after building the
// addon. It transpiles src/ (type stripping) into node_modules/.cache and
// imports it from there, so no dist/ build is needed. Prints the median of
// 5 runs of each measurement, in microseconds (or ns per loop iteration).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket as NodeSocket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ts = createRequire(import.meta.url)('typescript');
const out = join(root, 'node_modules', '.cache', `coio-wakeup-rtt-${process.pid}`);
mkdirSync(join(out, 'src'), { recursive: true });
writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
for (const name of readdirSync(join(root, 'src'))) {
  if (!name.endsWith('.ts')) continue;
  const { outputText } = ts.transpileModule(readFileSync(join(root, 'src', name), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    fileName: name,
  });
  writeFileSync(join(out, 'src', name.replace(/\.ts$/, '.js')), outputText);
}
process.on('exit', () => rmSync(out, { recursive: true, force: true }));
const coio = await import(pathToFileURL(join(out, 'src', 'index.js')).href);
const { run, runGuest, createTask, socketpair, getRunningLoop, Event, Future, sleep } = coio;

const rounds = Number(process.argv[2] ?? 20000);
const REPEAT = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** run() from a macrotask: the blocking loop can drain microtasks there (not at ESM top level). */
const blocking = (main, options) => new Promise((resolve, reject) => setImmediate(() => {
  try { resolve(run(main, options)); } catch (e) { reject(e); }
}));

// --- the microtask drain: ns per loop iteration, with and without promise work ----

function* spin(n) {
  for (let i = 0; i < n; i++) yield;
}
async function iterationCost(withPromiseWork) {
  return blocking(function* () {
    const loop = getRunningLoop();
    // A pending async task: the loop drains microtasks after every batch.
    const ev = new Event();
    const waiter = withPromiseWork ? createTask(async () => { await ev.wait(); }) : null;
    yield* spin(10);
    const n = rounds * 10;
    const t0 = performance.now();
    yield* spin(n);
    const ns = ((performance.now() - t0) * 1e6) / n;
    if (waiter) { ev.set(); yield* waiter; }
    return ns;
  });
}

// --- socketpair ping-pong between two coio tasks --------------------------------

function pingPongGen(n) {
  return function* () {
    const loop = getRunningLoop();
    const [a, b] = socketpair();
    try {
      const peer = createTask(function* () {
        const buf = Buffer.alloc(1);
        for (let i = 0; i < n; i++) { yield* loop.sockRecvInto(b, buf); yield* loop.sockSendall(b, buf); }
      });
      const buf = Buffer.alloc(1);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) { yield* loop.sockSendall(a, buf); yield* loop.sockRecvInto(a, buf); }
      const us = ((performance.now() - t0) * 1000) / n;
      yield* peer;
      return us;
    } finally { a.close(); b.close(); }
  };
}

function pingPongAsync(n) {
  return async () => {
    const loop = getRunningLoop();
    const [a, b] = socketpair();
    try {
      const peer = createTask(async () => {
        const buf = Buffer.alloc(1);
        for (let i = 0; i < n; i++) { await loop.sockRecvInto(b, buf); await loop.sockSendall(b, buf); }
      });
      const buf = Buffer.alloc(1);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) { await loop.sockSendall(a, buf); await loop.sockRecvInto(a, buf); }
      const us = ((performance.now() - t0) * 1000) / n;
      await peer;
      return us;
    } finally { a.close(); b.close(); }
  };
}

// --- guest: a coio task and a Node (libuv) socket peer -----------------------------

function pingPongNodePeer(n) {
  return function* () {
    const loop = getRunningLoop();
    const [a, b] = socketpair();
    // Node takes b (libuv watches it); a stays coio's.
    const peer = new NodeSocket({ fd: b.detach(), readable: true, writable: true });
    peer.on('data', (d) => peer.write(d));
    try {
      const buf = Buffer.alloc(1);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) { yield* loop.sockSendall(a, buf); yield* loop.sockRecvInto(a, buf); }
      return ((performance.now() - t0) * 1000) / n;
    } finally {
      a.close();
      peer.destroy();
    }
  };
}

// --- a Future resolved from Node (setImmediate) or from coio (callSoon) -------------

function futureFromNode(n, viaNode) {
  return function* () {
    const loop = getRunningLoop();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const fut = new Future();
      if (viaNode) setImmediate(() => fut.setResult(i));
      else loop.callSoon(() => fut.setResult(i));
      yield* fut;
    }
    return ((performance.now() - t0) * 1000) / n;
  };
}

async function measure(label, fn) {
  const xs = [];
  for (let i = 0; i < REPEAT; i++) xs.push(await fn());
  console.log(`${label.padEnd(72)} ${median(xs).toFixed(2)}`);
}

console.log(`node ${process.version}, ${rounds} rounds, median of ${REPEAT}; backends: ${coio.availableBackends().join(', ')}`);
console.log('\nblocking loop, ns per iteration (a generator task yielding):');
await measure('  no promise work (the drain hook is off)', () => iterationCost(false));
await measure('  an async task pending (drain after every batch)', () => iterationCost(true));

const only = process.argv[3]?.split(',');
for (const selector of coio.availableBackends().filter((b) => only === undefined || only.includes(b))) {
  console.log(`\nwakeup round trip, us (${selector}):`);
  const n = selector === 'epoll' || selector === 'kqueue' ? rounds : Math.floor(rounds / 4);
  await measure('  socketpair ping-pong, generator tasks, blocking', () => blocking(pingPongGen(n), { selector }));
  await measure('  socketpair ping-pong, generator tasks, guest', () => runGuest(pingPongGen(n), { selector }));
  await measure('  socketpair ping-pong, async-function tasks, blocking', () => blocking(pingPongAsync(n), { selector }));
  await measure('  socketpair ping-pong, async-function tasks, guest', () => runGuest(pingPongAsync(n), { selector }));
  await measure('  guest: coio task <-> Node net.Socket peer (libuv) over a socketpair', () => runGuest(pingPongNodePeer(n), { selector }));
  await measure('  blocking: a Future resolved from callSoon, awaited', () => blocking(futureFromNode(n, false), { selector }));
  await measure('  guest: a Future resolved from callSoon, awaited', () => runGuest(futureFromNode(n, false), { selector }));
  await measure('  guest: a Future resolved from setImmediate (Node -> coio -> Node)', () => runGuest(futureFromNode(n, true), { selector }));
}
