// One package, one running loop: a process that loads coio both as an ES
// module and as CommonJS (an ESM app with a CommonJS dependency, a project
// mixing .mts and .cts) has one implementation behind both entry points, so
// each sees the other's running loop, tasks and Futures.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runNode } from './children.js';
import { ensureDist, root } from './dist.js';

beforeAll(ensureDist, 240_000);

let dir: string;
beforeAll(() => {
  // A project that depends on coio: both 'coio' specifiers resolve through package.json's exports.
  dir = mkdtempSync(join(tmpdir(), 'coio-dual-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'coio'), 'dir');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('ESM import and CommonJS require of coio share the running loop, the tasks and the classes', async () => {
  // A CommonJS helper module, as a dependency would be: it requires coio.
  const helper = join(dir, 'helper.cjs');
  writeFileSync(
    helper,
    `const coio = require('coio');
exports.coio = coio;
exports.whereAmI = () => ({ loop: coio.getRunningLoop(), task: coio.currentTask() });
exports.nap = function* (seconds) { yield* coio.sleep(seconds); return 'napped'; };
exports.startHelper = () => coio.createTask(function* () { yield* coio.sleep(0.01); return 'helper task'; }, { name: 'helper' });
`,
  );
  const app = join(dir, 'app.mjs');
  writeFileSync(
    app,
    `import { createRequire } from 'node:module';
import * as esm from 'coio';
const helper = createRequire(import.meta.url)(${JSON.stringify(helper)});
const cjs = helper.coio;
const out = {};
out.sameFunctions = esm.run === cjs.run && esm.Future === cjs.Future && esm.Task === cjs.Task;
out.result = esm.run(function* () {
  const loop = esm.getRunningLoop();
  const here = helper.whereAmI();
  out.sameLoop = here.loop === loop;
  out.sameTask = here.task === esm.currentTask() && here.task !== null;
  out.nap = yield* helper.nap(0.01);                    // a coroutine of the CommonJS side, awaited here
  const fut = new cjs.Future();                         // a CommonJS-side Future on this loop
  loop.callSoon(() => fut.setResult('future'));
  out.future = yield* fut;
  const task = helper.startHelper();                    // a task made through require('coio')
  out.seesHelperTask = [...esm.allTasks()].includes(task) && task instanceof esm.Task;
  out.helperTask = yield* task;
  return 'done';
});
out.outsideRun = (() => { try { cjs.getRunningLoop(); return 'no error'; } catch (e) { return e.constructor === esm.RuntimeError ? 'RuntimeError' : String(e); } })();
console.log(JSON.stringify(out));
`,
  );
  const r = await runNode([app]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    sameFunctions: true,
    result: 'done',
    sameLoop: true,
    sameTask: true,
    nap: 'napped',
    future: 'future',
    seesHelperTask: true,
    helperTask: 'helper task',
    outsideRun: 'RuntimeError',
  });
});
