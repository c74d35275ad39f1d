// An event loop from scratch, in about 100 lines: the idea before the real thing.
//
// Coroutines here are generators that yield *events* to a loop: "wake me at
// time t" (AsyncSleep), "wake me when this file / socket is readable"
// (AsyncRead, AsyncRecv). The loop, run(), keeps the sleeping coroutines
// ordered by wake-up time and, instead of sleeping until the first one is
// due, waits in select(2) (coio's SelectSelector) with that timeout, so a
// coroutine whose socket becomes readable runs while the others sleep.
// That is all an event loop is; coio's real one (src/base_events.ts
// _runOnce) adds Futures, Tasks and callbacks on the same skeleton.
//
// The demo: five background sleeps of 0.1 s interleaved with reading from
// a socket (one end of a socketpair, fed by a writer that sleeps between
// messages) and from /dev/urandom. It takes about 0.5 s, not the sum.
//
//   node examples/tutorial_loop.mjs
//   node examples/tutorial_loop.mjs --scale 0.5     every sleep times 0.5
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { EVENT_READ, SelectSelector, socketpair } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);
const now = () => performance.now() / 1000; // a monotonic clock, in seconds

// ---- 1. The events. Each is iterable, so a coroutine awaits it with
// `yield*`: the iterator yields the event itself up to the loop (through
// every `yield*` in between) and, once resumed, returns the result.

class AsyncSleep {
  constructor(until) { this.until = until; }
  *[Symbol.iterator]() { yield this; } // resumed by the loop at `until`: nothing to return
}

class AsyncRead {
  constructor(fd, amount) { this.fd = fd; this.amount = amount; }
  fileno() { return this.fd; }
  *[Symbol.iterator]() {
    for (;;) {
      yield this; // wait until select() says the fd is readable...
      try {
        const buf = Buffer.alloc(this.amount);
        return buf.subarray(0, readSync(this.fd, buf, 0, this.amount, null)); // ...then read: it won't block
      } catch (err) {
        if (err.code !== 'EAGAIN') throw err; // EAGAIN: someone was faster; wait again
      }
    }
  }
}

class AsyncRecv {
  constructor(sock, amount) { this.sock = sock; this.amount = amount; }
  fileno() { return this.sock.fileno(); }
  *[Symbol.iterator]() {
    for (;;) {
      yield this;
      const data = this.sock.recv(this.amount); // null means "would block": wait again
      if (data !== null) return data; // (an empty Buffer is EOF)
    }
  }
}
// (coio's real loop tries the syscall first and waits only when it would
// block: one select() fewer per read. Waiting first keeps this one shorter.)

const sleep = (seconds) => new AsyncSleep(now() + seconds * scale);

// ---- 2. The loop.

function run(...coros) {
  const selector = new SelectSelector(); // select(2): fd -> the coroutine waiting on it
  const timeline = []; // [wake-up time, coroutine] pairs, ordered by time
  const wakeAt = (when, coro) => {
    const i = timeline.findIndex(([t]) => t > when); // after the ones due at the same time
    timeline.splice(i === -1 ? timeline.length : i, 0, [when, coro]);
  };
  for (const coro of coros) wakeAt(now(), coro); // every coroutine starts at once
  try {
    while (timeline.length > 0 || selector.getMap().size > 0) {
      // Wait for I/O, but no longer than until the first sleeper is due
      // (null: no sleeper, wait for I/O only). This replaces time.sleep().
      const timeout = timeline.length > 0 ? Math.max(0, timeline[0][0] - now()) : null;
      for (const [key] of selector.select(timeout)) {
        selector.unregister(key.fd); // readable: its coroutine runs now
        wakeAt(now(), key.data);
      }
      // Resume every coroutine that is due; each runs until its next event.
      while (timeline.length > 0 && timeline[0][0] <= now()) {
        const [, coro] = timeline.shift();
        const { done, value: event } = coro.next();
        if (done) continue; // the coroutine returned: forget it
        if (event instanceof AsyncSleep) wakeAt(event.until, coro);
        else selector.register(event.fileno(), EVENT_READ, coro); // AsyncRead, AsyncRecv
      }
    }
  } finally {
    selector.close();
  }
}

// ---- 3. Coroutines that use it.

function* background() {
  for (let i = 1; i <= 5; i++) {
    console.log(`background: sleep ${i} of 5`);
    yield* sleep(0.1);
  }
}

function* writer(sock) {
  for (const word of ['hello', 'from', 'the socket']) {
    yield* sleep(0.15);
    sock.send(word);
  }
  sock.close(); // the reader sees EOF
}

function* socketReader(sock) {
  for (;;) {
    const data = yield* new AsyncRecv(sock, 1024);
    if (data.length === 0) break;
    console.log(`socket: received "${data}"`);
  }
  sock.close();
}

function* urandomReader(fd) {
  for (let i = 0; i < 3; i++) {
    const bytes = yield* new AsyncRead(fd, 8);
    console.log(`/dev/urandom: ${bytes.toString('hex')}`);
    yield* sleep(0.12);
  }
}

const [left, right] = socketpair(); // coio Sockets: non-blocking, recv() returns null if it would block
const urandom = openSync('/dev/urandom', constants.O_RDONLY | constants.O_NONBLOCK);
const start = now();
try {
  run(background(), writer(left), socketReader(right), urandomReader(urandom));
} finally {
  closeSync(urandom);
}
console.log(`done in ${(now() - start).toFixed(2)} seconds`);
