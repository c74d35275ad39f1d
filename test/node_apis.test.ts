// Node's own APIs inside coio programs, in child processes: guest mode runs
// them (timers, nextTick, fs/promises, fetch); the blocking loop refuses a
// wait only Node or Ctrl-C could end, instead of hanging; a server in
// serveForever with a client connected still ends on Ctrl-C, within a bound.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { sanitizedChildEnv } from './leaks.js';
import { buildFixtures } from './transpile.js';

const fixture = buildFixtures(['test/fixtures/node_apis_main.ts']);

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run the fixture in `mode`; onLine sees each stdout line (and the child). Killed after 15 s. */
function runFixture(mode: string, onLine: (line: string, kill: (sig: NodeJS.Signals) => void) => void = () => {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [fixture('test/fixtures/node_apis_main.ts'), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...sanitizedChildEnv() },
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(line, (sig) => child.kill(sig));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('guest mode runs Node APIs from coio coroutines', () => {
  test('setTimeout, process.nextTick, fs/promises, fetch against a Node http server', async () => {
    const r = await runFixture('guest');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      'setTimeout fired: true\nnextTick ran\nfs/promises: written by fs/promises\nfetch: 200 hello from node http, /from-coio\nmain done\n',
    );
    expect(r.code).toBe(0);
  });
});

describe('the blocking loop never hangs silently', () => {
  test("an async main awaiting Node's setTimeout: an error that names runGuest, at once", async () => {
    const r = await runFixture('blocking-timer');
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/RuntimeError: Event loop would wait forever: .*while an async function or a promise is pending.*setTimeout, fetch, fs\/promises.*runGuest/);
    expect(r.code).toBe(1);
  });

  test('a Future nothing completes, with only the Ctrl-C handler watched: would wait forever', async () => {
    const r = await runFixture('blocking-never');
    expect(r.stderr).toMatch(/RuntimeError: Event loop would wait forever: no callback is ready, no timer is pending and no fd is watched but the Ctrl-C handler \(is a Future never completed\?\)/);
    expect(r.code).toBe(1);
  });
});

describe("Node's own signal listeners fire in the blocking loop", () => {
  test.each([
    ['SIGTERM', 'blocking-sigterm', ['ready', 'stopped by SIGTERM', 'listeners left: 0']],
    ['SIGINT', 'blocking-sigint-listener', ['ready', 'listener added before run() fired', 'stopped by SIGINT', 'listeners left: 0']],
  ] as const)('process.once(%s) in run()', async (signal, mode, lines) => {
    const r = await runFixture(mode, (line, kill) => {
      if (line === 'ready') kill(signal);
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(0, -1)).toEqual(lines);
    expect(r.code).toBe(0);
  });
});

describe('Ctrl-C ends a server with a client connected', () => {
  test('serveForever: the connections are closed, exit status 130, one line, within the bound', async () => {
    let client: net.Socket | undefined;
    let clientClosed: Promise<void> | undefined;
    let t0 = 0;
    const r = await runFixture('serve-forever', (line, kill) => {
      const m = /^port (\d+)$/.exec(line);
      if (m === null) return;
      const sock = net.connect(Number(m[1]), '127.0.0.1');
      client = sock;
      sock.on('error', () => {});
      clientClosed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      sock.once('data', () => {
        sock.resume();
        t0 = Date.now();
        kill('SIGINT'); // with the client connected and idle
      });
      sock.write('hello');
    });
    const ms = Date.now() - t0;
    client?.destroy();
    await clientClosed;
    expect(r.stderr).toBe('KeyboardInterrupt: interrupted by SIGINT\n');
    expect(r.code).toBe(130);
    expect(ms).toBeLessThan(4000); // the client reads: closed at once, not at the 5 s abort
  });
});
