// count() without an event loop: the synchronous twin of examples/count_gather.mjs.
//
// Each count() prints "One", blocks for 1 s, prints "Two", blocks for 2 s,
// prints "Three"; five calls in a row print "One Two Three" five times and
// take about 15 s, because nothing else can run while a call blocks.
// (Atomics.wait on a SharedArrayBuffer is a real blocking sleep: the thread
// does nothing until the timeout passes, like Python's time.sleep.)
//
//   node examples/count_sync.mjs                   about 15 s
//   node examples/count_sync.mjs --scale 0.1       every sleep times 0.1 (about 1.5 s)

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);

/** Block the whole thread for `seconds` (nobody waits on the Int32Array, so it always times out). */
function blockingSleep(seconds) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

function count() {
  console.log('One');
  blockingSleep(1 * scale);
  console.log('Two');
  blockingSleep(2 * scale);
  console.log('Three');
}

const start = performance.now();
for (let i = 0; i < 5; i++) count();
const elapsed = (performance.now() - start) / 1000;
console.log(`count_sync.mjs executed in ${elapsed.toFixed(2)} seconds.`);
