// Explicit context switches: sleep(0) hands control to the loop for one turn.
//
// foo() and bar() each print, await sleep(0), and print again. Gathered,
// they alternate: foo's first line, bar's first line, foo's second, bar's
// second. A coroutine runs without interruption until it suspends (here at
// sleep(0), which yields to the loop for exactly one iteration and
// schedules it again); the loop then runs whatever else was ready: the
// other coroutine.
//
//   node examples/switches.mjs
import { gather, run, sleep } from 'coio';

function* foo() {
  console.log('Running in foo');
  yield* sleep(0); // suspend: let the loop run the other ready coroutines once
  console.log('Explicit context switch to foo again');
}

function* bar() {
  console.log('Explicit context to bar');
  yield* sleep(0);
  console.log('Implicit context switch back to bar');
}

run(function* main() {
  yield* gather(foo(), bar());
});
