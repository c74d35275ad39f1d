// Producers and consumers over a Queue (asyncio.Queue, in coio).
//
// P producers each put a random number (0-10) of random hex items on a
// shared queue, sleeping a random 0-10 s before each put; every item is
// stamped with the time it was put. C consumers loop forever: sleep a
// random 0-10 s, get an item, print how long it waited in the queue, mark
// it done with taskDone(). main() waits for the producers, then for
// queue.join() (every item put has been marked done), then cancels the
// consumers, which are still waiting in get().
//
//   node examples/producer_consumer.mjs [producers] [consumers]    defaults: 10 and 15
//   node examples/producer_consumer.mjs 2 3 --scale 0.01           every sleep times 0.01
import { randomBytes } from 'node:crypto';
import { Queue, createTask, gather, run, sleep } from 'coio';

// --scale F multiplies every sleep (the tests run the examples with a small F).
const scaleAt = process.argv.indexOf('--scale');
const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);
const [nprod = 10, ncon = 15] = process.argv
  .slice(2)
  .filter((arg, i, args) => arg !== '--scale' && args[i - 1] !== '--scale')
  .map(Number);

/** A random integer in [0, 10], as Python's random.randint(0, 10). */
const randint = () => Math.floor(Math.random() * 11);

function* randsleep(caller) {
  const i = randint();
  console.log(`${caller} sleeping for ${i} seconds.`);
  yield* sleep(i * scale);
}

function* produce(name, queue) {
  const n = randint();
  console.log(`Producer ${name} will add ${n} items.`);
  for (let k = 0; k < n; k++) {
    yield* randsleep(`Producer ${name}`);
    const item = randomBytes(5).toString('hex');
    // put() would wait if the queue were full (it is unbounded here).
    yield* queue.put([item, performance.now()]);
    console.log(`Producer ${name} added <${item}> to queue.`);
  }
}

function* consume(name, queue) {
  for (;;) {
    yield* randsleep(`Consumer ${name}`);
    const [item, putAt] = yield* queue.get(); // waits while the queue is empty
    const waited = (performance.now() - putAt) / 1000;
    console.log(`Consumer ${name} got element <${item}> in ${waited.toFixed(5)} seconds.`);
    queue.taskDone(); // one item fully handled: join() counts these
  }
}

function* main() {
  const queue = new Queue();
  const producers = Array.from({ length: nprod }, (_, n) => createTask(produce(n, queue)));
  const consumers = Array.from({ length: ncon }, (_, n) => createTask(consume(n, queue)));
  yield* gather(...producers);
  yield* queue.join(); // every item put has been got and marked done
  for (const c of consumers) c.cancel(); // CancelledError is thrown into each at its yield*
  // Wait for them to finish cancelling (run() would otherwise cancel and wait for them itself).
  yield* gather(...consumers, { returnExceptions: true });
}

const start = performance.now();
run(main);
const elapsed = (performance.now() - start) / 1000;
console.log(`Program completed in ${elapsed.toFixed(2)} seconds.`);
