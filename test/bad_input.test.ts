// Bad input at every public entry point, table-driven, on every backend.
//
// Each row makes one bad call: a wrong type, a NaN / negative / huge
// timeout or size, a closed or foreign fd, an unregistered fd, a re-entrant
// call, a buffer range out of bounds, an address that does not parse, a
// selector or loop used after close. It must give a clear error of the
// right class (TypeError for a wrong type, RangeError for a bad value,
// RuntimeError for misuse of the loop, an errno error with its `code` for
// what the OS refuses), or the documented non-error answer; the process
// survives; nothing leaks (fds, registrations, timers, tasks); and the loop
// keeps working afterwards (a small coroutine with real I/O runs after each
// row).
//
// Rows overlap little with the per-module tests (test/native.test.ts,
// socket.test.ts and selectors.test.ts check the argument checks of the
// addon, Socket and Selector one by one); these go through the public
// surface a user touches: the loop, sock* coroutines, create*, streams,
// transports.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  createSelector,
  EVENT_READ,
  IncompleteReadError,
  newEventLoop,
  openConnection,
  ProtocolBase,
  run as runMain,
  RuntimeError,
  SOCK_DGRAM,
  Socket,
  sleep,
  socketpair,
  startServer,
  StreamReader,
  TimeoutError,
  timeout,
  timeoutAt,
  waitFor,
} from '../src/index.js';
import type { EventLoop, Transport } from '../src/index.js';
import { connectTransport } from '../src/connections.js';
import { native } from '../src/native.js';
import { backends, hasIPv6, runGuarded, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'coio-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const regularFile = join(dir, 'plain.txt');
writeFileSync(regularFile, 'not a socket');
let files = 0;

// ---- the table ----------------------------------------------------------------

type ErrorClass = abstract new (...args: any[]) => Error;

/** What a row must give: a throw of a class (with a code / name / message), or a value check. */
type Want =
  | { throws: ErrorClass; code?: string | RegExp; name?: string; message?: RegExp }
  | { returns: (value: unknown) => void };

interface Kit {
  readonly loop: EventLoop;
  readonly backend: string;
  /** A connected AF_UNIX stream pair, closed after the row. */
  pair(): [Socket, Socket];
  /** A new socket, closed after the row. */
  sock(family?: number, type?: number): Socket;
  /** An fd number that is not open (it was just closed). */
  closedFd(): number;
  /** An open fd of a regular file (not a socket) holding `content` (default: a few bytes), closed after the row. */
  fileFd(content?: string): number;
  /** A pipe [read, write], closed after the row. */
  pipe(): [number, number];
  /**
   * A Socket over an fd the kit owns (from pipe() or fileFd()), detached after
   * the row: a dropped Socket still owning it would close the number when
   * collected, whatever it names by then.
   */
  wrap(family: number, fd: number): Socket;
  /** Run fn after the row (cleanup), last registered first. */
  defer(fn: () => void): void;
}

interface Row {
  name: string;
  /** The bad call. A generator is run as a coroutine on the test's loop. */
  call(k: Kit): unknown;
  want: Want | ((backend: string) => Want);
}

const throws = (cls: ErrorClass, more: Omit<Extract<Want, { throws: unknown }>, 'throws'> = {}): Want => ({ throws: cls, ...more });
const errno = (code: string | RegExp): Want => ({ throws: Error, code });
const returns = (check: (value: unknown) => void): Want => ({ returns: check });
const noop = (): void => {};

/** A loop of the row's backend that is already closed. */
function closedLoop(k: Kit): EventLoop {
  const l = newEventLoop({ selector: k.backend as 'epoll' });
  l.close();
  return l;
}

/** Run fn inside a callback of the running loop and rethrow what it threw there. */
function insideCallback(k: Kit, fn: () => void): void {
  let caught: unknown = null;
  let ran = false;
  k.loop.callSoon(() => {
    ran = true;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
  });
  k.loop.runUntilComplete(sleep(0));
  expect(ran).toBe(true);
  if (caught !== null) throw caught;
}

/** A protocol that only keeps its transport. */
class Quiet extends ProtocolBase {
  transport: Transport | null = null;
  override connectionMade(t: Transport): void {
    this.transport = t;
  }
}

/** A transport over one end of a socketpair on the row's loop, aborted after the row. */
function* transportPair(k: Kit): Co<Transport> {
  const [a] = k.pair();
  const [t] = yield* connectTransport(k.loop, a, () => new Quiet());
  k.defer(() => t.abort());
  return t;
}

const rows: Row[] = [
  // ---- the loop: wrong types, NaN / negative / huge delays ----------------------
  { name: 'callSoon(not a function)', call: (k) => k.loop.callSoon('x' as never), want: throws(TypeError) },
  { name: 'callLater(NaN)', call: (k) => k.loop.callLater(NaN, noop), want: throws(TypeError) },
  { name: "callLater('1') (a string delay)", call: (k) => k.loop.callLater('1' as never, noop), want: throws(TypeError) },
  { name: 'callAt(NaN)', call: (k) => k.loop.callAt(NaN, noop), want: throws(TypeError) },
  { name: 'callLater(delay, not a function)', call: (k) => k.loop.callLater(0, 42 as never), want: throws(TypeError) },
  {
    name: 'callLater(-5): a negative delay runs at once',
    call: (k) => {
      let ran = false;
      k.loop.callLater(-5, () => (ran = true));
      k.loop.runUntilComplete(sleep(0));
      return ran;
    },
    want: returns((ran) => expect(ran).toBe(true)),
  },
  {
    name: 'callLater(Infinity) and callLater(1e300): accepted, never due, cancellable; the loop still waits on I/O',
    call: (k) => {
      const timers = [k.loop.callLater(Infinity, noop), k.loop.callLater(1e300, noop)];
      k.defer(() => timers.forEach((t) => t.cancel()));
      k.loop.runUntilComplete(sleep(0.001));
      return timers.map((t) => t.cancelled());
    },
    want: returns((v) => expect(v).toEqual([false, false])),
  },
  { name: 'sleep(NaN)', call: () => sleep(NaN), want: throws(TypeError) },
  { name: "sleep('1')", call: () => sleep('1' as never), want: throws(TypeError) },
  { name: 'sleep(-1) returns at once', call: () => sleep(-1, 'done'), want: returns((v) => expect(v).toBe('done')) },
  {
    name: 'sleep(Infinity) under waitFor(0.01): TimeoutError, and its timer is gone',
    call: () => waitFor(sleep(Infinity), 0.01),
    want: throws(TimeoutError),
  },
  { name: 'waitFor(aw, NaN)', call: () => waitFor(sleep(0), NaN), want: throws(TypeError) },
  { name: 'waitFor(aw, -1): times out at once', call: () => waitFor(sleep(10), -1), want: throws(TimeoutError) },
  { name: 'timeout(NaN, body)', call: () => timeout(NaN, sleep(0)), want: throws(TypeError) },
  // Node's codes, and messages that name the argument and say what was expected.
  { name: 'callLater(1000) with no callback: the message gives the order (delay, then callback)', call: (k) => k.loop.callLater(1000, undefined as never), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"callback" argument must be a function\. Received undefined; callLater takes the delay in seconds, then the callback/ }) },
  { name: 'callLater(callback, 1) (arguments swapped)', call: (k) => k.loop.callLater(noop as never, 1 as never), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"delay" argument must be a number of seconds\. Received function noop; callLater takes the delay/ }) },
  { name: 'callAt(when) with no callback: names callAt, not another method', call: (k) => k.loop.callAt(1, undefined as never), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /callAt takes the loop time/ }) },
  { name: "timeout('5', body): refused, not accepted silently", call: () => timeout('5' as never, sleep(0)), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"delay" argument must be a number of seconds or null\. Received type string \("5"\)/ }) },
  { name: "timeoutAt('5', body)", call: () => timeoutAt('5' as never, sleep(0)), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"when"/ }) },
  { name: 'waitFor(aw, NaN): names the argument', call: () => waitFor(sleep(0), NaN), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"seconds" argument must be a number of seconds or null\. Received type number \(NaN\)/ }) },
  { name: "waitFor(aw, '1')", call: () => waitFor(sleep(0), '1' as never), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE' }) },
  { name: 'createTask(not a coroutine)', call: (k) => k.loop.createTask(42 as never), want: throws(TypeError) },
  { name: 'createTask({}) (a plain object)', call: (k) => k.loop.createTask({} as never), want: throws(TypeError) },
  { name: 'setExceptionHandler(not a function)', call: (k) => k.loop.setExceptionHandler('x' as never), want: throws(TypeError) },

  // ---- the loop: fds ---------------------------------------------------------
  { name: 'addReader(-1)', call: (k) => k.loop.addReader(-1, noop), want: throws(RangeError) },
  { name: 'addReader(1.5)', call: (k) => k.loop.addReader(1.5, noop), want: throws(TypeError) },
  { name: "addReader('3') (a string fd)", call: (k) => k.loop.addReader('3' as never, noop), want: throws(TypeError) },
  { name: 'addReader(2 ** 31) (beyond any fd)', call: (k) => k.loop.addReader(2 ** 31, noop), want: throws(RangeError) },
  { name: 'addWriter(fd, not a function)', call: (k) => k.loop.addWriter(k.pair()[0].fileno(), 'x' as never), want: throws(TypeError) },
  { name: 'addReader({ fileno() returns a string })', call: (k) => k.loop.addReader({ fileno: () => 'x' } as never, noop), want: throws(TypeError) },
  {
    // kqueue(2): EV_ADD of an invalid descriptor fails with EBADF, returned
    // in the EV_RECEIPT result for that change.
    name: 'addReader(a closed fd): epoll, io_uring and kqueue refuse it (EBADF); poll / select take it and report it',
    call: (k) => {
      const fd = k.closedFd();
      k.loop.addReader(fd, noop);
      k.defer(() => k.loop.removeReader(fd));
      return fd;
    },
    want: (backend) => (backend === 'epoll' || backend === 'kqueue' || backend === 'io_uring' ? errno('EBADF') : returns((fd) => expect(fd).toBeGreaterThan(2))),
  },
  {
    // kqueue(2), EVFILT_READ: a regular file is ready while the file
    // pointer is not at its end (this one holds a few bytes).
    name: 'addReader(a regular file): epoll refuses it (EPERM); kqueue reports it ready until EOF, poll / select / io_uring always',
    call: (k) => {
      const fd = k.fileFd();
      let calls = 0;
      k.loop.addReader(fd, () => calls++);
      k.defer(() => k.loop.removeReader(fd));
      k.loop.runUntilComplete(sleep(0));
      return calls;
    },
    want: (backend) => (backend === 'epoll' ? errno('EPERM') : returns((calls) => expect(calls).toBeGreaterThan(0))),
  },
  {
    name: 'addReader(an empty regular file): epoll refuses it (EPERM); kqueue never reports it (at EOF), poll / select / io_uring always',
    call: (k) => {
      const fd = k.fileFd('');
      let calls = 0;
      k.loop.addReader(fd, () => calls++);
      k.defer(() => k.loop.removeReader(fd));
      k.loop.runUntilComplete(sleep(0.01));
      return calls;
    },
    want: (backend) => (backend === 'epoll' ? errno('EPERM') : returns((calls) => (backend === 'kqueue' ? expect(calls).toBe(0) : expect(calls).toBeGreaterThan(0)))),
  },
  { name: 'removeReader(an fd never watched) is false', call: (k) => k.loop.removeReader(k.pair()[0].fileno()), want: returns((v) => expect(v).toBe(false)) },
  { name: 'removeWriter(a closed fd never watched) is false', call: (k) => k.loop.removeWriter(k.closedFd()), want: returns((v) => expect(v).toBe(false)) },

  // ---- re-entrant calls -------------------------------------------------------
  { name: 'runUntilComplete inside a callback', call: (k) => insideCallback(k, () => k.loop.runUntilComplete(sleep(0))), want: throws(RuntimeError, { message: /already running/ }) },
  { name: 'runForever inside a callback', call: (k) => insideCallback(k, () => k.loop.runForever()), want: throws(RuntimeError) },
  { name: 'close() while running', call: (k) => insideCallback(k, () => k.loop.close()), want: throws(RuntimeError, { message: /running/ }) },
  {
    name: 'another loop run inside a running one',
    call: (k) => {
      const other = newEventLoop({ selector: k.backend as 'epoll' });
      try {
        insideCallback(k, () => other.runUntilComplete(sleep(0)));
      } finally {
        other.close();
      }
    },
    want: throws(RuntimeError),
  },
  { name: 'run() (the runner) inside a running loop', call: (k) => insideCallback(k, () => runMain(sleep(0))), want: throws(RuntimeError) },
  {
    name: 'stop() twice: the loop stops once, and runs again afterwards',
    call: (k) => {
      let turns = 0;
      k.loop.callSoon(() => {
        k.loop.stop();
        k.loop.stop();
      });
      k.loop.callSoon(() => turns++);
      k.loop.runForever();
      return turns;
    },
    want: returns((turns) => expect(turns).toBe(1)),
  },
  {
    name: 'stop() from inside a task that runUntilComplete waits for: RuntimeError, the task stays usable',
    call: (k) => {
      const task = k.loop.createTask(
        (function* () {
          k.loop.stop();
          yield* sleep(0.001);
          return 'finished';
        })(),
      );
      try {
        k.loop.runUntilComplete(task);
      } finally {
        k.defer(() => expect(k.loop.runUntilComplete(task)).toBe('finished'));
      }
    },
    want: throws(RuntimeError, { message: /stopped before Future completed/ }),
  },

  // ---- a closed loop, used ----------------------------------------------------
  { name: 'closed loop: callSoon', call: (k) => closedLoop(k).callSoon(noop), want: throws(RuntimeError, { message: /closed/ }) },
  { name: 'closed loop: callLater', call: (k) => closedLoop(k).callLater(0, noop), want: throws(RuntimeError) },
  { name: 'closed loop: createTask', call: (k) => closedLoop(k).createTask(sleep(0)), want: throws(RuntimeError) },
  { name: 'closed loop: runUntilComplete', call: (k) => closedLoop(k).runUntilComplete(sleep(0)), want: throws(RuntimeError) },
  { name: 'closed loop: runForever', call: (k) => closedLoop(k).runForever(), want: throws(RuntimeError) },
  { name: 'closed loop: addReader', call: (k) => closedLoop(k).addReader(k.pair()[0].fileno(), noop), want: throws(RuntimeError) },
  { name: 'closed loop: removeReader is false', call: (k) => closedLoop(k).removeReader(0), want: returns((v) => expect(v).toBe(false)) },
  {
    name: 'closed loop: close() again is a no-op',
    call: (k) => {
      const l = closedLoop(k);
      l.close();
      return l.isClosed();
    },
    want: returns((v) => expect(v).toBe(true)),
  },
  {
    name: 'closed loop: sockRecv on it (run from a live loop) fails and leaves nothing watched',
    call: function* (k) {
      const [a] = k.pair();
      return yield* closedLoop(k).sockRecv(a, 10);
    },
    want: throws(RuntimeError),
  },
  {
    name: 'closed loop: createServer on it fails and closes its listening socket',
    call: (k) => closedLoop(k).createServer(() => new Quiet(), '127.0.0.1', 0),
    want: throws(RuntimeError),
  },
  {
    name: 'closed loop: createUnixConnection on it fails and closes its socket',
    call: function* (k) {
      const path = join(dir, `srv-${k.backend}.sock`);
      const srv = k.sock(AF_UNIX);
      srv.bind(path);
      srv.listen();
      k.defer(() => rmSync(path, { force: true }));
      return yield* closedLoop(k).createUnixConnection(() => new Quiet(), path);
    },
    want: throws(RuntimeError),
  },

  // ---- the selector -----------------------------------------------------------
  {
    name: 'selector: select(-1) polls, select(1e12) and select(Infinity) return at once when an fd is ready',
    call: (k) => {
      const sel = createSelector(k.backend);
      k.defer(() => sel.close());
      const [a, b] = k.pair();
      b.send('x');
      sel.register(a, EVENT_READ);
      return [sel.select(-1).length, sel.select(1e12).length, sel.select(Infinity).length];
    },
    want: returns((v) => expect(v).toEqual([1, 1, 1])),
  },
  {
    name: "selector: select('1') (a string timeout)",
    call: (k) => {
      const sel = createSelector(k.backend);
      k.defer(() => sel.close());
      return sel.select('1' as never);
    },
    want: throws(TypeError),
  },
  {
    name: 'selector used after close: unregister, modify, fileno and wait all say EBADF',
    call: (k) => {
      const sel = createSelector(k.backend);
      const [a] = k.pair();
      sel.register(a, EVENT_READ);
      sel.close();
      const codes = [() => sel.unregister(a), () => sel.modify(a, EVENT_READ), () => sel.fileno(), () => sel.wait(0)].map((f) => {
        try {
          f();
          return 'no error';
        } catch (e) {
          return (e as NodeJS.ErrnoException).code;
        }
      });
      return codes;
    },
    want: returns((v) => expect(v).toEqual(['EBADF', 'EBADF', 'EBADF', 'EBADF'])),
  },
  {
    name: 'selector: register a regular file: epoll refuses it (EPERM), the others take it, and nothing stays registered',
    call: (k) => {
      const sel = createSelector(k.backend);
      k.defer(() => sel.close());
      const fd = k.fileFd();
      try {
        sel.register(fd, EVENT_READ);
        sel.unregister(fd);
        return sel.getMap().size;
      } finally {
        expect(sel.getMap().size).toBe(0);
      }
    },
    want: (backend) => (backend === 'epoll' ? errno('EPERM') : returns((n) => expect(n).toBe(0))),
  },
  {
    name: 'native poller: wait with huge or infinite timeouts returns at once when an fd is ready',
    call: (k) => {
      const p = new native.Poller(k.backend as 'epoll', new Int32Array(8));
      k.defer(() => p.close());
      const [a, b] = k.pair();
      b.send('x');
      p.add(a.fileno(), 1);
      return [p.wait(Infinity), p.wait(1e300), p.wait(-5), p.wait(Number.MAX_SAFE_INTEGER)];
    },
    want: returns((v) => expect(v).toEqual([1, 1, 1, 1])),
  },
  {
    name: 'native waker used after close: EBADF',
    call: () => {
      const w = new native.Waker();
      w.close();
      w.close();
      w.wake();
    },
    want: errno('EBADF'),
  },

  // ---- sockets: foreign fds, addresses that do not parse ---------------------------
  { name: 'Socket(unknown family)', call: () => new Socket(12345), want: errno('EAFNOSUPPORT') },
  { name: 'Socket(AF_INET, unknown type)', call: () => new Socket(AF_INET, 999), want: errno('EINVAL') },
  {
    name: 'Socket over a pipe fd (foreign): recv is ENOTSOCK',
    call: (k) => k.wrap(AF_UNIX, k.pipe()[0]).recv(1),
    want: errno('ENOTSOCK'),
  },
  {
    name: 'Socket over a regular file fd (foreign): getsockname is ENOTSOCK',
    call: (k) => k.wrap(AF_INET, k.fileFd()).getsockname(),
    want: errno('ENOTSOCK'),
  },
  { name: 'bind to 256.0.0.1', call: (k) => k.sock().bind(['256.0.0.1', 0]), want: errno('EINVAL') },
  { name: "bind to '127.0.0.1\\0x' (a NUL byte in the host)", call: (k) => k.sock().bind(['127.0.0.1\0x', 0]), want: errno('EINVAL') },
  { name: 'bind an IPv4 socket to ::1', call: (k) => k.sock().bind(['::1', 0]), want: errno('EINVAL') },
  { name: 'bind to [::1] (brackets are not an address)', call: (k) => k.sock().bind(['[::1]', 0]), want: errno('EINVAL') },
  { name: 'bind to a 10,000-character host', call: (k) => k.sock().bind(['1'.repeat(10_000), 0]), want: errno('EINVAL') },
  ...(hasIPv6
    ? [
        { name: 'bind an IPv6 socket to ::1::2', call: (k: Kit) => k.sock(AF_INET6).bind(['::1::2', 0]), want: errno('EINVAL') },
        { name: 'bind an IPv6 socket to fe80::1%nosuchif0 (unknown interface)', call: (k: Kit) => k.sock(AF_INET6).bind(['fe80::1%nosuchif0', 0]), want: errno('EINVAL') },
        { name: 'bind an IPv6 socket to ::1% (empty scope)', call: (k: Kit) => k.sock(AF_INET6).bind(['::1%', 0]), want: errno('EINVAL') },
      ]
    : []),
  { name: 'bind with port 1.5', call: (k) => k.sock().bind(['127.0.0.1', 1.5]), want: throws(RangeError) },
  { name: "bind with port '80' (a string)", call: (k) => k.sock().bind(['127.0.0.1', '80' as never]), want: throws(RangeError) },
  { name: 'bind with host 7 (a number)', call: (k) => k.sock().bind({ host: 7 as never, port: 0 }), want: throws(TypeError) },
  { name: 'bind an inet socket to a path string', call: (k) => k.sock().bind('/tmp/x'), want: throws(TypeError) },
  { name: 'bind a Unix socket to [host, port]', call: (k) => k.sock(AF_UNIX).bind(['x', 1] as never), want: throws(TypeError) },
  { name: 'bind a Unix socket to a path with a NUL byte', call: (k) => k.sock(AF_UNIX).bind(join(dir, 'a\0b')), want: errno('EINVAL') },
  { name: 'new Socket(AF_INET, SOCK_STREAM, 1.5) (a fractional fd)', call: () => new Socket(AF_INET, undefined, 1.5), want: throws(RangeError) },
  { name: 'listen(1.5)', call: (k) => k.sock().listen(1.5), want: throws(TypeError) },
  { name: 'accept on a socket that does not listen', call: (k) => k.sock().accept(), want: errno('EINVAL') },
  { name: 'getpeername of an unconnected socket', call: (k) => k.sock().getpeername(), want: errno('ENOTCONN') },
  { name: 'shutdown(99)', call: (k) => k.pair()[0].shutdown(99), want: errno('EINVAL') },
  { name: "setsockopt('NOPE')", call: (k) => k.sock().setsockopt('NOPE' as never, 1), want: throws(RangeError) },
  { name: "setsockopt('SO_RCVBUF', 'big')", call: (k) => k.sock().setsockopt('SO_RCVBUF', 'big' as never), want: throws(TypeError) },
  { name: 'setsockopt on a pipe fd (foreign): ENOTSOCK', call: (k) => native.setsockopt(k.pipe()[0], native.SO_RCVBUF, 1), want: errno('ENOTSOCK') },
  { name: 'listen on a regular file fd (foreign): ENOTSOCK', call: (k) => native.listen(k.fileFd(), 1), want: errno('ENOTSOCK') },
  { name: 'dup of a closed fd: EBADF', call: (k) => native.dup(k.closedFd()), want: errno('EBADF') },
  { name: 'getSocketError of a closed fd: EBADF', call: (k) => native.getSocketError(k.closedFd()), want: errno('EBADF') },

  // ---- sizes and buffers out of range -------------------------------------------
  { name: 'recv(-1)', call: (k) => k.pair()[0].recv(-1), want: throws(RangeError) },
  { name: 'recv(NaN)', call: (k) => k.pair()[0].recv(NaN), want: throws(TypeError) },
  { name: "recv('5')", call: (k) => k.pair()[0].recv('5' as never), want: throws(TypeError) },
  { name: 'recv(2 ** 53) (more than a Buffer can hold)', call: (k) => k.pair()[0].recv(2 ** 53), want: throws(RangeError) },
  { name: 'recvInto(buf, nbytes > buf.length)', call: (k) => k.pair()[0].recvInto(Buffer.alloc(4), 5), want: throws(RangeError) },
  { name: 'recvInto(buf, -1)', call: (k) => k.pair()[0].recvInto(Buffer.alloc(4), -1), want: throws(RangeError) },
  { name: 'recvInto(buf, undefined, offset beyond the end)', call: (k) => k.pair()[0].recvInto(Buffer.alloc(4), undefined, 10), want: throws(RangeError) },
  { name: 'recvInto(a Float64Array)', call: (k) => k.pair()[0].recvInto(new Float64Array(2) as never), want: throws(TypeError) },
  { name: 'recvInto(a string)', call: (k) => k.pair()[0].recvInto('abc' as never), want: throws(TypeError) },
  { name: 'send(buf, -1)', call: (k) => k.pair()[0].send(Buffer.alloc(4), -1), want: throws(RangeError) },
  { name: 'send(buf, 0, 2 ** 60)', call: (k) => k.pair()[0].send(Buffer.alloc(4), 0, 2 ** 60), want: throws(RangeError) },
  { name: 'send(42) (not bytes)', call: (k) => k.pair()[0].send(42 as never), want: throws(TypeError) },
  {
    name: 'send of a detached buffer (its ArrayBuffer transferred away)',
    call: (k) => {
      const buf = new Uint8Array(8);
      structuredClone(buf.buffer, { transfer: [buf.buffer] });
      return k.pair()[0].send(buf, 0, 8);
    },
    want: throws(RangeError),
  },
  { name: "sendv([buf, 'x'])", call: (k) => k.pair()[0].sendv([Buffer.alloc(1), 'x' as never]), want: throws(TypeError) },
  { name: "sendv('x') (not an array)", call: (k) => k.pair()[0].sendv('x' as never), want: throws(TypeError) },
  { name: 'sendv([buf], firstOffset beyond it)', call: (k) => k.pair()[0].sendv([Buffer.alloc(4)], 99), want: throws(RangeError) },
  { name: 'sendv on a closed fd: EBADF', call: (k) => native.sendv(k.closedFd(), [Buffer.alloc(1)], 0), want: errno('EBADF') },

  // ---- sock* coroutines ----------------------------------------------------------
  { name: 'sockRecv(sock, -1)', call: (k) => k.loop.sockRecv(k.pair()[0], -1), want: throws(RangeError) },
  { name: 'sockRecv(sock, 1.5)', call: (k) => k.loop.sockRecv(k.pair()[0], 1.5), want: throws(TypeError) },
  {
    name: 'sockRecv on a closed Socket: EBADF',
    call: (k) => {
      const [a] = k.pair();
      a.close();
      return k.loop.sockRecv(a, 10);
    },
    want: errno('EBADF'),
  },
  { name: 'sockRecv on a pipe wrapped as a Socket (foreign): ENOTSOCK', call: (k) => k.loop.sockRecv(k.wrap(AF_UNIX, k.pipe()[0]), 1), want: errno('ENOTSOCK') },
  { name: 'sockRecvInto(sock, buf, nbytes > buf.length)', call: (k) => k.loop.sockRecvInto(k.pair()[0], Buffer.alloc(4), 99), want: throws(RangeError) },
  { name: 'sockSendall(sock, 42)', call: (k) => k.loop.sockSendall(k.pair()[0], 42 as never), want: throws(TypeError) },
  { name: 'sockSendall(sock, null)', call: (k) => k.loop.sockSendall(k.pair()[0], null as never), want: throws(TypeError) },
  { name: "sockConnect to ['localhost', 80] (names are the resolver's job)", call: (k) => k.loop.sockConnect(k.sock(), ['localhost', 80]), want: errno('EINVAL') },
  { name: 'sockConnect to port 99999', call: (k) => k.loop.sockConnect(k.sock(), ['127.0.0.1', 99999]), want: throws(RangeError) },
  { name: 'sockConnect a Unix socket to 42', call: (k) => k.loop.sockConnect(k.sock(AF_UNIX), 42 as never), want: throws(TypeError) },
  { name: 'sockConnect a Unix socket to a missing path: ENOENT', call: (k) => k.loop.sockConnect(k.sock(AF_UNIX), join(dir, 'missing.sock')), want: errno('ENOENT') },
  { name: 'sockAccept on a socket that does not listen', call: (k) => k.loop.sockAccept(k.sock()), want: errno('EINVAL') },
  { name: "sockSendto(udp, 'x', ['nope', 1])", call: (k) => k.loop.sockSendto(k.sock(AF_INET, SOCK_DGRAM), 'x', ['nope', 1]), want: errno('EINVAL') },
  { name: 'getaddrinfo for AF_UNIX', call: (k) => k.loop.getaddrinfo('x', 1, { family: AF_UNIX }), want: throws(RangeError) },
  { name: 'getaddrinfo(::1) restricted to AF_INET', call: (k) => k.loop.getaddrinfo('::1', 1, { family: AF_INET }), want: errno('EAI_ADDRFAMILY') },

  // ---- create* ------------------------------------------------------------------------
  { name: 'createServer on port -1', call: (k) => k.loop.createServer(() => new Quiet(), '127.0.0.1', -1), want: throws(RangeError) },
  { name: 'createServer on port 70000', call: (k) => k.loop.createServer(() => new Quiet(), '127.0.0.1', 70_000), want: throws(RangeError) },
  { name: 'createServer on an address not of this host (192.0.2.1)', call: (k) => k.loop.createServer(() => new Quiet(), '192.0.2.1', 0), want: errno('EADDRNOTAVAIL') },
  { name: 'createServer on ::1 restricted to AF_INET', call: (k) => k.loop.createServer(() => new Quiet(), '::1', 0, { family: AF_INET }), want: errno('EAI_ADDRFAMILY') },
  { name: 'createConnection to port 80.5', call: (k) => k.loop.createConnection(() => new Quiet(), '127.0.0.1', 80.5), want: throws(RangeError) },
  { name: 'createConnection with localAddr port -1', call: (k) => k.loop.createConnection(() => new Quiet(), '127.0.0.1', 9, { localAddr: ['127.0.0.1', -1] }), want: throws(RangeError) },
  {
    name: 'createConnection whose protocolFactory throws: that error, and the connected socket is closed',
    call: function* (k) {
      const server = yield* k.loop.createServer(() => new Quiet(), '127.0.0.1', 0);
      k.defer(() => server.close());
      const port = (server.sockets[0]!.getsockname() as { port: number }).port;
      try {
        return yield* k.loop.createConnection(
          () => {
            throw new TypeError('factory failed');
          },
          '127.0.0.1',
          port,
        );
      } finally {
        server.close();
        server.abortClients();
        yield* server.waitClosed();
      }
    },
    want: throws(TypeError, { message: /factory failed/ }),
  },
  {
    name: 'createConnection whose connectionMade throws: that error, and the transport is closed',
    call: function* (k) {
      const server = yield* k.loop.createServer(() => new Quiet(), '127.0.0.1', 0);
      const port = (server.sockets[0]!.getsockname() as { port: number }).port;
      const errors: unknown[] = [];
      k.loop.setExceptionHandler((_l, ctx) => errors.push(ctx.exception));
      k.defer(() => k.loop.setExceptionHandler(null));
      try {
        return yield* k.loop.createConnection(
          () =>
            new (class extends Quiet {
              override connectionMade(): void {
                throw new RangeError('connectionMade failed');
              }
            })(),
          '127.0.0.1',
          port,
        );
      } finally {
        yield* sleep(0.001);
        server.close();
        server.abortClients();
        yield* server.waitClosed();
        expect(errors.map(String)).toEqual(['RangeError: connectionMade failed']);
      }
    },
    want: throws(RangeError, { message: /connectionMade failed/ }),
  },
  {
    name: 'createDatagramEndpoint whose protocolFactory throws: that error, and the socket is closed',
    call: (k) =>
      k.loop.createDatagramEndpoint(
        () => {
          throw new TypeError('factory failed');
        },
        { localAddr: ['127.0.0.1', 0] },
      ),
    want: throws(TypeError, { message: /factory failed/ }),
  },
  {
    name: 'createDatagramEndpoint with reuseAddress: refused (SO_REUSEADDR is unsafe for UDP), no socket left',
    call: (k) => k.loop.createDatagramEndpoint(() => ({ datagramReceived: noop }), { localAddr: ['127.0.0.1', 0], reuseAddress: true as never }),
    want: throws(TypeError, { code: 'ERR_INVALID_ARG_VALUE', message: /reuseAddress.*reusePort/ }),
  },
  {
    name: 'createConnection with a protocolFactory that is not a function: refused before connecting',
    call: (k) => k.loop.createConnection('x' as never, '127.0.0.1', 9),
    want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"protocolFactory"/ }),
  },
  {
    name: "connected datagram endpoint: sendto(data, its own remote address) is sent; another address is a RangeError",
    call: function* (k) {
      const got: string[] = [];
      const [server] = yield* k.loop.createDatagramEndpoint(() => ({ datagramReceived: (d: Buffer) => void got.push(d.toString()) }), { localAddr: ['127.0.0.1', 0] });
      k.defer(() => server.close());
      const { port } = server.getExtraInfo('sockname') as { port: number };
      const [client] = yield* k.loop.createDatagramEndpoint(() => ({ datagramReceived: noop }), { remoteAddr: ['127.0.0.1', port] });
      k.defer(() => client.close());
      client.sendto('as array', ['127.0.0.1', port]);
      client.sendto('as object', { family: 'IPv4', address: '127.0.0.1', port } as never);
      let other: unknown;
      try {
        client.sendto('elsewhere', ['127.0.0.1', port === 9 ? 10 : 9]);
      } catch (err) {
        other = err;
      }
      for (let i = 0; i < 200 && got.length < 2; i++) yield* sleep(0.002);
      return [got.sort(), other];
    },
    want: returns((v) => {
      const [got, other] = v as [string[], unknown];
      expect(got).toEqual(['as array', 'as object']);
      expect(other).toBeInstanceOf(RangeError);
      expect((other as Error).message).toMatch(/must be undefined or the connected address 127\.0\.0\.1:\d+/);
    }),
  },
  { name: 'createDatagramEndpoint with no address and no family', call: (k) => k.loop.createDatagramEndpoint(() => ({ datagramReceived: noop })), want: throws(RangeError, { message: /needs localAddr/ }) },
  { name: 'createDatagramEndpoint binding port 70000', call: (k) => k.loop.createDatagramEndpoint(() => ({ datagramReceived: noop }), { localAddr: ['127.0.0.1', 70_000] }), want: throws(RangeError) },
  {
    name: 'datagram sendto an address that does not parse: errorReceived(EINVAL), the endpoint stays open',
    call: function* (k) {
      const got: unknown[] = [];
      const [t] = yield* k.loop.createDatagramEndpoint(() => ({ datagramReceived: noop, errorReceived: (e: Error) => got.push(e) }), { localAddr: ['127.0.0.1', 0] });
      k.defer(() => t.close());
      t.sendto('x', ['not an address', 9]);
      yield* sleep(0);
      return [got.map((e) => (e as NodeJS.ErrnoException).code), t.isClosing()];
    },
    want: returns((v) => expect(v).toEqual([['EINVAL'], false])),
  },
  { name: 'createUnixServer on a 200-character path: ENAMETOOLONG', call: (k) => k.loop.createUnixServer(() => new Quiet(), join(dir, 'x'.repeat(200))), want: errno('ENAMETOOLONG') },
  { name: 'createUnixServer in a missing directory: ENOENT', call: (k) => k.loop.createUnixServer(() => new Quiet(), join(dir, 'no', 'such', 'dir.sock')), want: errno('ENOENT') },
  { name: 'createUnixConnection to a missing path: ENOENT', call: (k) => k.loop.createUnixConnection(() => new Quiet(), join(dir, 'missing.sock')), want: errno('ENOENT') },

  // ---- transports -------------------------------------------------------------------
  // Pipe fds: TypeError for a value that is not an integer, RangeError for a negative one (as the selector's checks).
  { name: 'connectReadPipe(-1)', call: (k) => k.loop.connectReadPipe(() => new Quiet(), -1), want: throws(RangeError, { message: /non-negative integer/ }) },
  { name: 'connectWritePipe(-1)', call: (k) => k.loop.connectWritePipe(() => new Quiet(), -1), want: throws(RangeError, { message: /non-negative integer/ }) },
  { name: 'connectReadPipe(1.5) (a fractional fd)', call: (k) => k.loop.connectReadPipe(() => new Quiet(), 1.5), want: throws(TypeError) },
  { name: 'connectWritePipe(NaN)', call: (k) => k.loop.connectWritePipe(() => new Quiet(), NaN), want: throws(TypeError) },
  { name: "connectReadPipe('0') (a string)", call: (k) => k.loop.connectReadPipe(() => new Quiet(), '0' as never), want: throws(TypeError) },
  {
    name: "loop.addReader / addWriter / removeReader / removeWriter on a transport's fd: RuntimeError naming the transport, which still reads",
    call: function* (k) {
      const [a, b] = k.pair();
      let received = '';
      const [t] = yield* connectTransport(k.loop, a, () => Object.assign(new Quiet(), { dataReceived: (d: Buffer) => void (received += d.toString()) }));
      k.defer(() => t.abort());
      const fd = a.fileno();
      const errors: unknown[] = [];
      for (const call of [() => k.loop.addReader(fd, noop), () => k.loop.addWriter(fd, noop), () => k.loop.removeReader(fd), () => k.loop.removeWriter(fd)]) {
        try {
          call();
        } catch (err) {
          errors.push(err);
        }
      }
      b.send(Buffer.from('still read'));
      for (let i = 0; i < 200 && received === ''; i++) yield* sleep(0.002);
      return [errors, received];
    },
    want: returns((v) => {
      const [errors, received] = v as [unknown[], string];
      expect(errors).toHaveLength(4);
      for (const e of errors as Error[]) {
        expect(e).toBeInstanceOf(RuntimeError);
        expect(e.message).toMatch(/^File descriptor \d+ is used by transport <(Proactor)?SocketTransport fd=\d+ open/);
      }
      expect(received).toBe('still read');
    }),
  },
  {
    name: "loop.addReader on a datagram transport's fd: RuntimeError",
    call: function* (k) {
      const [t] = yield* k.loop.createDatagramEndpoint(() => ({ datagramReceived: noop }), { localAddr: ['127.0.0.1', 0] });
      k.defer(() => t.close());
      k.loop.addReader((t.getExtraInfo('socket') as Socket).fileno(), noop);
    },
    want: throws(RuntimeError, { message: /is used by transport/ }),
  },
  {
    name: 'transport.write(42)',
    call: function* (k) {
      (yield* transportPair(k)).write(42 as never);
    },
    want: throws(TypeError),
  },
  {
    name: 'transport.write after writeEof',
    call: function* (k) {
      const t = yield* transportPair(k);
      t.writeEof();
      t.write('x');
    },
    want: throws(Error, { message: /after writeEof/ }),
  },
  {
    name: 'transport.setWriteBufferLimits(high < low)',
    call: function* (k) {
      (yield* transportPair(k)).setWriteBufferLimits(1, 10);
    },
    want: throws(RangeError),
  },
  {
    name: 'transport.setWriteBufferLimits(NaN)',
    call: function* (k) {
      (yield* transportPair(k)).setWriteBufferLimits(NaN);
    },
    want: throws(RangeError),
  },
  {
    name: 'transport.setWriteBufferLimits(-1)',
    call: function* (k) {
      (yield* transportPair(k)).setWriteBufferLimits(-1);
    },
    want: throws(RangeError),
  },
  {
    name: 'transport: write after close is dropped silently, close / abort twice are no-ops',
    call: function* (k) {
      const t = yield* transportPair(k);
      t.close();
      t.write('dropped');
      t.close();
      t.abort();
      yield* sleep(0);
      return t.getWriteBufferSize();
    },
    want: returns((v) => expect(v).toBe(0)),
  },

  // ---- streams --------------------------------------------------------------------------
  { name: 'new StreamReader(loop, 0)', call: (k) => new StreamReader(k.loop, 0), want: throws(RangeError) },
  { name: 'new StreamReader(loop, NaN)', call: (k) => new StreamReader(k.loop, NaN), want: throws(RangeError) },
  { name: 'new StreamReader(loop, -1)', call: (k) => new StreamReader(k.loop, -1), want: throws(RangeError) },
  { name: 'reader.read(1.5)', call: (k) => new StreamReader(k.loop).read(1.5), want: throws(TypeError) },
  { name: 'reader.readExactly(-1)', call: (k) => new StreamReader(k.loop).readExactly(-1), want: throws(RangeError) },
  { name: "reader.readUntil('')", call: (k) => new StreamReader(k.loop).readUntil(''), want: throws(RangeError) },
  { name: 'reader.readUntil([])', call: (k) => new StreamReader(k.loop).readUntil([]), want: throws(RangeError) },
  { name: 'reader.readUntil(42)', call: (k) => new StreamReader(k.loop).readUntil(42 as never), want: throws(TypeError) },
  {
    name: 'IncompleteReadError messages: the expected size, or that the separator never came (not "undefined expected bytes")',
    call: () => [new IncompleteReadError(Buffer.from('abc'), 10).message, new IncompleteReadError(Buffer.from('abc'), null).message, new IncompleteReadError(Buffer.from('abc'), undefined as never).message],
    want: returns((v) =>
      expect(v).toEqual(['3 bytes read on a total of 10 expected bytes', '3 bytes read before the end of the stream, without the separator', '3 bytes read before the end of the stream, without the separator']),
    ),
  },
  {
    name: 'reader.readExactly(2 ** 40) at EOF: IncompleteReadError, nothing allocated up front',
    call: (k) => {
      const r = new StreamReader(k.loop);
      r.feedData(Buffer.from('abc'));
      r.feedEof();
      return r.readExactly(2 ** 40);
    },
    want: throws(IncompleteReadError),
  },
  {
    name: 'two coroutines reading one StreamReader at once: RuntimeError for the second',
    call: function* (k) {
      const r = new StreamReader(k.loop);
      const first = k.loop.createTask(r.read(10));
      yield* sleep(0);
      try {
        return yield* r.read(10);
      } finally {
        r.feedEof();
        yield* first;
      }
    },
    want: throws(RuntimeError, { message: /already waiting/ }),
  },
  {
    name: 'reader.feedData after feedEof',
    call: (k) => {
      const r = new StreamReader(k.loop);
      r.feedEof();
      r.feedData(Buffer.from('x'));
    },
    want: throws(Error, { message: /after feedEof/ }),
  },
  { name: 'openConnection outside a running loop', call: () => openConnection('127.0.0.1', 1).next(), want: throws(RuntimeError, { message: /no running event loop/ }) },
  { name: 'startServer outside a running loop', call: () => startServer(noop, '127.0.0.1', 0).next(), want: throws(RuntimeError, { message: /no running event loop/ }) },
  { name: 'openConnection to port -1', call: () => openConnection('127.0.0.1', -1), want: throws(RangeError) },
  { name: "openConnection(8080, '127.0.0.1') (port where the host belongs)", call: () => openConnection(8080 as never, '127.0.0.1' as never), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"host" argument must be of type string\. Received type number \(8080\); the host comes first, then the port/ }) },
  { name: 'openConnection to port 65536: ERR_OUT_OF_RANGE', call: () => openConnection('127.0.0.1', 65536), want: throws(RangeError, { code: 'ERR_OUT_OF_RANGE', message: /"port"/ }) },
  { name: "startServer('x') (not a handler)", call: () => startServer('x' as never, '127.0.0.1', 0), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /"clientConnected" argument must be a function\. Received type string \("x"\)/ }) },
  { name: "startServer(handler, 0, '127.0.0.1') (host and port swapped)", call: () => startServer(noop, 0 as never, '127.0.0.1' as never), want: throws(TypeError, { code: 'ERR_INVALID_ARG_TYPE', message: /host comes first/ }) },
];

// ---- the driver ---------------------------------------------------------------------

function isGenerator(x: unknown): x is Co<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as Co<unknown>).next === 'function' && typeof (x as Co<unknown>).throw === 'function';
}

/** The loop still works: a timer, a task and real I/O on a fresh socketpair. */
function* smoke(loop: EventLoop): Co<string> {
  yield* sleep(0.001);
  const [a, b] = socketpair();
  try {
    yield* loop.sockSendall(a, 'ping');
    return (yield* loop.sockRecv(b, 10)).toString();
  } finally {
    a.close();
    b.close();
  }
}

function makeKit(loop: EventLoop, backend: string, cleanups: Array<() => void>): Kit {
  const kit: Kit = {
    loop,
    backend,
    pair() {
      const p = socketpair();
      cleanups.push(() => p.forEach((s) => s.close()));
      return p;
    },
    sock(family = AF_INET, type?: number) {
      const s = new Socket(family, type);
      cleanups.push(() => s.close());
      return s;
    },
    closedFd() {
      const [r, w] = native.pipe();
      native.close(r);
      native.close(w);
      return r;
    },
    fileFd(content?: string) {
      let path = regularFile;
      if (content !== undefined) {
        path = join(dir, `file-${++files}.txt`);
        writeFileSync(path, content);
      }
      const fd = openSync(path, 'r');
      cleanups.push(() => closeSync(fd));
      return fd;
    },
    pipe() {
      const p = native.pipe();
      cleanups.push(() => p.forEach((fd) => native.close(fd)));
      return p;
    },
    wrap(family, fd) {
      const s = new Socket(family, undefined, fd);
      cleanups.push(() => s.detach());
      return s;
    },
    defer(fn) {
      cleanups.push(fn);
    },
  };
  return kit;
}

describe.each(backends)('bad input on %s', (backend) => {
  const t = useLoop(backend);

  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const loop = t.loop;
    const fdsBefore = native.countOpenFds();
    const cleanups: Array<() => void> = [];
    const kit = makeKit(loop, backend, cleanups);
    const want = typeof row.want === 'function' ? row.want(backend) : row.want;
    let value: unknown;
    let error: unknown = undefined;
    let threw = false;
    try {
      const out = row.call(kit);
      value = isGenerator(out) ? runGuarded(loop, out, 30) : out;
    } catch (e) {
      threw = true;
      error = e;
    } finally {
      for (const fn of cleanups.reverse()) fn();
    }

    if ('throws' in want) {
      expect(threw, `expected a ${want.throws.name}, got the value ${String(value)}`).toBe(true);
      expect(error).toBeInstanceOf(want.throws);
      if (want.throws === Error) {
        // An errno error is a plain Error carrying code (and errno, syscall from the addon).
        expect(error).not.toBeInstanceOf(TypeError);
        expect(error).not.toBeInstanceOf(RangeError);
      }
      const err = error as NodeJS.ErrnoException;
      if (want.code !== undefined) expect(err.code).toMatch(want.code);
      if (want.name !== undefined) expect(err.name).toBe(want.name);
      if (want.message !== undefined) expect(err.message).toMatch(want.message);
      expect(err.message.length, 'a message that says what went wrong').toBeGreaterThan(3);
    } else {
      if (threw) throw error;
      want.returns(value);
    }

    // The loop keeps working, and the row left nothing behind.
    expect(loop.isClosed()).toBe(false);
    expect(loop.isRunning()).toBe(false);
    expect(runGuarded(loop, smoke(loop), 30)).toBe('ping');
    expect([...loop._selector.getMap().keys()], 'fds left registered').toEqual([]);
    expect(native.countOpenFds(), 'fds left open').toBe(fdsBefore);
  });
});

// The number of rows, for the report (each runs on every backend).
describe('the bad-input table', () => {
  it(`has ${rows.length} rows, each named once`, () => {
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });
});
