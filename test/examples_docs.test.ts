// The teaching examples (examples/*.mjs, listed in the README), each run
// as a child process the way a reader runs it, with its sleeps scaled down
// (--scale), and its output checked: the order of lines, counts, and
// elapsed times as ratios with slack, never as tight absolute times.
import { beforeAll, describe, expect, test } from 'vitest';
import { runNode } from './children.js';
import type { NodeResult } from './children.js';
import { ensureDist } from './dist.js';

beforeAll(ensureDist, 240_000);

/** Run examples/<name> with args; it must exit 0 by itself, with nothing on stderr. */
async function example(name: string, ...args: string[]): Promise<NodeResult> {
  const r = await runNode([`examples/${name}`, ...args]);
  expect(r.stderr, `${name} wrote to stderr`).toBe('');
  expect(r.code, `${name} exit code (null: killed at the timeout)`).toBe(0);
  return r;
}

/** The number in the line matching re (its first capture group). */
function numberIn(lines: string[], re: RegExp): number {
  const m = lines.map((l) => re.exec(l)).find((x) => x !== null);
  if (m == null) throw new Error(`no line matches ${re}:\n${lines.join('\n')}`);
  return Number(m[1]);
}

const times = (n: number, line: string): string[] => Array<string>(n).fill(line);

describe('count_gather.mjs and count_sync.mjs', () => {
  test('gathered: One x5, Two x5, Three x5, in a fraction of the synchronous time', async () => {
    const [gathered, sync] = [await example('count_gather.mjs', '--scale', '0.1'), await example('count_sync.mjs', '--scale', '0.1')];
    expect(gathered.lines.slice(0, 15)).toEqual([...times(5, 'One'), ...times(5, 'Two'), ...times(5, 'Three')]);
    expect(sync.lines.slice(0, 15)).toEqual(Array.from({ length: 5 }, () => ['One', 'Two', 'Three']).flat());
    const tGather = numberIn(gathered.lines, /^count_gather\.mjs executed in ([\d.]+) seconds\.$/);
    const tSync = numberIn(sync.lines, /^count_sync\.mjs executed in ([\d.]+) seconds\.$/);
    expect(gathered.lines).toHaveLength(16);
    expect(sync.lines).toHaveLength(16);
    // Ideally 0.3 s against 1.5 s (0.2): sleeps are never cut short, and the
    // five gathered ones overlap.
    expect(tGather).toBeGreaterThanOrEqual(0.3);
    expect(tSync).toBeGreaterThanOrEqual(1.5);
    expect(tGather / tSync).toBeLessThan(0.5);
  });
});

test('switches.mjs: sleep(0) alternates foo and bar', async () => {
  const r = await example('switches.mjs');
  expect(r.lines).toEqual(['Running in foo', 'Explicit context to bar', 'Explicit context switch to foo again', 'Implicit context switch back to bar']);
});

test('chained.mjs: each chain goes on as soon as its own first step is done', async () => {
  const scale = 0.02;
  const r = await example('chained.mjs', '--scale', String(scale));
  const { lines } = r;
  expect(lines).toHaveLength(3 * 5 + 1);
  // The three chains start together.
  expect(lines.slice(0, 3).map((l) => /^function1\((\d)\) sleeping for \d+ seconds\.$/.exec(l)?.[1])).toEqual(['1', '2', '3']);
  let maxTook = 0;
  for (const n of [1, 2, 3]) {
    const s1 = numberIn(lines, new RegExp(`^function1\\(${n}\\) sleeping for (\\d+) seconds\\.$`));
    const s2 = numberIn(lines, new RegExp(`^function2\\(${n}, result${n}-1\\) sleeping for (\\d+) seconds\\.$`));
    const returned1 = lines.indexOf(`Returning function1(${n}) == result${n}-1.`);
    // The second step starts in the same turn as the first one returns: the very next line.
    expect(lines[returned1 + 1]).toBe(`function2(${n}, result${n}-1) sleeping for ${s2} seconds.`);
    const returned2 = lines.indexOf(`Returning function2(${n}, result${n}-1) == result${n}-2 derived from result${n}-1.`);
    expect(returned2).toBeGreaterThan(returned1);
    const took = numberIn(lines, new RegExp(`^-->Chained result${n} => result${n}-2 derived from result${n}-1 \\(took ([\\d.]+) seconds\\)\\.$`));
    expect(lines.indexOf(lines.find((l) => l.startsWith(`-->Chained result${n} `))!)).toBe(returned2 + 1);
    // Printed with two decimals: allow the rounding.
    expect(took).toBeGreaterThanOrEqual((s1 + s2) * scale - 0.006);
    maxTook = Math.max(maxTook, took);
  }
  // The program takes as long as its slowest chain, not the sum of the three.
  const total = numberIn(lines, /^Program finished in ([\d.]+) seconds\.$/);
  expect(total).toBeGreaterThanOrEqual(maxTook - 0.006);
  expect(total - maxTook).toBeLessThan(0.5);
});

describe('producer_consumer.mjs', () => {
  test.each([
    ['2', '3'],
    ['5', '1'],
  ])('%s producers, %s consumers: every item put is got exactly once, then the program ends', async (p, c) => {
    const r = await example('producer_consumer.mjs', p, c, '--scale', '0.003');
    const added = r.lines.map((l) => /^Producer (\d+) added <([0-9a-f]{10})> to queue\.$/.exec(l)).filter((m) => m !== null);
    const got = r.lines.map((l) => /^Consumer (\d+) got element <([0-9a-f]{10})> in [\d.]+ seconds\.$/.exec(l)).filter((m) => m !== null);
    expect(got.map((m) => m[2]).sort()).toEqual(added.map((m) => m[2]).sort());
    for (const m of added) expect(Number(m[1])).toBeLessThan(Number(p));
    for (const m of got) expect(Number(m[1])).toBeLessThan(Number(c));
    // Each item is got after it was added.
    for (const m of got) expect(r.lines.findIndex((l) => l.includes(`added <${m[2]}>`))).toBeLessThan(r.lines.indexOf(m[0]));
    expect(r.lines.at(-1)).toMatch(/^Program completed in [\d.]+ seconds\.$/);
  });

  test('defaults to 10 producers and 15 consumers', async () => {
    const r = await example('producer_consumer.mjs', '--scale', '0.001');
    const producers = r.lines.map((l) => /^Producer (\d+) will add (\d+) items\.$/.exec(l)).filter((m) => m !== null);
    const consumers = new Set(r.lines.map((l) => /^Consumer (\d+) sleeping/.exec(l)?.[1]).filter((x) => x !== undefined));
    expect(producers.map((m) => m[1])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(consumers.size).toBe(15);
    // Each producer adds as many items as it announced.
    for (const [, name, n] of producers) expect(r.lines.filter((l) => l.startsWith(`Producer ${name} added `))).toHaveLength(Number(n));
  });
});

test('generate_random_int.mjs: three values over their thresholds, in argument order', async () => {
  const r = await example('generate_random_int.mjs', '--scale', '0.002');
  expect(r.lines.filter((l) => l.startsWith('Initiated'))).toEqual(['Initiated makeRandom(0).', 'Initiated makeRandom(1).', 'Initiated makeRandom(2).']);
  const m = /^r1: (\d+), r2: (\d+), r3: (\d+)$/.exec(r.lines.at(-1)!);
  expect(m).not.toBeNull();
  const results = m!.slice(1).map(Number);
  results.forEach((value, i) => {
    expect(value).toBeGreaterThan(10 - i - 1);
    expect(value).toBeLessThanOrEqual(10);
    expect(r.lines).toContain(`---> Finished: makeRandom(${i}) == ${value}`);
  });
  // Every retry line is under its own threshold.
  for (const line of r.lines) {
    const retry = /^makeRandom\((\d)\) == (\d+) too low; retrying\.$/.exec(line);
    if (retry !== null) expect(Number(retry[2])).toBeLessThanOrEqual(10 - Number(retry[1]) - 1);
  }
  expect(r.stdout).not.toContain('\x1b['); // colours only on a terminal
});

test('future_resolved.mjs: resolved by another task, under gather and as tasks; the same result twice', async () => {
  const r = await example('future_resolved.mjs', '--scale', '0.05');
  const pair = ['foo: awaiting the future', 'bar: sleeping before resolving the future', 'bar: set the result', 'foo: found it resolved: future is resolved'];
  expect(r.lines).toEqual([
    '--- with gather',
    ...pair,
    'gather returned ["future is resolved", undefined]',
    '--- with createTask',
    ...pair,
    'task foo returned "future is resolved"',
    '--- awaiting a done Future again',
    'awaited twice: "future is resolved" and "future is resolved", same: true',
  ]);
});

test('create_task_vs_gather.mjs: sequential awaits add up, tasks and gather overlap', async () => {
  const r = await example('create_task_vs_gather.mjs', '--scale', '0.2');
  const elapsed = r.lines.filter((l) => l.startsWith('  -> ')).map((l) => Number(/in ([\d.]+) seconds$/.exec(l)![1]));
  expect(r.lines.map((l) => l.replace(/ in [\d.]+ seconds$/, ''))).toEqual([
    '1. sequential awaits',
    '  A started',
    '  A finished',
    '  B started',
    '  B finished',
    '  -> ["A done","B done"]',
    '2. createTask, then await each',
    '  tasks created (neither has started yet)',
    '  A started',
    '  B started',
    '  B finished',
    '  A finished',
    '  -> ["A done","B done"]',
    '3. gather',
    '  A started',
    '  B started',
    '  B finished',
    '  A finished',
    '  -> ["A done","B done"]',
  ]);
  const [sequential, tasks, gathered] = elapsed as [number, number, number];
  // Ideally 3 : 2 : 2.
  expect(sequential / tasks).toBeGreaterThan(1.25);
  expect(sequential / gathered).toBeGreaterThan(1.25);
  expect(tasks / gathered).toBeGreaterThan(0.75);
  expect(tasks / gathered).toBeLessThan(1.33);
});

test('threads_loops.mjs: one loop per worker thread, none in the main thread', async () => {
  const r = await example('threads_loops.mjs', '--scale', '0.05');
  expect(r.lines[0]).toBe('main thread: no running event loop');
  expect(r.lines.at(-1)).toBe('main thread: both threads finished (exit codes 0, 0)');
  for (const name of ['thread A', 'thread B']) {
    const sleeping = r.lines.findIndex((l) => new RegExp(`^${name} \\(thread \\d+\\): sleeping [1-5] s$`).test(l));
    const woke = r.lines.findIndex((l) => new RegExp(`^${name} \\(thread \\d+\\): woke up; my loop is running: true; it is the thread's current loop: true$`).test(l));
    expect(sleeping).toBeGreaterThan(0);
    expect(woke).toBeGreaterThan(sleeping);
  }
  expect(r.lines).toHaveLength(6);
});

test('tutorial_loop.mjs: socket and file reads interleave with the sleepers, in about the time of the longest', async () => {
  const scale = 0.2;
  const r = await example('tutorial_loop.mjs', '--scale', String(scale));
  const background = r.lines.filter((l) => /^background: sleep [1-5] of 5$/.test(l));
  const socket = r.lines.filter((l) => l.startsWith('socket: received '));
  const urandom = r.lines.filter((l) => /^\/dev\/urandom: [0-9a-f]{16}$/.test(l));
  expect(background).toEqual([1, 2, 3, 4, 5].map((i) => `background: sleep ${i} of 5`));
  // Three sends 0.15 s apart: three reads (the bytes, whatever the reads, in order).
  expect(socket.map((l) => /^socket: received "(.*)"$/.exec(l)![1]).join('')).toBe('hellofromthe socket');
  expect(socket).toHaveLength(3);
  expect(urandom).toHaveLength(3);
  expect(r.lines).toHaveLength(5 + 3 + 3 + 1);
  // Interleaved: I/O happens while the background coroutine is still sleeping.
  const lastBackground = r.lines.lastIndexOf('background: sleep 5 of 5');
  expect(r.lines.indexOf(socket[0]!)).toBeLessThan(lastBackground);
  expect(r.lines.indexOf(urandom[1]!)).toBeLessThan(lastBackground);
  // About the longest coroutine (0.5 s scaled), not the sum of all the sleeps (1.31 s scaled).
  const done = numberIn(r.lines, /^done in ([\d.]+) seconds$/);
  expect(done / (1.31 * scale)).toBeLessThan(0.7);
  expect(done).toBeGreaterThanOrEqual(0.45 * scale - 0.006);
});

test('demo.mjs (npm start): serves every request, says what it cost, and exits by itself', async () => {
  const r = await example('demo.mjs', '5', '40', '512');
  expect(r.lines[0]).toMatch(/^coio: an echo server on 127\.0\.0\.1:\d+ \(\w+\), 5 clients x 40 requests of 512 bytes$/);
  expect(r.lines[1]).toMatch(/^served 200 requests \(0\.1 MB each way\) in [\d.]+ s: \d+ requests\/s$/);
  expect(r.lines[2]).toMatch(/^cost: [\d.]+ µs CPU per request .*peak RSS \d+ MB, \d+ fds open with every client connected$/);
  expect(r.lines.at(-1)).toBe('server closed; done');
});
