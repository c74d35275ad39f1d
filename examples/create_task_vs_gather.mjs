// createTask against gather (and against plain sequential awaits).
//
// work(name, s) prints when it starts and ends, sleeping s seconds between.
//   1. `yield* work(...)` twice: a coroutine runs inside the caller, so the
//      second starts only when the first is done: 1 + 2 = 3 s.
//   2. createTask twice, then await each task: both run concurrently, about
//      2 s. A task starts on the loop's next iteration, not at createTask
//      (the "created" line comes first), and it runs whether or not anyone
//      awaits it yet.
//   3. gather(work(...), work(...)): the same concurrency in one call (it
//      makes the tasks), about 2 s; the results come in argument order even
//      though B finishes before A.
//
//   node examples/create_task_vs_gather.mjs
//   node examples/create_task_vs_gather.mjs --scale 0.1     every sleep times 0.1
import { createTask, gather, run, sleep } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);

function* work(name, seconds) {
  console.log(`  ${name} started`);
  yield* sleep(seconds * scale);
  console.log(`  ${name} finished`);
  return `${name} done`;
}

/** Run a generator function and print how long it took. */
function* timed(title, fn) {
  console.log(title);
  const start = performance.now();
  const result = yield* fn();
  const elapsed = (performance.now() - start) / 1000;
  console.log(`  -> ${JSON.stringify(result)} in ${elapsed.toFixed(2)} seconds`);
}

function* main() {
  yield* timed('1. sequential awaits', function* () {
    const a = yield* work('A', 2);
    const b = yield* work('B', 1);
    return [a, b];
  });

  yield* timed('2. createTask, then await each', function* () {
    const a = createTask(work('A', 2));
    const b = createTask(work('B', 1));
    console.log('  tasks created (neither has started yet)');
    return [yield* a, yield* b]; // main suspends at the first yield*: now both start
  });

  yield* timed('3. gather', function* () {
    return yield* gather(work('A', 2), work('B', 1));
  });
}

run(main);
