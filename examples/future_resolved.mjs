// A Future resolved by another task.
//
// A Future is a box for a result that does not exist yet. bar(fut) sleeps,
// then puts "future is resolved" in the box with setResult(); foo(fut)
// awaits the box (`yield* fut` suspends foo until the result is set) and
// reports what it found. The pair runs twice: once under gather, once as
// two Tasks made with createTask and then awaited. Finally the Future is
// awaited twice more: a done Future gives the same result every time,
// without suspending.
//
//   node examples/future_resolved.mjs
//   node examples/future_resolved.mjs --scale 0.1     bar's sleep times 0.1
import { createTask, gather, getRunningLoop, run, sleep } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);

function* bar(fut) {
  console.log('bar: sleeping before resolving the future');
  yield* sleep(1 * scale);
  fut.setResult('future is resolved'); // wakes every coroutine awaiting fut (on the next loop iteration)
  console.log('bar: set the result');
}

function* foo(fut) {
  console.log('foo: awaiting the future');
  const result = yield* fut; // suspends until bar sets the result; then evaluates to it
  console.log(`foo: found it resolved: ${result}`);
  return result;
}

function* main() {
  const loop = getRunningLoop();

  console.log('--- with gather');
  const fut1 = loop.createFuture(); // a Future of this loop, pending
  const [fromFoo] = yield* gather(foo(fut1), bar(fut1));
  console.log(`gather returned [${JSON.stringify(fromFoo)}, undefined]`);

  console.log('--- with createTask');
  const fut2 = loop.createFuture();
  const t1 = createTask(foo(fut2)); // both start on the loop's next iteration...
  const t2 = createTask(bar(fut2));
  yield* t1; // ...which comes when main suspends here
  yield* t2;
  console.log(`task foo returned ${JSON.stringify(t1.result())}`);

  console.log('--- awaiting a done Future again');
  const again = yield* fut2; // done: returns at once, no suspension
  const andAgain = yield* fut2;
  console.log(`awaited twice: ${JSON.stringify(again)} and ${JSON.stringify(andAgain)}, same: ${again === andAgain}`);
}

run(main);
