// Chained coroutines: each chain awaits two steps, the second fed by the first.
//
// For n = 1, 2, 3, chain(n) awaits function1(n) (a random sleep of 0-10 s,
// returns "result{n}-1"), then function2(n, thatResult) (another random
// sleep, returns "result{n}-2 derived from result{n}-1"), and prints the
// chained result with how long the chain took. main() gathers the three
// chains: each chain's second step starts as soon as its own first step is
// done, whatever the other chains are doing, and the whole program takes
// about as long as the slowest chain, not the sum of all of them.
//
//   node examples/chained.mjs                  up to 20 s
//   node examples/chained.mjs --scale 0.1      every sleep times 0.1
import { gather, run, sleep } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);

/** A random integer in [0, 10], as Python's random.randint(0, 10). */
const randint = () => Math.floor(Math.random() * 11);

function* function1(n) {
  const i = randint();
  console.log(`function1(${n}) sleeping for ${i} seconds.`);
  yield* sleep(i * scale);
  const result = `result${n}-1`;
  console.log(`Returning function1(${n}) == ${result}.`);
  return result;
}

function* function2(n, arg) {
  const i = randint();
  console.log(`function2(${n}, ${arg}) sleeping for ${i} seconds.`);
  yield* sleep(i * scale);
  const result = `result${n}-2 derived from ${arg}`;
  console.log(`Returning function2(${n}, ${arg}) == ${result}.`);
  return result;
}

function* chain(n) {
  const start = performance.now();
  // `yield*` returns what the awaited coroutine returns: the chain reads
  // top to bottom like synchronous code, yet suspends at each sleep.
  const p1 = yield* function1(n);
  const p2 = yield* function2(n, p1);
  const took = (performance.now() - start) / 1000;
  console.log(`-->Chained result${n} => ${p2} (took ${took.toFixed(2)} seconds).`);
}

function* main(...args) {
  yield* gather(...args.map((n) => chain(n)));
}

const start = performance.now();
run(main(1, 2, 3));
const elapsed = (performance.now() - start) / 1000;
console.log(`Program finished in ${elapsed.toFixed(2)} seconds.`);
