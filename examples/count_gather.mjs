// count() under gather: five coroutines share one thread by taking turns.
//
// Each count() prints "One", sleeps 1 s, prints "Two", sleeps 2 s, prints
// "Three". gather() runs the five at once: while one sleeps, the loop runs
// the others, so the output is One x5, Two x5, Three x5 and the whole run
// takes about 3 s. Compare examples/count_sync.mjs: the same work with
// blocking sleeps, one call after another, takes about 15 s.
//
//   node examples/count_gather.mjs                 about 3 s
//   node examples/count_gather.mjs --scale 0.1     every sleep times 0.1 (about 0.3 s)
import { gather, run, sleep } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);

// A coroutine is a generator function; `yield*` is asyncio's `await`.
function* count() {
  console.log('One');
  yield* sleep(1 * scale); // suspends this coroutine only: the loop runs the others meanwhile
  console.log('Two');
  yield* sleep(2 * scale);
  console.log('Three');
}

function* main() {
  // gather wraps each coroutine in a Task (started on the loop's next
  // iteration) and waits until all five are done.
  yield* gather(count(), count(), count(), count(), count());
}

const start = performance.now();
run(main); // a new event loop runs main() to completion, then is closed
const elapsed = (performance.now() - start) / 1000;
console.log(`count_gather.mjs executed in ${elapsed.toFixed(2)} seconds.`);
