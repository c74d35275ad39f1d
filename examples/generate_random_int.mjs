// generate_random_int: three coroutines draw random numbers at their own pace.
//
// makeRandom(i, threshold) draws random integers in [0, 10] until one is
// above its threshold, sleeping i + 1 seconds between draws. main() gathers
// makeRandom(0, 9), makeRandom(1, 8) and makeRandom(2, 7): their retries
// interleave in the output, and gather returns the three final values in
// argument order, whichever finished first.
//
//   node examples/generate_random_int.mjs                  typically 10-20 s
//   node examples/generate_random_int.mjs --scale 0.01     every sleep times 0.01
import { gather, run, sleep } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);

// One colour per coroutine when printing to a terminal (ANSI escapes).
const colors = process.stdout.isTTY ? ['\x1b[0m', '\x1b[36m', '\x1b[91m', '\x1b[35m'] : ['', '', '', ''];

/** A random integer in [0, 10], as Python's random.randint(0, 10). */
const randint = () => Math.floor(Math.random() * 11);

function* makeRandom(idx, threshold = 6) {
  const c = colors[idx + 1];
  console.log(`${c}Initiated makeRandom(${idx}).${colors[0]}`);
  let i = randint();
  while (i <= threshold) {
    console.log(`${c}makeRandom(${idx}) == ${i} too low; retrying.${colors[0]}`);
    yield* sleep((idx + 1) * scale);
    i = randint();
  }
  console.log(`${c}---> Finished: makeRandom(${idx}) == ${i}${colors[0]}`);
  return i;
}

function* main() {
  // gather's result is an array in argument order.
  return yield* gather(...[0, 1, 2].map((i) => makeRandom(i, 10 - i - 1)));
}

const [r1, r2, r3] = run(main); // run() returns what main returns
console.log(`r1: ${r1}, r2: ${r2}, r3: ${r3}`);
