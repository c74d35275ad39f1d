// How another thread reaches a loop that is blocked in its poller.
//
// While coio's loop waits in epoll_wait (or kqueue, poll, select), Node's own
// libuv loop on that thread does not run: no 'message' event, no setTimeout,
// no promise callback can fire there. So a worker thread answers on a
// MessagePort (read here synchronously with receiveMessageOnPort) and then
// wakes the poller by writing to the loop's native Waker, through its own
// dup() of the Waker's write end (writeFd(): the eventfd itself on Linux,
// the pipe's write end elsewhere; the read end the loop polls cannot be
// written to). The dup keeps the eventfd (or pipe) open, so the write can
// never land on an fd number the loop closed and the process reused. The
// other thread closes its dup when done (closeRemoteWakeFd).
//
// One ThreadBridge per loop, made on first use: resolver.ts (name lookups),
// threads.ts (executors, inboxes) and callSoonThreadsafe share it. Its Waker
// exists (and is registered with the loop) only while some port is watched:
// a loop with nothing to wait for still reports "would wait forever" instead
// of hanging, and an idle loop holds no fd for it. Closing the Waker while
// other threads still hold dups is safe: their wakeups are dropped (an
// eventfd nobody polls takes them; a pipe without a reader refuses them with
// EPIPE, which wakeRemote ignores, SIGPIPE held back by the addon).

import type { MessagePort } from 'node:worker_threads';
import { receiveMessageOnPort } from 'node:worker_threads';
import { RuntimeError } from './errors.js';
import type { AbstractEventLoop } from './events.js';
import { native } from './native.js';
import type { NativeWaker } from './native.js';

/** What the loop side calls for each message that arrives on a watched port. */
export type MessageHandler = (message: unknown) => void;

export class ThreadBridge {
  /** Exists, registered with the loop, exactly while some port is watched. */
  private waker: NativeWaker | null = null;
  private readonly ports = new Map<MessagePort, MessageHandler>();
  private closed = false;

  constructor(private readonly loop: AbstractEventLoop) {}

  /**
   * Call onMessage(message), from the loop, for each message another thread
   * posts to `port` (and then wakes us with a dup from remoteWakeFd). Returns
   * the teardown: stop watching and close the port.
   */
  watch(port: MessagePort, onMessage: MessageHandler): () => void {
    if (this.closed) throw new Error('ThreadBridge is closed');
    this.ports.set(port, onMessage);
    try {
      this.updateRegistration();
    } catch (err) {
      this.ports.delete(port);
      throw err;
    }
    return () => {
      if (!this.ports.delete(port)) return;
      port.close();
      this.updateRegistration();
    };
  }

  /**
   * A new fd (close-on-exec) that wakes this loop when written to
   * (wakeRemote), while some port is watched. The receiving thread owns it
   * and must close it (closeRemoteWakeFd) once it will not write any more.
   */
  remoteWakeFd(): number {
    if (this.waker === null) throw new Error('ThreadBridge.remoteWakeFd: watch a port first (nothing would read the messages)');
    return native.dup(this.waker.writeFd());
  }

  /** Make the poller return (a no-op unless something is watched: nothing else could need it). */
  wake(): void {
    this.waker?.wake();
  }

  /** Stop watching every port (they are closed) and close the Waker. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const port of this.ports.keys()) port.close();
    this.ports.clear();
    this.updateRegistration();
  }

  private updateRegistration(): void {
    if (this.ports.size > 0 && this.waker === null) {
      const waker = new native.Waker();
      try {
        this.loop.addReader(waker.fileno(), this.onWake);
      } catch (err) {
        waker.close();
        throw err;
      }
      this.waker = waker;
    } else if (this.ports.size === 0 && this.waker !== null) {
      if (!this.loop.isClosed()) this.loop.removeReader(this.waker.fileno());
      this.waker.close();
      this.waker = null;
    }
  }

  private readonly onWake = (): void => {
    this.waker!.drain();
    // A handler may unwatch (or watch) ports: iterate over a snapshot.
    for (const [port, onMessage] of [...this.ports]) {
      for (;;) {
        if (!this.ports.has(port)) break;
        const received = receiveMessageOnPort(port);
        if (received === undefined) break;
        try {
          onMessage(received.message);
        } catch (exc) {
          this.loop.callExceptionHandler({ message: 'Exception in a thread bridge message handler', exception: exc });
        }
      }
    }
  };
}

const bridges = new WeakMap<AbstractEventLoop, ThreadBridge>();

/** The loop's bridge, made on first use. */
export function threadBridge(loop: AbstractEventLoop): ThreadBridge {
  let bridge = bridges.get(loop);
  if (bridge === undefined) {
    if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
    bridge = new ThreadBridge(loop);
    bridges.set(loop, bridge);
  }
  return bridge;
}

/** The loop's bridge if it has one (no allocation). */
export function existingThreadBridge(loop: AbstractEventLoop): ThreadBridge | undefined {
  return bridges.get(loop);
}

/** Close the loop's bridge, if any (the loop is closing). */
export function closeThreadBridge(loop: AbstractEventLoop): void {
  bridges.get(loop)?.close();
  bridges.delete(loop);
}

// ---- the other thread's side ----------------------------------------------

/**
 * Wake the loop whose remoteWakeFd gave `fd`. Callable from any thread that
 * loaded the addon. A full pipe is readable already; a loop that closed its
 * Waker (or closed altogether) reads no more messages, so the wakeup is
 * dropped: it returns false then, true otherwise.
 * @throws an errno Error for anything else (EBADF: `fd` is not open).
 */
export function wakeRemote(fd: number): boolean {
  return native.wakeWrite(fd);
}

/** Close a fd from remoteWakeFd (its owner is done with it). */
export function closeRemoteWakeFd(fd: number): void {
  native.close(fd);
}
