// Unix signals for the event loop (asyncio's add_signal_handler /
// remove_signal_handler, unix_events.py).
//
// The native side (native/signals.cc) installs a sigaction handler that only
// writes a byte to the loop's self-pipe and marks the signal pending; the
// loop polls the pipe like any fd, and the callbacks run from the loop, never
// inside the handler. signalfd cannot be used inside Node (its other threads
// do not block signals), hence the self-pipe, as libuv does.
//
// Two levels:
// - SignalWatchers (one per loop): "call this function from the loop after
//   signal N", for any module (the SIGCHLD child watcher uses it too).
// - addSignalHandler / removeSignalHandler: the asyncio API on top, one
//   handler per signal, main thread only.

import { constants as osConstants } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { RuntimeError } from './errors.js';
import { Handle } from './events.js';
import type { Callback, Signal } from './events.js';
import { _isCoroutineFunction } from './coroutines.js';
import { native } from './native.js';
import type { LoopCore } from './events.js';

export type { Signal };

const SIGNALS = osConstants.signals as Record<string, number>;

/** The name of signal number n ('SIGINT'), or undefined. */
export function signalName(n: number): string | undefined {
  for (const [name, value] of Object.entries(SIGNALS)) if (value === n) return name;
  return undefined;
}

/**
 * The number of a signal given by name or number. TypeError for other types,
 * RangeError (asyncio's ValueError) for a name or number this OS does not have.
 */
export function signalNumber(sig: unknown): number {
  if (typeof sig === 'string') {
    const n = Object.prototype.hasOwnProperty.call(SIGNALS, sig) ? SIGNALS[sig] : undefined;
    if (n === undefined) throw new RangeError(`invalid signal name ${JSON.stringify(sig)}`);
    return n;
  }
  if (typeof sig !== 'number') throw new TypeError(`sig must be a signal name or number, not ${sig === null ? 'null' : typeof sig}`);
  if (!Number.isInteger(sig) || sig < 1 || signalName(sig) === undefined) throw new RangeError(`invalid signal number ${sig}`);
  return sig;
}

/** Watches signals for one loop over one self-pipe (registered only while something is watched). */
export class SignalWatchers {
  private pipe: [number, number] | null = null;
  /** native watcher id -> what to call. */
  private readonly watchers = new Map<number, () => void>();
  private readonly drainBuf = Buffer.allocUnsafe(64);

  constructor(private readonly loop: LoopCore) {}

  /**
   * Call onSignal() from the loop after `signum` arrives (several deliveries
   * between two loop iterations may be coalesced into one call). `chain`:
   * also run the handler this one replaced (for SIGCHLD). Returns the
   * teardown; the previous disposition is back once no watcher of the signal
   * is left, in any loop. EINVAL error ('sigaction') for SIGKILL / SIGSTOP.
   */
  watch(signum: number, onSignal: () => void, chain = false): () => void {
    this.loop._checkClosed();
    const fds = this.ensurePipe();
    let id: number;
    try {
      id = native.signalAdd(signum, fds[1], chain);
    } catch (err) {
      if (this.watchers.size === 0) this.closePipe();
      throw err;
    }
    this.watchers.set(id, onSignal);
    return () => this.unwatch(id);
  }

  /** How many watchers there are (each signal handler, the child watcher's SIGCHLD). */
  get size(): number {
    return this.watchers.size;
  }

  /** Remove every watcher and close the pipe (the loop is closing). */
  close(): void {
    for (const id of [...this.watchers.keys()]) this.unwatch(id);
  }

  private unwatch(id: number): void {
    if (!this.watchers.delete(id)) return;
    native.signalRemove(id);
    if (this.watchers.size === 0) this.closePipe();
  }

  private ensurePipe(): [number, number] {
    if (this.pipe !== null) return this.pipe;
    const fds = native.pipe();
    this.pipe = fds;
    this.loop.addReader(fds[0], this.onReadable);
    return fds;
  }

  private closePipe(): void {
    const fds = this.pipe;
    if (fds === null) return;
    this.pipe = null;
    if (!this.loop.isClosed()) this.loop.removeReader(fds[0]);
    native.close(fds[0]);
    native.close(fds[1]);
  }

  private readonly onReadable = (): void => {
    // Drain first, then take: a signal arriving in between is taken now and
    // leaves a byte behind (one spurious wakeup), never a lost signal.
    const fd = this.pipe![0];
    while (native.read(fd, this.drainBuf, 0, this.drainBuf.length) > 0) {
      // The bytes are signal numbers; the pending marks are what counts.
    }
    for (const [id, onSignal] of [...this.watchers]) {
      if (!this.watchers.has(id) || !native.signalTake(id)) continue;
      try {
        onSignal();
      } catch (exc) {
        this.loop.callExceptionHandler({ message: 'Exception in a signal watcher', exception: exc });
      }
    }
  };
}

const watchersByLoop = new WeakMap<LoopCore, SignalWatchers>();

/** The loop's SignalWatchers, made on first use. */
export function signalWatchers(loop: LoopCore): SignalWatchers {
  let w = watchersByLoop.get(loop);
  if (w === undefined) {
    w = new SignalWatchers(loop);
    watchersByLoop.set(loop, w);
  }
  return w;
}

// ---- asyncio's API: one handler per signal ----------------------------------

interface Installed {
  handle: Handle;
  unwatch: () => void;
}

const handlersByLoop = new WeakMap<LoopCore, Map<number, Installed>>();

/**
 * Run callback(...args) from the loop each time `sig` arrives, replacing the
 * handler this loop had for it. Main thread only (signal dispositions belong
 * to the process). Throws TypeError for a non-function or a generator
 * function, RangeError for an unknown signal, RuntimeError for SIGKILL /
 * SIGSTOP ("cannot be caught"), off the main thread, or on a closed loop.
 */
export function addSignalHandler(loop: LoopCore, sig: Signal, callback: Callback, args: unknown[]): void {
  if (typeof callback !== 'function') throw new TypeError('addSignalHandler: callback must be a function');
  if (_isCoroutineFunction(callback)) throw new TypeError('coroutines cannot be used with addSignalHandler()');
  loop._checkClosed();
  const signum = signalNumber(sig);
  if (!isMainThread) throw new RuntimeError('signal handlers can only be added in the main thread');
  const handle = new Handle(callback, args, loop);
  let handlers = handlersByLoop.get(loop);
  const previous = handlers?.get(signum);
  if (previous !== undefined) {
    previous.handle.cancel();
    previous.handle = handle;
    return;
  }
  const installed: Installed = { handle, unwatch: () => {} };
  try {
    installed.unwatch = signalWatchers(loop).watch(signum, () => {
      if (!installed.handle.cancelled()) loop._pushReady(installed.handle);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') throw new RuntimeError(`sig ${signum} cannot be caught`);
    throw err;
  }
  if (handlers === undefined) {
    handlers = new Map();
    handlersByLoop.set(loop, handlers);
  }
  handlers.set(signum, installed);
}

/**
 * Remove the loop's handler for `sig`; the disposition it replaced is back
 * (Node's own, or the default action). False if there was none.
 */
export function removeSignalHandler(loop: LoopCore, sig: Signal): boolean {
  const signum = signalNumber(sig);
  const handlers = handlersByLoop.get(loop);
  const installed = handlers?.get(signum);
  if (installed === undefined) return false;
  handlers!.delete(signum);
  installed.handle.cancel();
  installed.unwatch();
  return true;
}

/** Remove every handler and watcher of the loop (it is closing). */
export function closeSignals(loop: LoopCore): void {
  const handlers = handlersByLoop.get(loop);
  if (handlers !== undefined) {
    for (const signum of [...handlers.keys()]) removeSignalHandler(loop, signum);
    handlersByLoop.delete(loop);
  }
  watchersByLoop.get(loop)?.close();
  watchersByLoop.delete(loop);
}
