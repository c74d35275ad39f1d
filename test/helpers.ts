// Shared by the I/O tests: every backend, a fresh loop per test, closed after
// it, with a check that the loop left nothing registered.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { availableBackends, newEventLoop } from '../src/index.js';
import type { EventLoop } from '../src/index.js';
import { AF_INET6, Socket } from '../src/socket.js';

export const backends = availableBackends();

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
 * registered in its selector and it is closed. Use inside describe().
 */
export function useLoop(backend: string): { readonly loop: EventLoop; run<T>(coro: Co<T>): T } {
  let loop: EventLoop | undefined;
  beforeEach(() => {
    loop = newEventLoop({ selector: backend as 'epoll' });
  });
  afterEach(() => {
    const l = loop!;
    loop = undefined;
    try {
      if (!l.isClosed()) {
        // Let connectionLost callbacks and closing transports finish.
        l.runUntilComplete(settle());
        expect([...l._selector.getMap().keys()], 'fds still registered with the loop').toEqual([]);
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
