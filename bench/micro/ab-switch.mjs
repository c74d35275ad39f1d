// The task switch, callSoon and task creation of one build, best of ROUNDS,
// in CPU ns per operation: for comparing two builds of a hot-path change on a
// shared machine. Run it alternately on each build (one process each: a
// process that loads both makes every case polymorphic and slower the
// second time), e.g.
//   for i in 1 2 3 4; do for d in dist-base dist; do COIO_DIST=../../$d/esm/index.js node bench/micro/ab-switch.mjs; done; done
const coio = await import(process.env.COIO_DIST ?? '../../dist/esm/index.js');
const ROUNDS = Number(process.env.ROUNDS ?? 15);
// CTXVAR=1: a ContextVar exists (none set): Tasks and callbacks switch Contexts.
if (process.env.CTXVAR === '1') new coio.ContextVar('unused');
const N = 200_000;

function pingPong(coio, switches) {
  const loop = coio.newEventLoop();
  try {
    loop.runUntilComplete((function* () {
      let left = switches;
      function* player() { while (left-- > 0) yield; }
      const a = loop.createTask(player());
      const b = loop.createTask(player());
      yield* a;
      yield* b;
    })());
  } finally { loop.close(); }
}
function callSoonChain(coio, count) {
  const loop = coio.newEventLoop();
  try {
    let left = count;
    const tick = () => { if (--left > 0) loop.callSoon(tick); else loop.stop(); };
    loop.callSoon(tick);
    loop.runForever();
  } finally { loop.close(); }
}
function tasks(coio, count) {
  const loop = coio.newEventLoop();
  try {
    loop.runUntilComplete((function* () {
      function* trivial(i) { return i; }
      for (let i = 0; i < count; i++) yield* loop.createTask(trivial(i));
    })());
  } finally { loop.close(); }
}
const cases = { 'task switch (bare yield)': pingPong, 'callSoon chain': callSoonChain, 'task created+awaited': tasks };
const out = [];
for (const [name, fn] of Object.entries(cases)) {
  let best = Infinity;
  fn(coio, N);
  for (let r = 0; r < ROUNDS; r++) {
    // CPU time, not wall time: on a loaded machine the wait for a core is not the code's cost.
    const t0 = process.cpuUsage();
    fn(coio, N);
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  out.push(`${name} ${((best * 1e6) / N).toFixed(1)} ns`);
}
console.log(`${process.env.COIO_DIST ?? 'dist'}${process.env.CTXVAR === '1' ? ' (a ContextVar exists)' : ''}: ${out.join(' | ')}`);
