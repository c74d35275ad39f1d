// Signal handlers on every backend, with real signals sent to this process,
// and Ctrl-C in run() with real child processes.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { native } from '../src/native.js';
import { newEventLoop, RuntimeError, signalName, signalNumber, sleep } from '../src/index.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';
import { sanitizedChildEnv } from './leaks.js';
import { buildFixtures } from './transpile.js';

const SIGUSR1 = osConstants.signals.SIGUSR1;
const SIGUSR2 = osConstants.signals.SIGUSR2;

describe('signal names and numbers', () => {
  test('names and numbers of this platform', () => {
    expect(signalNumber('SIGINT')).toBe(osConstants.signals.SIGINT);
    expect(signalNumber(SIGUSR1)).toBe(SIGUSR1);
    expect(signalName(SIGUSR2)).toBe('SIGUSR2');
    expect(() => signalNumber('SIGNOPE')).toThrow(RangeError);
    expect(() => signalNumber('toString')).toThrow(RangeError);
    expect(() => signalNumber(0)).toThrow(RangeError);
    expect(() => signalNumber(1.5)).toThrow(RangeError);
    expect(() => signalNumber(100000)).toThrow(RangeError);
    expect(() => signalNumber(null)).toThrow(TypeError);
    expect(() => signalNumber({})).toThrow(TypeError);
  });

  test('the native watcher functions check their arguments', () => {
    expect(() => native.signalAdd(0, 1, false)).toThrow(RangeError);
    expect(() => native.signalAdd(SIGUSR1, -1, false)).toThrow(RangeError);
    expect(() => native.signalAdd(SIGUSR1, 1, 'yes' as never)).toThrow(TypeError);
    expect(() => native.signalRemove(5)).toThrow(RangeError); // no such watcher
    expect(() => native.signalRemove(-1)).toThrow(RangeError);
    expect(() => native.signalTake(1e9)).toThrow(RangeError);
    expect(() => native.signalDisposition('SIGINT' as never)).toThrow(TypeError);
    expect(native.signalDisposition(osConstants.signals.SIGPIPE)).toBe('ignore'); // Node ignores SIGPIPE
  });
});

describe.each(backends)('signal handlers (%s)', (backend) => {
  const t = useLoop(backend);
  const nodeSeen: string[] = [];
  const nodeListener = (sig: string): void => {
    nodeSeen.push(sig);
  };

  beforeEach(() => {
    nodeSeen.length = 0;
    // Node's (libuv's) handler: the disposition our handler replaces, and
    // what keeps a stray SIGUSR1 from starting the inspector.
    process.on('SIGUSR1', nodeListener);
    process.on('SIGUSR2', nodeListener);
  });
  afterEach(() => {
    process.off('SIGUSR1', nodeListener);
    process.off('SIGUSR2', nodeListener);
  });

  test('SIGUSR1 is handled from the loop, then removed: the previous disposition is back', async () => {
    expect(native.signalDisposition(SIGUSR1)).toBe('handler');
    const calls: Array<[string, boolean]> = [];
    const got = t.loop.createFuture<void>();
    t.loop.addSignalHandler('SIGUSR1', (tag: string) => {
      calls.push([tag, t.loop.isRunning()]);
      if (!got.done()) got.setResult(undefined);
    }, 'usr1');
    expect(native.signalDisposition(SIGUSR1)).toBe('coio');
    t.run(
      (function* (): Co<void> {
        // The loop blocks in its poller (no timer, nothing ready) when the signal comes.
        t.loop.callLater(0.02, () => process.kill(process.pid, 'SIGUSR1'));
        yield* got;
      })(),
    );
    expect(calls).toEqual([['usr1', true]]);
    expect(t.loop.removeSignalHandler('SIGUSR1')).toBe(true);
    expect(t.loop.removeSignalHandler(SIGUSR1)).toBe(false);
    expect(native.signalDisposition(SIGUSR1)).toBe('handler');

    // Node's own listener gets the next one, once Node's loop runs.
    process.kill(process.pid, 'SIGUSR1');
    for (let i = 0; i < 200 && nodeSeen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(nodeSeen).toEqual(['SIGUSR1']);
    expect(calls).toHaveLength(1);
  });

  test('a signal that arrives while the loop is not running is handled when it runs', () => {
    const calls: number[] = [];
    t.loop.addSignalHandler(SIGUSR2, () => calls.push(SIGUSR2));
    process.kill(process.pid, 'SIGUSR2');
    process.kill(process.pid, 'SIGUSR2'); // coalesced, as in asyncio
    expect(calls).toEqual([]);
    t.run(
      (function* (): Co<void> {
        for (let i = 0; i < 100 && calls.length === 0; i++) yield;
      })(),
    );
    expect(calls.length).toBeGreaterThanOrEqual(1);
    t.loop.removeSignalHandler(SIGUSR2);
  });

  test('a burst of signals is coalesced, never lost entirely, and crashes nothing', () => {
    let calls = 0;
    t.loop.addSignalHandler('SIGUSR1', () => calls++);
    t.run(
      (function* (): Co<void> {
        for (let i = 0; i < 2000; i++) process.kill(process.pid, 'SIGUSR1');
        for (let i = 0; i < 100 && calls === 0; i++) yield;
        const before = calls;
        yield* sleep(0.01);
        expect(calls).toBe(before); // nothing still trickling in
        process.kill(process.pid, 'SIGUSR1');
        for (let i = 0; i < 100 && calls === before; i++) yield;
      })(),
    );
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(2001);
    t.loop.removeSignalHandler('SIGUSR1');
  });

  test('a second handler for a signal replaces the first; two signals at once', () => {
    const calls: string[] = [];
    t.loop.addSignalHandler('SIGUSR1', () => calls.push('first'));
    t.loop.addSignalHandler('SIGUSR1', () => calls.push('second'));
    t.loop.addSignalHandler('SIGUSR2', () => calls.push('usr2'));
    t.run(
      (function* (): Co<void> {
        process.kill(process.pid, 'SIGUSR1');
        process.kill(process.pid, 'SIGUSR2');
        for (let i = 0; i < 100 && calls.length < 2; i++) yield;
      })(),
    );
    expect(calls.sort()).toEqual(['second', 'usr2']);
    expect(t.loop.removeSignalHandler('SIGUSR1')).toBe(true);
    expect(t.loop.removeSignalHandler('SIGUSR2')).toBe(true);
    expect(native.signalDisposition(SIGUSR2)).toBe('handler');
  });

  test('errors as asyncio raises them', () => {
    const cb = (): void => {};
    expect(() => t.loop.addSignalHandler('SIGKILL', cb)).toThrow(RuntimeError);
    expect(() => t.loop.addSignalHandler('SIGSTOP', cb)).toThrow(/cannot be caught/);
    expect(() => t.loop.addSignalHandler('SIGNOPE' as never, cb)).toThrow(RangeError);
    expect(() => t.loop.addSignalHandler(4096, cb)).toThrow(RangeError);
    expect(() => t.loop.addSignalHandler({} as never, cb)).toThrow(TypeError);
    expect(() => t.loop.addSignalHandler('SIGUSR1', 'nope' as never)).toThrow(TypeError);
    expect(() => t.loop.addSignalHandler('SIGUSR1', function* () {})).toThrow(/coroutines cannot be used/);
    expect(() => t.loop.removeSignalHandler('SIGNOPE' as never)).toThrow(RangeError);
    expect(native.signalDisposition(osConstants.signals.SIGKILL)).toBe('default');
    // Nothing stayed registered after the failures (useLoop checks the selector).
  });

  test('removal leaves alone a handler that replaced ours meanwhile (Node started listening)', async () => {
    process.off('SIGUSR2', nodeListener); // libuv's last listener gone: SIGUSR2 is back to SIG_DFL
    expect(native.signalDisposition(SIGUSR2)).toBe('default');
    t.loop.addSignalHandler('SIGUSR2', () => {});
    expect(native.signalDisposition(SIGUSR2)).toBe('coio');
    process.on('SIGUSR2', nodeListener); // libuv installs its handler over ours
    expect(native.signalDisposition(SIGUSR2)).toBe('handler');
    t.loop.removeSignalHandler('SIGUSR2');
    expect(native.signalDisposition(SIGUSR2)).toBe('handler'); // not back to SIG_DFL
    process.kill(process.pid, 'SIGUSR2');
    for (let i = 0; i < 200 && nodeSeen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(nodeSeen).toEqual(['SIGUSR2']);
  });

  test('closing the loop removes its handlers and restores the dispositions', () => {
    t.loop.addSignalHandler('SIGUSR1', () => {});
    expect(native.signalDisposition(SIGUSR1)).toBe('coio');
    t.loop.close();
    expect(native.signalDisposition(SIGUSR1)).toBe('handler');
    expect(() => t.loop.addSignalHandler('SIGUSR1', () => {})).toThrow(RuntimeError);
  });

  test('two loops watch the same signal: each gets it; the last removal restores', () => {
    const other = newEventLoop({ selector: backend as 'poll' });
    try {
      const calls: string[] = [];
      t.loop.addSignalHandler('SIGUSR1', () => calls.push('a'));
      other.addSignalHandler('SIGUSR1', () => calls.push('b'));
      process.kill(process.pid, 'SIGUSR1');
      const turns = function* (): Co<void> {
        for (let i = 0; i < 100 && calls.length < 2; i++) yield;
      };
      t.run(turns());
      other.runUntilComplete(turns());
      expect(calls.sort()).toEqual(['a', 'b']);
      t.loop.removeSignalHandler('SIGUSR1');
      expect(native.signalDisposition(SIGUSR1)).toBe('coio');
      other.removeSignalHandler('SIGUSR1');
      expect(native.signalDisposition(SIGUSR1)).toBe('handler');
    } finally {
      other.close();
    }
  });
});

// ---- Ctrl-C in run() ------------------------------------------------------------

const fixture = buildFixtures(['test/fixtures/sigint_main.ts']);

interface ChildResult {
  lines: string[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Run the fixture; send SIGINT each time a line in `interruptAfter` is printed. */
function runChild(mode: string, interruptAfter: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture('test/fixtures/sigint_main.ts'), mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...sanitizedChildEnv() },
    });
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (interruptAfter.includes(line)) child.kill('SIGINT');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ lines, stderr, code, signal });
    });
  });
}

describe('Ctrl-C in run()', () => {
  test('cancels the main task: its finally runs, run() throws KeyboardInterrupt', async () => {
    const r = await runChild('caught', ['ready']);
    expect(r.lines).toEqual(['ready', 'main caught CancelledError', 'finally ran', 'run threw KeyboardInterrupt']);
    expect(r.code).toBe(0);
  });

  test('uncaught, KeyboardInterrupt ends the program with exit status 130 and one line, no stack trace', async () => {
    const r = await runChild('uncaught', ['ready']);
    expect(r.lines).toEqual(['ready', 'main caught CancelledError', 'finally ran']);
    expect(r.stderr).toBe('KeyboardInterrupt: interrupted by SIGINT\n');
    expect(r.code).toBe(130);
  });

  test('another error after a caught KeyboardInterrupt is reported by Node as usual', async () => {
    const r = await runChild('other-error', ['ready']);
    expect(r.lines).toEqual(['ready', 'main caught CancelledError', 'finally ran', 'run threw KeyboardInterrupt']);
    expect(r.stderr).toMatch(/Error: something else\n\s+at /);
    expect(r.code).toBe(1);
  });

  test('a main task that swallows the cancellation returns normally', async () => {
    const r = await runChild('swallow', ['ready']);
    expect(r.lines).toEqual(['ready', 'main caught CancelledError', 'finally ran', 'run returned swallowed']);
    expect(r.code).toBe(0);
  });

  test('guest mode: the first Ctrl-C cancels main and runGuest() rejects with KeyboardInterrupt', async () => {
    const r = await runChild('guest-caught', ['ready']);
    expect(r.lines).toEqual(['ready', 'main caught CancelledError', 'finally ran', 'runGuest rejected with KeyboardInterrupt']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('guest mode, uncaught: exit status 130 and one line', async () => {
    const r = await runChild('guest-uncaught', ['ready']);
    expect(r.lines).toEqual(['ready', 'main caught CancelledError', 'finally ran']);
    expect(r.stderr).toBe('KeyboardInterrupt: interrupted by SIGINT\n');
    expect(r.code).toBe(130);
  });

  test('the second Ctrl-C ends the program, even with main stuck in its finally', async () => {
    const r = await runChild('stuck', ['ready', 'stuck in finally']);
    expect(r.lines).toEqual(['ready', 'main caught CancelledError', 'finally ran', 'stuck in finally']);
    expect(r.signal).toBe('SIGINT');
  });
});
