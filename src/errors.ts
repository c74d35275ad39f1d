// The errors of the core (asyncio's exceptions module). Each is a plain Error
// subclass with its own `name`, so `instanceof` and stack traces both work.
// The errors of other layers live with them: IncompleteReadError and
// LimitOverrunError in stream_errors.ts, QueueEmpty / QueueFull /
// QueueShutDown in queues.ts, BrokenBarrierError in locks.ts,
// KeyboardInterrupt in sigint.ts, KeyError in selectors.ts, the SSL errors
// in ssl.ts.

/**
 * Thrown into a coroutine at its suspension point when its Task is cancelled,
 * and thrown by result() / exception() of a cancelled Future.
 *
 * asyncio makes it a BaseException so `except Exception` lets it through;
 * JavaScript has no such split, so a catch-all must rethrow it:
 * `catch (e) { if (e instanceof CancelledError) throw e; ... }`.
 */
export class CancelledError extends Error {
  /** Always 'CancelledError'. */
  override name = 'CancelledError';
}

/** An operation exceeded its deadline (timeout(), waitFor(), asCompleted()). */
export class TimeoutError extends Error {
  /** Always 'TimeoutError'. */
  override name = 'TimeoutError';
}

/** A Future or Task was used in a state that does not allow the call (result() before done, setResult() twice). */
export class InvalidStateError extends Error {
  /** Always 'InvalidStateError'. */
  override name = 'InvalidStateError';
}

/**
 * Misuse of the loop or of a scope (asyncio raises RuntimeError): no running
 * loop, running a loop that already runs, closing a running loop, entering a
 * TaskGroup twice, ...
 */
export class RuntimeError extends Error {
  /** Always 'RuntimeError'. */
  override name = 'RuntimeError';
}

/**
 * Several errors that happened together (a TaskGroup whose children failed):
 * Python's ExceptionGroup. It is an AggregateError, so `.errors` works too;
 * `.exceptions` is the asyncio spelling.
 */
export class ExceptionGroup extends AggregateError {
  /** Always 'ExceptionGroup'. */
  override name = 'ExceptionGroup';
  /** The errors, in the order they happened (the same ones as `errors`). */
  readonly exceptions: readonly unknown[];

  /** @throws TypeError if exceptions is empty. */
  constructor(message: string, exceptions: readonly unknown[]) {
    if (exceptions.length === 0) throw new TypeError('ExceptionGroup needs at least one exception');
    super(exceptions, message);
    this.exceptions = exceptions;
  }
}

/**
 * loop.sendfile / loop.sockSendfile with `fallback: false` where the
 * sendfile syscall cannot be used: a file that is not a regular file, a TLS
 * or pipe transport, a build without the call. A RuntimeError, as in asyncio.
 */
export class SendfileNotAvailableError extends RuntimeError {
  /** Always 'SendfileNotAvailableError'. */
  override name = 'SendfileNotAvailableError';
}
