// Cost of one Poller.wait(0) per backend, straight against the addon
// (no TypeScript layer): with 8 registered fds none of which is ready, and
// with all 8 ready (8 socketpairs with a pending byte, level-triggered so
// every wait reports them). Also, for scale, one recv() that meets EAGAIN
// (one syscall) and one N-API crossing that makes no syscall.
//
//   npx node-gyp rebuild && node bench/micro/poller-wait.mjs [--quick]
//
// Figures are ns per call: the median of RUNS timed runs of ITER calls each,
// after a warm-up run, with the min and max beside it.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const native = require('../../build/Release/coio.node');

const QUICK = process.argv.includes('--quick');
const ITER = QUICK ? 50_000 : 300_000;
const RUNS = QUICK ? 3 : 7;
const POLL_READ = 1;

function measure(fn) {
  fn(ITER); // warm-up
  const perCall = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    fn(ITER);
    perCall.push(Number(process.hrtime.bigint() - t0) / ITER);
  }
  perCall.sort((a, b) => a - b);
  return { median: perCall[RUNS >> 1], min: perCall[0], max: perCall[RUNS - 1] };
}

function fmt(label, { median, min, max }) {
  console.log(
    `${label.padEnd(34)} ${median.toFixed(0).padStart(6)} ns/call  (min ${min.toFixed(0)}, max ${max.toFixed(0)})`,
  );
}

const pairs = [];
for (let i = 0; i < 8; i++) pairs.push(native.socketpair(native.AF_UNIX, native.SOCK_STREAM));
const byte = Buffer.from('x');
const scratch = Buffer.alloc(16);

console.log(`coio poller wait(0), ${ITER} calls x ${RUNS} runs (median)\n`);
try {
  for (const backend of native.backends()) {
    const events = new Int32Array(64 * 2);
    const poller = new native.Poller(backend, events);
    try {
      for (const [a] of pairs) poller.add(a, POLL_READ);
      const idle = measure((n) => {
        for (let i = 0; i < n; i++) if (poller.wait(0) !== 0) throw new Error('expected 0 ready');
      });
      for (const [, b] of pairs) native.send(b, byte, 0, 1);
      const ready = measure((n) => {
        for (let i = 0; i < n; i++) if (poller.wait(0) !== 8) throw new Error('expected 8 ready');
      });
      for (const [a] of pairs) native.recv(a, scratch, 0, scratch.length);
      fmt(`${backend}: 8 fds, 0 ready`, idle);
      fmt(`${backend}: 8 fds, 8 ready`, ready);
    } finally {
      poller.close();
    }
  }

  const [a] = pairs[0];
  console.log('');
  fmt('recv() -> WOULD_BLOCK (EAGAIN)', measure((n) => {
    for (let i = 0; i < n; i++) native.recv(a, scratch, 0, 16);
  }));
  const probe = new native.Poller('poll', new Int32Array(2));
  fmt('N-API floor: poller.closed getter', measure((n) => {
    for (let i = 0; i < n; i++) if (probe.closed) throw new Error('closed');
  }));
  probe.close();
} finally {
  for (const [x, y] of pairs) {
    native.close(x);
    native.close(y);
  }
}
