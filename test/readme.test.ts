// Every code snippet of README.md works: each ```js / ```ts block is marked
// `<!-- test: NAME -->` and runs here as a child `node` process importing
// the package (dist/), the way a reader would run it; its output is checked
// against the ```text block the README shows after it (or, for servers, a
// client talks to it). A block without a marker, or a marker without a
// check here, fails the test.
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { availableBackends, uringStatus } from '../src/selectors.js';
import * as coioExports from '../src/index.js';
import { runNode, startNode, stopNode } from './children.js';
import type { Child, NodeResult } from './children.js';
import { ensureDist, root } from './dist.js';
import { sanitizedChildEnv } from './leaks.js';
import { makeCerts } from './tls_certs.js';
import type { TestCerts } from './tls_certs.js';

beforeAll(ensureDist, 240_000);

interface Snippet {
  name: string;
  lang: 'js' | 'ts';
  code: string;
  /** The first ```text block after the snippet (before the next code block), if any. */
  output: string | undefined;
}

interface Fence {
  lang: string;
  code: string;
  /** The marker on the line before the fence (blank lines allowed between), if any. */
  marker: string | undefined;
}

function fences(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)/.exec(lines[i]!);
    if (open === null) continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') j++;
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === '') k--;
    const marker = k >= 0 ? /^<!-- test: ([\w-]+) -->$/.exec(lines[k]!)?.[1] : undefined;
    out.push({ lang: open[1]!, code: lines.slice(i + 1, j).join('\n') + '\n', marker });
    i = j;
  }
  return out;
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const allFences = fences(readme);
const snippets = new Map<string, Snippet>();
allFences.forEach((f, i) => {
  if (f.marker === undefined || (f.lang !== 'js' && f.lang !== 'ts')) return;
  const next = allFences.slice(i + 1).find((g) => g.lang !== 'sh');
  snippets.set(f.marker, { name: f.marker, lang: f.lang, code: f.code, output: next?.lang === 'text' ? next.code : undefined });
});

function snippet(name: string): Snippet {
  const s = snippets.get(name);
  if (s === undefined) throw new Error(`README.md has no snippet marked <!-- test: ${name} -->`);
  return s;
}

/** How node must read the snippet: CommonJS if it uses require(), else an ES module. */
function inputType(s: Snippet): string {
  return /\brequire\(/.test(s.code) ? '--input-type=commonjs' : '--input-type=module';
}

/** The snippet as a program for `node --input-type=... -e` (TypeScript: types stripped). */
function program(s: Snippet, replace: (code: string) => string = (c) => c): string {
  const code = replace(s.code);
  if (s.lang === 'js') return code;
  return ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
}

function runSnippet(name: string): Promise<NodeResult> {
  return runNode([inputType(snippet(name)), '-e', program(snippet(name))]);
}

/** Run a snippet that must exit 0 and print exactly the README's output block. */
async function expectPrintsItsOutput(name: string): Promise<void> {
  const s = snippet(name);
  expect(s.output, `the README shows no output after ${name}`).toBeDefined();
  const r = await runSnippet(name);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(s.output);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Connect to the port, retrying while the server starts (failing if it exits). */
async function connectWhenUp(server: Child, port: number): Promise<net.Socket> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
        sock.once('error', (err) => {
          sock.destroy();
          reject(err);
        });
      });
    } catch (err) {
      if (server.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the server did not accept connections (${String(err)}); stderr: ${server.stderr()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Send data and read until as many bytes came back; then close. */
async function echoThrough(sock: net.Socket, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= data.length) resolve();
    });
    sock.once('error', reject);
    sock.once('close', () => resolve());
  });
  sock.write(data);
  await done;
  await new Promise<void>((resolve) => {
    sock.once('close', () => resolve());
    sock.end();
    sock.destroySoon();
  });
  return Buffer.concat(chunks);
}

/** Start a README server snippet on a free port (its literal 8888 replaced) and echo through it. */
async function checkEchoServer(name: string): Promise<void> {
  const port = await freePort();
  const server = startNode([inputType(snippet(name)), '-e', program(snippet(name), (c) => c.replaceAll('8888', String(port)))]);
  try {
    for (const size of [6, 300_000]) {
      const sock = await connectWhenUp(server, port);
      const data = Buffer.alloc(size, 'coio! ');
      expect((await echoThrough(sock, data)).equals(data)).toBe(true);
    }
    expect(server.stderr()).toBe('');
  } finally {
    await stopNode(server);
  }
}

/**
 * The first server: it echoes, and a signal ends it within a bound even with
 * a client connected (SIGTERM: status 0, nothing on stderr; Ctrl-C: status
 * 130 and one line); the client sees its connection closed.
 */
async function checkFirstServer(name: string): Promise<void> {
  await checkEchoServer(name);
  for (const [signal, code, stderr] of [['SIGTERM', 0, ''], ['SIGINT', 130, 'KeyboardInterrupt: interrupted by SIGINT\n']] as const) {
    const port = await freePort();
    const server = startNode([inputType(snippet(name)), '-e', program(snippet(name), (c) => c.replaceAll('8888', String(port)))]);
    try {
      const sock = await connectWhenUp(server, port);
      sock.on('error', () => {}); // closed by the server: EOF, or a reset
      const echoed = new Promise<string>((resolve) => sock.once('data', (d: Buffer) => resolve(String(d))));
      sock.write('stay connected');
      expect(await echoed).toBe('stay connected');
      const clientClosed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      sock.resume();
      const t0 = Date.now();
      server.child.kill(signal);
      const exit = await server.closed;
      const ms = Date.now() - t0;
      await clientClosed;
      expect({ signal, exit, stderr: server.stderr() }).toEqual({ signal, exit: { code, signal: null }, stderr });
      expect(ms).toBeLessThan(4000); // the client reads: closed at once, long before the 5 s abort
    } finally {
      await stopNode(server);
    }
  }
}

/** Normalize what changes from run to run: file locations, timings. */
function normalized(text: string): string {
  return text
    .replace(/\((?:file:|node:|\/)[^)]*\)/g, '(…)')
    .replace(/took \d+\.\d+ seconds/g, 'took N seconds')
    .replace(/due in \d+\.\d+ s/g, 'due in N s');
}

// The TLS snippets name cert.pem, key.pem and ca.pem: certificates made for the test.
let tlsCerts: TestCerts | undefined;
afterAll(() => tlsCerts?.remove());

async function runTlsSnippet(name: string): Promise<NodeResult> {
  tlsCerts ??= makeCerts();
  const c = tlsCerts;
  const code = program(snippet(name), (src) =>
    src.replaceAll("'cert.pem'", JSON.stringify(c.server.cert)).replaceAll("'key.pem'", JSON.stringify(c.server.key)).replaceAll("'ca.pem'", JSON.stringify(c.ca.cert)),
  );
  return runNode([inputType(snippet(name)), '-e', code]);
}

async function expectTlsSnippetOutput(name: string): Promise<void> {
  const r = await runTlsSnippet(name);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(snippet(name).output);
}

const checks: Record<string, () => Promise<void>> = {
  'tls-echo': () => expectTlsSnippetOutput('tls-echo'),
  'tls-verify-error': () => expectTlsSnippetOutput('tls-verify-error'),
  starttls: () => expectTlsSnippetOutput('starttls'),
  'first-server': () => checkFirstServer('first-server'),
  selectors: () => checkEchoServer('selectors'),
  coroutines: () => expectPrintsItsOutput('coroutines'),
  contextvars: () => expectPrintsItsOutput('contextvars'),
  'future-iterator': () => expectPrintsItsOutput('future-iterator'),
  'toy-task': () => expectPrintsItsOutput('toy-task'),
  'protocol-echo': () => expectPrintsItsOutput('protocol-echo'),
  'timeouts-taskgroup': () => expectPrintsItsOutput('timeouts-taskgroup'),
  'locks-queues': () => expectPrintsItsOutput('locks-queues'),
  'async-functions': () => expectPrintsItsOutput('async-functions'),
  'guest-mode': () => expectPrintsItsOutput('guest-mode'),
  backends: async () => {
    const r = await runSnippet('backends');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The first line is this machine's list; the comment shows Linux's.
    // Under scripts/asan.sh children load build/, not this process's addon
    // (test/setup.ts): there only the shape of the list can be checked.
    const sameAddon = Object.keys(sanitizedChildEnv()).length === 0;
    expect(r.lines.slice(1)).toEqual(['poll', 'select']);
    if (sameAddon) expect(r.lines[0]).toBe(inspect(availableBackends()));
    else expect(r.lines[0]).toMatch(/^\[ (?:'(?:epoll|kqueue)', )?(?:'io_uring', )?'poll', 'select' \]$/);
    expect(snippet('backends').code).toContain("[ 'epoll', 'io_uring', 'poll', 'select' ] on Linux");
  },
  'uring-status': async () => {
    const r = await runSnippet('uring-status');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Under scripts/asan.sh children load build/, not this process's
    // (sanitized, maybe portable: no ring) addon: there only the shape holds.
    const sameAddon = Object.keys(sanitizedChildEnv()).length === 0;
    const status = uringStatus();
    if (sameAddon) expect(r.lines[0]).toBe(status.available ? `io_uring with ${status.setupFlags.join(' | ')}, recv: ${status.recv}` : status.reason);
    else expect(r.lines[0]).toMatch(/^io_uring with [A-Z_ |]+, recv: (multishot|oneshot)$|^io_uring /);
  },
  'debug-mode': async () => {
    const r = await runSnippet('debug-mode');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const shown = snippet('debug-mode').output!.split('\n');
    const got = r.stderr.split('\n');
    // The README shows the report up to the first stack frame, then "at ...".
    const stackAt = shown.findIndex((l) => l.trim() === 'at ...');
    expect(normalized(got.slice(0, stackAt).join('\n'))).toBe(normalized(shown.slice(0, stackAt).join('\n')));
    expect(got[stackAt]).toMatch(/^ {4}at /);
  },
  'format-tasks': async () => {
    const r = await runSnippet('format-tasks');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(normalized(r.stdout)).toBe(normalized(snippet('format-tasks').output!));
  },
};

describe('README.md', () => {
  test('every js / ts block is marked as a test, and every marked block has a check here', () => {
    const unmarked = allFences.filter((f) => (f.lang === 'js' || f.lang === 'ts') && f.marker === undefined);
    expect(unmarked.map((f) => f.code.split('\n')[0])).toEqual([]);
    expect([...snippets.keys()].sort()).toEqual(Object.keys(checks).sort());
  });

  test('keeps the two set-up commands in its first lines', () => {
    const head = readme.split('\n').slice(0, 8).join('\n');
    expect(head).toContain('npm install');
    expect(head).toContain('npm test');
  });

  test('the "From asyncio to coio" table: every asyncio 3.13 name, every export, and nothing that is not there', () => {
    const { asyncioColumn, coioColumn } = asyncioTable(readme);
    // asyncio 3.13's public names: the __all__ of Lib/asyncio/__init__.py's
    // modules (base_events, coroutines, events, exceptions, futures, locks,
    // protocols, runners, queues, streams, subprocess, tasks, taskgroups,
    // timeouts, threads, transports, unix_events). Each must be in the asyncio
    // column, beside its counterpart or the reason there is none.
    const missingAsyncio = ASYNCIO_313.filter((n) => !hasWord(asyncioColumn, n));
    expect(missingAsyncio, 'asyncio 3.13 names the table does not list').toEqual([]);
    // Every export of the package (values and types) is in the coio column.
    const index = readFileSync(join(root, 'src/index.ts'), 'utf8');
    const exported = [...index.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((m) =>
      m[1]!
        .split(',')
        .map((n) => n.trim().split(/\s+as\s+/).pop()!)
        .filter((n) => n !== ''),
    );
    expect(exported.length).toBeGreaterThan(100);
    expect(exported.filter((n) => !hasWord(coioColumn, n)), 'exports missing from the table').toEqual([]);
    // And the coio column names nothing that is not there: every name in
    // code that is capitalized (a class, type or constant) or called, and is
    // not a property of something (`loop.x`, `.x`), is an export, a member of
    // an exported class (or of a loop), or a JavaScript global.
    const coio = coioExports as Record<string, unknown>;
    const members = new Set<string>();
    const addMembers = (o: unknown): void => {
      for (let p = o; p !== null && p !== undefined && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
        for (const k of Object.getOwnPropertyNames(p)) members.add(k);
      }
    };
    for (const v of Object.values(coio)) {
      if (typeof v === 'function') {
        addMembers(v);
        addMembers(v.prototype);
      } else if (v !== null && typeof v === 'object') {
        addMembers(v);
      }
    }
    const loop = (coio.newEventLoop as () => { close(): void })();
    addMembers(loop);
    loop.close();
    const unknown = new Set<string>();
    for (const span of coioColumn.matchAll(/`([^`]*)`/g)) {
      const code = span[1]!.replace(/'[^']*'|"[^"]*"/g, "''");
      for (const m of code.matchAll(/(^|[^.\w$])([A-Za-z_$][\w$]*)/g)) {
        const name = m[2]!;
        const after = code.slice(m.index! + m[0].length);
        const capitalized = /^[A-Z]/.test(name);
        if (!capitalized && (after.startsWith('.') || !after.startsWith('('))) continue;
        if (CODE_WORDS.has(name) || exported.includes(name) || members.has(name) || name in globalThis) continue;
        unknown.add(name);
      }
    }
    expect([...unknown], 'names in the coio column that coio does not have').toEqual([]);
  });

  test('the benchmark results placeholder is there (or its table)', () => {
    expect(readme).toMatch(/<!-- bench-results -->/);
  });

  test('every relative link points to a file that exists', () => {
    const links = [...readme.matchAll(/\]\(([^)#][^)]*)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(10);
    for (const link of links) expect(existsSync(join(root, link.split('#')[0]!)), link).toBe(true);
  });

  for (const name of Object.keys(checks)) {
    test(`snippet "${name}" works`, () => checks[name]!(), 30_000);
  }
});


/** The rows of the README's "From asyncio to coio" section: its asyncio column and its coio column, as text. */
function asyncioTable(markdown: string): { asyncioColumn: string; coioColumn: string } {
  const start = markdown.indexOf('## From asyncio to coio');
  const end = markdown.indexOf('\n## ', start + 1);
  expect(start).toBeGreaterThan(0);
  const rows = markdown
    .slice(start, end)
    .split('\n')
    .filter((l) => l.startsWith('| ') && !/^\| (asyncio|Python|asyncio \/ ssl) \| coio \|$/.test(l));
  const cells = rows.map((r) => r.slice(2, -2).split(' | '));
  return { asyncioColumn: cells.map((c) => c[0]).join('\n'), coioColumn: cells.map((c) => c.slice(1).join(' | ')).join('\n') };
}

function hasWord(text: string, name: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9_$])${name.replace(/\$/g, '\\$')}($|[^A-Za-z0-9_$])`).test(text);
}

/**
 * Words of the coio column that are no API: JavaScript's, placeholders of
 * the examples (`f`, `T`, `A`, `MyTask`), an environment variable, and a
 * Python name said to have no counterpart.
 */
const CODE_WORDS = new Set(['function', 'yield', 'new', 'await', 'async', 'const', 'for', 'of', 'let', 'class', 'extends', 'import', 'require', 'return', 'true', 'false', 'null', 'undefined', 'this', 'if', 'while', 'f', 'T', 'A', 'MyTask', 'COIO_BACKEND', 'BlockingIOError']);

/** asyncio 3.13's __all__ (Unix), module by module. */
const ASYNCIO_313 = [
  // base_events, coroutines
  'BaseEventLoop', 'Server', 'iscoroutinefunction', 'iscoroutine',
  // events
  'AbstractEventLoopPolicy', 'AbstractEventLoop', 'AbstractServer', 'Handle', 'TimerHandle', 'get_event_loop_policy', 'set_event_loop_policy', 'get_event_loop', 'set_event_loop', 'new_event_loop', 'get_child_watcher', 'set_child_watcher', '_set_running_loop', 'get_running_loop', '_get_running_loop',
  // exceptions
  'BrokenBarrierError', 'CancelledError', 'InvalidStateError', 'TimeoutError', 'IncompleteReadError', 'LimitOverrunError', 'SendfileNotAvailableError',
  // futures, locks, protocols, runners, queues
  'Future', 'wrap_future', 'isfuture', 'Lock', 'Event', 'Condition', 'Semaphore', 'BoundedSemaphore', 'Barrier',
  'BaseProtocol', 'Protocol', 'DatagramProtocol', 'SubprocessProtocol', 'BufferedProtocol', 'Runner', 'run',
  'Queue', 'PriorityQueue', 'LifoQueue', 'QueueFull', 'QueueEmpty', 'QueueShutDown',
  // streams, subprocess
  'StreamReader', 'StreamWriter', 'StreamReaderProtocol', 'open_connection', 'start_server', 'open_unix_connection', 'start_unix_server', 'create_subprocess_exec', 'create_subprocess_shell',
  // tasks, taskgroups, timeouts, threads
  'Task', 'create_task', 'FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED', 'wait', 'wait_for', 'as_completed', 'sleep', 'gather', 'shield', 'ensure_future', 'run_coroutine_threadsafe', 'current_task', 'all_tasks', 'create_eager_task_factory', 'eager_task_factory', '_register_task', '_unregister_task', '_enter_task', '_leave_task',
  'TaskGroup', 'Timeout', 'timeout', 'timeout_at', 'to_thread',
  // transports
  'BaseTransport', 'ReadTransport', 'WriteTransport', 'Transport', 'DatagramTransport', 'SubprocessTransport',
  // unix_events
  'SelectorEventLoop', 'AbstractChildWatcher', 'SafeChildWatcher', 'FastChildWatcher', 'PidfdChildWatcher', 'MultiLoopChildWatcher', 'ThreadedChildWatcher', 'DefaultEventLoopPolicy', 'EventLoop',
];
