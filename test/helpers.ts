// Shared by the I/O tests: every backend, a fresh loop per test, closed after
// it, with a check that the loop left nothing registered.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { availableBackends, newEventLoop, TimeoutError, waitFor } from '../src/index.js';
import type { EventLoop, StreamReader, StreamWriter } from '../src/index.js';
import { native } from '../src/native.js';
import { AF_INET, AF_INET6, SOCK_STREAM, Socket } from '../src/socket.js';
import { expectLoopLeftNothing } from './core_helpers.js';
import { trackLoop } from './leaks.js';

export const backends = availableBackends();

/**
 * The OS backend the addon was built with (native.build says which files it
 * compiled: the portable build has none, and runs on Linux the paths of an OS
 * without epoll or kqueue): 'epoll' (Linux), 'kqueue' (macOS, the BSDs) or
 * null. Tests key on this, never on process.platform alone.
 */
export const osBackend: 'epoll' | 'kqueue' | null = ((): 'epoll' | 'kqueue' | null => {
  if (native.build.portable) return null;
  if (process.platform === 'linux') return 'epoll';
  if (process.platform === 'darwin' || process.platform.endsWith('bsd')) return 'kqueue';
  return null;
})();

/** The backends compiled in beside the OS backend: io_uring with epoll (Linux builds). */
export const extraBackends: string[] = osBackend === 'epoll' ? ['io_uring'] : [];

/** The io_uring backend is compiled in and this process may make a ring (uringStatus()). */
export const hasUring = backends.includes('io_uring');

export type Co<T> = Generator<unknown, T, unknown>;

/** IPv6 loopback usable here? */
export const hasIPv6 = ((): boolean => {
  try {
    const s = new Socket(AF_INET6);
    try {
      s.bind(['::1', 0]);
      return true;
    } finally {
      s.close();
    }
  } catch {
    return false;
  }
})();

/** Hosts to test TCP over: 127.0.0.1 and, where it works, ::1. */
export const loopbackHosts: string[] = hasIPv6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];

/**
 * A fresh loop on `backend` for each test; afterwards nothing may stay
 * registered in its selector, no timer may be pending and no task left
 * unfinished, and it is closed (test/setup.ts checks at the end of the file
 * that every such loop was). Use inside describe().
 */
export function useLoop(backend: string): { readonly loop: EventLoop; run<T>(coro: Co<T>): T } {
  let loop: EventLoop | undefined;
  beforeEach(() => {
    loop = trackLoop(newEventLoop({ selector: backend as 'epoll' }));
  });
  afterEach(() => {
    const l = loop!;
    loop = undefined;
    try {
      if (!l.isClosed()) {
        // Let connectionLost callbacks and closing transports finish.
        l.runUntilComplete(settle());
        expectLoopLeftNothing(l);
      }
    } finally {
      if (!l.isClosed()) l.close();
    }
  });
  return {
    get loop() {
      return loop!;
    },
    run<T>(coro: Co<T>): T {
      return loop!.runUntilComplete(coro) as T;
    },
  };
}

/** A few loop turns, for close callbacks to run. */
export function* settle(turns = 5): Co<void> {
  for (let i = 0; i < turns; i++) yield;
}

/** A temp directory for Unix socket paths, removed after the file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'coio-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * loop.runUntilComplete(coro), but a hang fails the test instead of blocking
 * the worker forever: a loop blocked in its poller cannot be interrupted by
 * vitest's timeout. After `seconds` a watchdog timer stops the loop and this
 * throws.
 */
export function runGuarded<T>(loop: EventLoop, coro: Co<T>, seconds = 60): T {
  let fired = false;
  const dog = loop.callLater(seconds, () => {
    fired = true;
    loop.stop();
  });
  try {
    return loop.runUntilComplete(coro) as T;
  } catch (err) {
    if (fired) throw new Error(`watchdog: the loop was still waiting after ${seconds} s (a hang)`, { cause: err });
    throw err;
  } finally {
    dog.cancel();
  }
}

/** The streams echo handler: everything back until EOF, with back-pressure (drain after each write). */
export function* streamEcho(reader: StreamReader, writer: StreamWriter): Co<void> {
  try {
    for (;;) {
      const data = yield* reader.read(256 * 1024);
      if (data.length === 0) break;
      writer.write(data);
      yield* writer.drain();
    }
  } finally {
    writer.close();
  }
}

/** global.gc, exposed at run time when node was not started with --expose-gc (null where that is refused). */
export const exposedGc: (() => void) | null = ((): (() => void) | null => {
  if (typeof globalThis.gc === 'function') return globalThis.gc as () => void;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
})();

/**
 * A listener nobody accepts from, its accept queue filled: the kernel drops
 * the SYNs of a new connect to it, which then stays in flight as a connect
 * to an unreachable address does (the SYN is retried at 1 s, 3 s, 7 s, ...).
 * The fillers connect with a timeout: the first that times out (a connect
 * cancelled in flight) says the queue is full.
 */
export function* stallingListener(loop: EventLoop, host: string): Co<{ port: number; close(): void }> {
  const listener = new Socket(host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  const fillers: Socket[] = [];
  const close = (): void => {
    for (const s of fillers) s.close();
    listener.close();
  };
  try {
    listener.bind([host, 0]);
    listener.listen(0);
    const port = (listener.getsockname() as { port: number }).port;
    for (let i = 0; i < 64; i++) {
      const s = new Socket(host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
      fillers.push(s);
      try {
        yield* waitFor(loop.sockConnect(s, [host, port]), 0.2);
      } catch (err) {
        if (err instanceof TimeoutError) return { port, close };
        throw err;
      }
    }
    throw new Error('the accept queue never filled');
  } catch (err) {
    close();
    throw err;
  }
}
