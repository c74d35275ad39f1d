// Seeing our children exit without blocking the loop (asyncio's
// PidfdChildWatcher, and a SIGCHLD watcher where pidfds are missing).
//
// - pidfd (Linux >= 5.3): pidfd_open(pid) gives an fd that polls readable
//   once the child exits; the loop watches it like any fd, then reaps the
//   child with waitpid(pid, WNOHANG).
// - otherwise: a SIGCHLD watcher (signals.ts; it chains to the handler it
//   replaces, so libuv still sees Node's own children exit), and on each
//   SIGCHLD waitpid(pid, WNOHANG) for each of OUR pids. Never waitpid(-1):
//   it would reap the children of Node's child_process module. libuv
//   installs its own SIGCHLD handler when Node spawns its first child, which
//   would silence ours; a slow poll (every POLL_INTERVAL seconds while we
//   have children) is the safety net for that.
//
// The choice is made per child at runtime: pidfdOpen returns -1 where the
// kernel (or a sandbox) has no pidfd_open.

import type { Handle } from './events.js';
import { native } from './native.js';
import type { LoopCore } from './events.js';
import { signalNumber, signalWatchers } from './signals.js';

export type ExitCallback = (returncode: number) => void;

/** Seconds between the SIGCHLD watcher's safety-net checks. */
const POLL_INTERVAL = 0.25;

let pidfdDisabled = false;

/** @internal Tests: watch children through SIGCHLD even where pidfds work. */
export function _setPidfdEnabled(enabled: boolean): void {
  pidfdDisabled = !enabled;
}

/**
 * waitpid(pid, WNOHANG): null while it runs, else its returncode. A child
 * somebody else reaped (ECHILD) reports 255 with a warning, as asyncio does.
 */
function reap(pid: number): number | null {
  try {
    return native.waitpid(pid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ECHILD') throw err;
    console.warn(`coio: child process pid ${pid} was reaped by someone else; its returncode is reported as 255`);
    return 255;
  }
}

export class ChildWatcher {
  /** Children watched through a pidfd: pid -> [pidfd, onExit]. */
  private readonly byPidfd = new Map<number, [number, ExitCallback]>();
  /** Children watched through SIGCHLD. */
  private readonly bySigchld = new Map<number, ExitCallback>();
  private unwatchSigchld: (() => void) | null = null;
  private pollTimer: Handle | null = null;

  constructor(private readonly loop: LoopCore) {}

  /** Call onExit(returncode) from the loop once our child pid has exited (and been reaped). */
  add(pid: number, onExit: ExitCallback): void {
    this.loop._checkClosed();
    const pidfd = pidfdDisabled ? -1 : native.pidfdOpen(pid);
    if (pidfd >= 0) {
      this.byPidfd.set(pid, [pidfd, onExit]);
      this.loop.addReader(pidfd, this.pidfdReady, pid);
      return;
    }
    this.bySigchld.set(pid, onExit);
    this.unwatchSigchld ??= signalWatchers(this.loop).watch(signalNumber('SIGCHLD'), this.sigchld, true);
    this.pollTimer ??= this.loop.callLater(POLL_INTERVAL, this.poll);
    // It may have exited before the watcher was installed.
    this.loop.callSoon(this.sigchld);
  }

  /** Watched children not reaped yet. */
  get size(): number {
    return this.byPidfd.size + this.bySigchld.size;
  }

  /**
   * Stop watching (the loop is closing). Children that have exited are
   * reaped now; the others are left to run, and stay unreaped.
   */
  close(): void {
    for (const [pid, [pidfd]] of this.byPidfd) {
      if (!this.loop.isClosed()) this.loop.removeReader(pidfd);
      native.close(pidfd);
      reap(pid);
    }
    this.byPidfd.clear();
    for (const pid of this.bySigchld.keys()) reap(pid);
    this.bySigchld.clear();
    this.stopSigchld();
  }

  private readonly pidfdReady = (pid: number): void => {
    const entry = this.byPidfd.get(pid);
    if (entry === undefined) return;
    const returncode = reap(pid);
    if (returncode === null) return; // not exited after all: keep waiting
    const [pidfd, onExit] = entry;
    this.byPidfd.delete(pid);
    this.loop.removeReader(pidfd);
    native.close(pidfd);
    onExit(returncode);
  };

  private readonly sigchld = (): void => {
    for (const [pid, onExit] of [...this.bySigchld]) {
      const returncode = reap(pid);
      if (returncode === null) continue;
      this.bySigchld.delete(pid);
      try {
        onExit(returncode);
      } catch (exc) {
        this.loop.callExceptionHandler({ message: 'Exception in a child exit callback', exception: exc });
      }
    }
    if (this.bySigchld.size === 0) this.stopSigchld();
  };

  private readonly poll = (): void => {
    this.pollTimer = null;
    this.sigchld();
    if (this.bySigchld.size > 0) this.pollTimer = this.loop.callLater(POLL_INTERVAL, this.poll);
  };

  private stopSigchld(): void {
    const unwatch = this.unwatchSigchld;
    this.unwatchSigchld = null;
    unwatch?.();
    this.pollTimer?.cancel();
    this.pollTimer = null;
  }
}

const watchers = new WeakMap<LoopCore, ChildWatcher>();

/** The loop's child watcher, made on first use. */
export function childWatcher(loop: LoopCore): ChildWatcher {
  let w = watchers.get(loop);
  if (w === undefined) {
    w = new ChildWatcher(loop);
    watchers.set(loop, w);
  }
  return w;
}

/** Close the loop's child watcher, if any (the loop is closing). */
export function closeChildWatcher(loop: LoopCore): void {
  watchers.get(loop)?.close();
  watchers.delete(loop);
}
