// One event loop per thread.
//
// An event loop belongs to the thread that runs it: the "running loop" is
// per thread (each worker thread has its own copy of coio's module state).
// The main thread starts two worker threads running this same file; each
// creates a new event loop, makes it the thread's current loop, runs a
// coroutine that sleeps a random 1-5 s and reports whether its loop is
// running, then closes the loop. The main thread has no running loop at
// all: it only waits (on Node's own event loop) for the workers to exit.
//
//   node examples/threads_loops.mjs
//   node examples/threads_loops.mjs --scale 0.1     every sleep times 0.1
import { isMainThread, threadId, Worker, workerData } from 'node:worker_threads';
import { getEventLoop, getRunningLoop, newEventLoop, setEventLoop, sleep } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);

function* work(name) {
  const seconds = 1 + Math.floor(Math.random() * 5); // 1-5
  console.log(`${name}: sleeping ${seconds} s`);
  yield* sleep(seconds * scale);
  const loop = getRunningLoop(); // this thread's running loop
  console.log(`${name}: woke up; my loop is running: ${loop.isRunning()}; it is the thread's current loop: ${loop === getEventLoop()}`);
}

if (isMainThread) {
  try {
    getRunningLoop();
  } catch (err) {
    console.log(`main thread: ${err.message}`); // RuntimeError: no running event loop
  }
  const workers = ['thread A', 'thread B'].map(
    (name) => new Worker(new URL(import.meta.url), { workerData: { name }, argv: process.argv.slice(2) }),
  );
  // Node's own event loop waits for them here; coio is not running in this thread.
  const codes = await Promise.all(workers.map((w) => new Promise((resolve, reject) => w.once('exit', resolve).once('error', reject))));
  console.log(`main thread: both threads finished (exit codes ${codes.join(', ')})`);
} else {
  const loop = newEventLoop(); // a new loop, owned by this thread
  setEventLoop(loop);
  try {
    loop.runUntilComplete(work(`${workerData.name} (thread ${threadId})`));
  } finally {
    setEventLoop(null);
    loop.close();
  }
}
