// The part of the event loop the networking modules use (transports,
// servers, streams, sock* operations). A type only: those modules depend on
// this contract, not on the loop class, so the loop can import them without
// a cycle and tests can read what networking needs from the loop at a glance.

import type { Future } from './futures.js';

export interface Cancellable {
  cancel(): void;
}

export interface IoHandle {
  cancelled(): boolean;
}

export interface IoLoop {
  callSoon<A extends unknown[]>(callback: (...args: A) => void, ...args: A): Cancellable;
  callLater<A extends unknown[]>(delay: number, callback: (...args: A) => void, ...args: A): Cancellable;
  time(): number;
  createFuture<T>(): Future<T>;
  /** The handle is cancelled once removed or replaced. */
  addReader<A extends unknown[]>(fd: number, callback: (...args: A) => void, ...args: A): IoHandle;
  removeReader(fd: number): boolean;
  addWriter<A extends unknown[]>(fd: number, callback: (...args: A) => void, ...args: A): IoHandle;
  removeWriter(fd: number): boolean;
  callExceptionHandler(context: Record<string, unknown>): void;
  getDebug(): boolean;
  isClosed(): boolean;
}
