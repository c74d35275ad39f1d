// Name resolution that never blocks the loop (asyncio's loop.getaddrinfo).
//
// Numeric addresses go straight through. Names are resolved by dns.lookup in
// a worker thread: while coio's loop waits in its own poller, Node's main
// libuv loop does not run, so a lookup started on this thread would never
// complete. The worker answers on a MessagePort and wakes the loop through
// the loop's ThreadBridge (thread_bridge.ts): it writes to its own dup() of
// the bridge's Waker fd, one per lookup, and closes it.

import { isIP } from 'node:net';
import { MessageChannel, Worker } from 'node:worker_threads';
import { RuntimeError } from './errors.js';
import type { Future } from './futures.js';
import type { AbstractEventLoop } from './events.js';
import { loadedAddonPath, packageRoot } from './native.js';
import { threadBridge } from './thread_bridge.js';
import { AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM } from './socket.js';
import type { Coroutine, Co } from './coroutines.js';

// One resolved address (what socket(), bind() and connect() take) and the
// options of a lookup are part of the loop's contract: declared in events.ts.
export type { AddrInfo, GetaddrinfoOptions } from './events.js';
import type { AddrInfo, GetaddrinfoOptions } from './events.js';

interface Reply {
  id: number;
  addresses?: Array<{ address: string; family: number }>;
  error?: { message: string; code?: string; errno?: number; syscall?: string; hostname?: string };
}

// The worker keeps one reply port per resolver (rid): { kind: 'port' } hands
// it over, { kind: 'lookup' } resolves, { kind: 'close' } forgets the port.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { lookup } = require('node:dns');
// workerData.addon: the file native.ts loaded the addon from (a source build, a
// prebuild or COIO_ADDON_PATH), so this thread loads the same one.
const native = (() => { const m = { exports: {} }; process.dlopen(m, workerData.addon); return m.exports; })();
const ports = new Map();
parentPort.on('message', (msg) => {
  if (msg.kind === 'port') return void ports.set(msg.rid, msg.port);
  if (msg.kind === 'close') { ports.get(msg.rid)?.close(); return void ports.delete(msg.rid); }
  const { rid, id, host, family, wakeFd } = msg;
  lookup(host, { all: true, family }, (err, addresses) => {
    const reply = err
      ? { id, error: { message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, hostname: err.hostname } }
      : { id, addresses };
    ports.get(rid)?.postMessage(reply);
    // false: the loop closed its waker and reads no more replies. Any other
    // failure would leave the loop asleep beside its answer: it is thrown
    // (the thread dies, and its 'error' fails every pending lookup).
    try { native.wakeWrite(wakeFd); } finally { native.close(wakeFd); }
  });
});
`;

let worker: Worker | undefined;
let workerUsers = 0;
let nextResolverId = 1;

/** Resolvers with lookups in flight (the ones a dying worker must fail). */
const live = new Set<Resolver>();

function acquireWorker(): Worker {
  if (worker === undefined) {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { root: packageRoot(), addon: loadedAddonPath } });
    // The worker must never keep the process alive on its own.
    w.unref();
    // A worker that ends while in use (it failed to start, or could not
    // wake a loop) answers none of its lookups: they fail with its error,
    // and the next lookup starts a new worker. Node reports this on its own
    // event loop: at once in guest mode, else once coio's loop stops waiting.
    let cause: Error | undefined;
    w.on('error', (err) => {
      cause = err;
    });
    w.once('exit', (code) => {
      if (worker !== w) return; // released: terminated on purpose
      worker = undefined;
      workerUsers = 0;
      const err = new RuntimeError(`the name resolution thread ended (exit code ${code})${cause === undefined ? '' : `: ${cause.message}`}`, { cause });
      for (const resolver of [...live]) resolver.abandon(err);
    });
    worker = w;
  }
  workerUsers++;
  return worker;
}

/** Workers told to stop that have not ended yet (a thread's fds are freed only when it ends). */
const ending = new Set<Promise<unknown>>();

function releaseWorker(): void {
  if (--workerUsers > 0 || worker === undefined) return;
  // terminate() only asks: the thread, and its own libuv loop's fds
  // (an epoll fd, an eventfd, a pipe pair), go some time later.
  const done = worker.terminate().finally(() => ending.delete(done));
  ending.add(done);
  worker = undefined;
}

/**
 * Resolves once every resolution thread released so far has ended. For
 * leak checks (the test suite counts fds per file): an idle resolver
 * stops its thread, but the thread ends asynchronously.
 * @internal
 */
export async function _resolverThreadsEnded(): Promise<void> {
  while (ending.size > 0) await Promise.allSettled([...ending]);
}

/** One per loop while it has lookups in flight. */
class Resolver {
  private readonly channel = new MessageChannel();
  private readonly pending = new Map<number, { fut: Future<AddrInfo[]>; port: number; type: number }>();
  private nextId = 1;
  private readonly rid = nextResolverId++;
  private readonly unwatch: () => void;

  constructor(private readonly loop: AbstractEventLoop) {
    // Watch first: if that fails (out of fds for the loop's wake-up pipe),
    // no worker was started or counted, and the channel is closed.
    try {
      this.unwatch = threadBridge(loop).watch(this.channel.port1, this.onReply);
    } catch (err) {
      this.channel.port1.close();
      this.channel.port2.close();
      throw err;
    }
    acquireWorker().postMessage({ kind: 'port', rid: this.rid, port: this.channel.port2 }, [this.channel.port2]);
    live.add(this);
  }

  lookup(host: string, port: number, family: number, type: number): Future<AddrInfo[]> {
    const fut = this.loop.createFuture<AddrInfo[]>();
    const id = this.nextId++;
    this.pending.set(id, { fut, port, type });
    const wakeFd = threadBridge(this.loop).remoteWakeFd();
    worker!.postMessage({ kind: 'lookup', rid: this.rid, id, host, family, wakeFd });
    return fut;
  }

  private readonly onReply = (message: unknown): void => {
    this.settle(message as Reply);
    if (this.pending.size === 0) this.close();
  };

  private settle(reply: Reply): void {
    const entry = this.pending.get(reply.id);
    if (entry === undefined) return;
    this.pending.delete(reply.id);
    if (entry.fut.done()) return;
    if (reply.error !== undefined) {
      entry.fut.setException(Object.assign(new Error(reply.error.message), reply.error));
      return;
    }
    const infos = reply.addresses!.map((a) => ({ family: a.family === 6 ? AF_INET6 : AF_INET, type: entry.type, host: a.address, port: entry.port }));
    entry.fut.setResult(infos);
  }

  close(): void {
    live.delete(this);
    resolvers.delete(this.loop);
    this.unwatch(); // closes port1
    worker?.postMessage({ kind: 'close', rid: this.rid });
    releaseWorker();
  }

  /** The worker ended: fail every lookup in flight and forget this resolver (the worker is gone already). */
  abandon(err: Error): void {
    live.delete(this);
    resolvers.delete(this.loop);
    this.unwatch();
    const pending = [...this.pending.values()];
    this.pending.clear();
    if (this.loop.isClosed()) return;
    for (const { fut } of pending) if (!fut.done()) fut.setException(err);
  }
}

const resolvers = new WeakMap<AbstractEventLoop, Resolver>();

/**
 * Resolve host and port to addresses, without blocking the loop.
 * A numeric host (or '' / null for "any address") answers at once.
 * @throws RuntimeError if the loop is closed (numeric hosts too, as asyncio).
 */
export function getaddrinfo(loop: AbstractEventLoop, host: string | null | undefined, port: number, options?: GetaddrinfoOptions): Co<AddrInfo[]>;
export function* getaddrinfo(loop: AbstractEventLoop, host: string | null | undefined, port: number, options: GetaddrinfoOptions = {}): Coroutine<AddrInfo[]> {
  // Before anything starts: a Resolver would start (and keep) the worker
  // thread before threadBridge(loop) refused the closed loop.
  if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
  const family = options.family ?? 0;
  const type = options.type ?? SOCK_STREAM;
  if (family === AF_UNIX) throw new RangeError('getaddrinfo does not resolve Unix paths');
  const numeric = numericInfos(host, port, family, type);
  if (numeric !== null) return numeric;
  let resolver = resolvers.get(loop);
  if (resolver === undefined) {
    resolver = new Resolver(loop);
    resolvers.set(loop, resolver);
  }
  const infos = yield* resolver.lookup(host!, port, family === AF_INET6 ? 6 : family === AF_INET ? 4 : 0, type);
  return infos;
}

/** The answer for a numeric or empty host, or null when it is a name to resolve. */
export function numericInfos(host: string | null | undefined, port: number, family: number, type: number): AddrInfo[] | null {
  if (host === null || host === undefined || host === '') {
    // "Any address", as asyncio does for host=None: both families.
    const infos: AddrInfo[] = [];
    if (family !== AF_INET6) infos.push({ family: AF_INET, type, host: '0.0.0.0', port });
    if (family !== AF_INET) infos.push({ family: AF_INET6, type, host: '::', port });
    return infos;
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const v = isIP(bare.split('%')[0]!);
  if (v === 0) return null;
  const fam = v === 6 ? AF_INET6 : AF_INET;
  if (family !== 0 && family !== fam) {
    const err = new Error(`getaddrinfo EAI_ADDRFAMILY ${host}`) as NodeJS.ErrnoException;
    err.code = 'EAI_ADDRFAMILY';
    err.syscall = 'getaddrinfo';
    throw err;
  }
  return [{ family: fam, type, host: bare, port }];
}
