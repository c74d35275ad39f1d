// Name resolution that never blocks the loop (asyncio's loop.getaddrinfo).
//
// Numeric addresses go straight through. Names are resolved by dns.lookup in
// a worker thread: while coio's loop waits in its own poller, Node's main
// libuv loop does not run, so a lookup started on this thread would never
// complete. The worker answers on a MessagePort and wakes the loop through
// the loop's ThreadBridge (thread_bridge.ts): it writes to its own dup() of
// the bridge's Waker fd, one per lookup, and closes it.

import { ADDRCONFIG, ALL, V4MAPPED } from 'node:dns';
import { isIP } from 'node:net';
import { MessageChannel, Worker } from 'node:worker_threads';
import { RuntimeError } from './errors.js';
import type { Future } from './futures.js';
import type { AbstractEventLoop } from './events.js';
import { loadedAddonPath, packageRoot } from './native.js';
import { threadBridge } from './thread_bridge.js';
import { AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM, SOCK_STREAM } from './socket.js';
import type { Coroutine, Co } from './coroutines.js';

// One resolved address (what socket(), bind() and connect() take) and the
// options of a lookup are part of the loop's contract: declared in events.ts.
export type { AddrInfo, GetaddrinfoOptions, NameinfoAddress } from './events.js';
import type { AddrInfo, GetaddrinfoOptions, NameinfoAddress } from './events.js';

interface Reply {
  id: number;
  addresses?: Array<{ address: string; family: number }>;
  hostname?: string;
  service?: string;
  error?: { message: string; code?: string; errno?: number; syscall?: string; hostname?: string };
}

// The worker keeps one reply port per resolver (rid): { kind: 'port' } hands
// it over, { kind: 'lookup' } resolves, { kind: 'close' } forgets the port.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { lookup, lookupService } = require('node:dns');
// workerData.addon: the file native.ts loaded the addon from (a source build, a
// prebuild or COIO_ADDON_PATH), so this thread loads the same one.
const native = (() => { const m = { exports: {} }; process.dlopen(m, workerData.addon); return m.exports; })();
const ports = new Map();
// The wake fds of the lookups in flight: each is a dup the loop's thread made
// for this lookup alone, and this thread closes it once the loop is woken.
const wakeFds = new Set();
parentPort.on('message', (msg) => {
  if (msg.kind === 'port') return void ports.set(msg.rid, msg.port);
  if (msg.kind === 'close') { ports.get(msg.rid)?.close(); return void ports.delete(msg.rid); }
  if (msg.kind === 'exit') {
    // Between two callbacks, so no wake fd is half used: close the ones of
    // lookups nobody waits for any more (their loop closed), then end.
    for (const fd of wakeFds) native.close(fd);
    process.exit(0);
  }
  const { rid, id, wakeFd } = msg;
  wakeFds.add(wakeFd);
  const answer = (err, result) => {
    const reply = err
      ? { id, error: { message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, hostname: err.hostname } }
      : { id, ...result };
    ports.get(rid)?.postMessage(reply);
    // false: the loop closed its waker and reads no more replies. Any other
    // failure would leave the loop asleep beside its answer: it is thrown
    // (the thread dies, and its 'error' fails every pending lookup).
    try { native.wakeWrite(wakeFd); } finally { wakeFds.delete(wakeFd); native.close(wakeFd); }
  };
  if (msg.kind === 'service') lookupService(msg.host, msg.port, (err, hostname, service) => answer(err, { hostname, service }));
  else lookup(msg.host, { all: true, family: msg.family, hints: msg.hints }, (err, addresses) => answer(err, { addresses }));
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
  // Asked to exit, not terminate()d: termination can stop the thread
  // between its wakeWrite and its close of that lookup's wake fd (the loop
  // may already have its answer and released the thread), leaking the fd.
  // The 'exit' message is handled between two callbacks instead. Either
  // way the thread, and its own libuv loop's fds (an epoll fd, an eventfd,
  // a pipe pair), go some time later: `ending` tracks that.
  const w = worker;
  const done = new Promise<void>((resolve) => {
    w.once('exit', () => resolve());
  }).finally(() => ending.delete(done));
  ending.add(done);
  // Referenced until it has ended (a few ms), so that awaiting `ending`
  // keeps Node alive for the 'exit' event.
  w.ref();
  w.postMessage({ kind: 'exit' });
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
  private readonly pending = new Map<number, { fut: Future<unknown>; answer: (reply: Reply) => unknown }>();
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

  lookup(host: string, port: number, family: number, type: number, hints: number): Future<AddrInfo[]> {
    return this.ask({ kind: 'lookup', host, family, hints }, (reply) =>
      reply.addresses!.map((a) => ({ family: a.family === 6 ? AF_INET6 : AF_INET, type, host: a.address, port })),
    );
  }

  /** dns.lookupService: the host name and the service name of an address and port. */
  lookupService(host: string, port: number): Future<[string, string]> {
    return this.ask({ kind: 'service', host, port }, (reply) => [reply.hostname!, reply.service!]);
  }

  private ask<T>(message: Record<string, unknown>, answer: (reply: Reply) => T): Future<T> {
    const fut = this.loop.createFuture<T>();
    const id = this.nextId++;
    this.pending.set(id, { fut: fut as Future<unknown>, answer });
    const wakeFd = threadBridge(this.loop).remoteWakeFd();
    worker!.postMessage({ ...message, rid: this.rid, id, wakeFd });
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
    entry.fut.setResult(entry.answer(reply));
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

function resolverOf(loop: AbstractEventLoop): Resolver {
  let resolver = resolvers.get(loop);
  if (resolver === undefined) {
    resolver = new Resolver(loop);
    resolvers.set(loop, resolver);
  }
  return resolver;
}

// Python's socket constants, with this platform's values (Linux, or macOS
// and the BSDs). coio reads the flags itself: AI_ADDRCONFIG, AI_V4MAPPED and
// AI_ALL become dns.lookup's hints (Node's dns.ADDRCONFIG, ... are the C
// library's values); the others are implemented here.
const BSD = process.platform === 'darwin' || process.platform.endsWith('bsd');

/** getaddrinfo flag: a null host means "any address" (0.0.0.0, ::), for binding; without it, the loopback addresses. */
export const AI_PASSIVE = 0x1;
/** getaddrinfo flag: refused (AddrInfo has no canonical name). */
export const AI_CANONNAME = 0x2;
/** getaddrinfo flag: the host must be a numeric address; a name fails with ENOTFOUND (EAI_NONAME) instead of being looked up. */
export const AI_NUMERICHOST = 0x4;
/** getaddrinfo flag: accepted, and changes nothing (the port is always a number here). */
export const AI_NUMERICSERV = BSD ? 0x1000 : 0x400;
/** getaddrinfo flag: only the families this host has an address of (dns.lookup's ADDRCONFIG hint; names only). */
export const AI_ADDRCONFIG: number = ADDRCONFIG;
/** getaddrinfo flag: with family AF_INET6, IPv4 addresses as IPv4-mapped IPv6 ones when there is no IPv6 one. */
export const AI_V4MAPPED: number = V4MAPPED;
/** getaddrinfo flag: with AI_V4MAPPED, the IPv6 and the mapped IPv4 addresses (names only). */
export const AI_ALL: number = ALL;

/** getnameinfo flag: the numeric host, not its name (no lookup of the host). */
export const NI_NUMERICHOST = BSD ? 0x2 : 0x1;
/** getnameinfo flag: the port as a number, not a service name. */
export const NI_NUMERICSERV = BSD ? 0x8 : 0x2;
/** getnameinfo flag: refused (the local domain cannot be told reliably from here). */
export const NI_NOFQDN = BSD ? 0x1 : 0x4;
/** getnameinfo flag: fail (ENOTFOUND, Node's EAI_NONAME) when the host has no name, instead of answering the numeric host. */
export const NI_NAMEREQD = BSD ? 0x4 : 0x8;
/** getnameinfo flag: the service of a datagram port; accepted only with NI_NUMERICSERV (dns.lookupService names TCP services). */
export const NI_DGRAM = 0x10;

/** The protocol numbers getaddrinfo's proto takes (Python's socket.IPPROTO_TCP, IPPROTO_UDP). */
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

const AI_KNOWN = AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_NUMERICSERV | AI_ADDRCONFIG | AI_V4MAPPED | AI_ALL;
const NI_KNOWN = NI_NUMERICHOST | NI_NUMERICSERV | NI_NOFQDN | NI_NAMEREQD | NI_DGRAM;

function gaiError(code: string, message: string, syscall: string, hostname?: string): Error {
  const err = new Error(`${syscall} ${code} ${message}`) as NodeJS.ErrnoException & { hostname?: string };
  err.code = code;
  err.syscall = syscall;
  if (hostname !== undefined) err.hostname = hostname;
  return err;
}

function checkFlags(flags: unknown, known: number, what: string): number {
  if (typeof flags !== 'number' || !Number.isInteger(flags)) throw new TypeError(`${what}: flags must be an integer (a combination of the ${what === 'getnameinfo' ? 'NI_' : 'AI_'}* constants), got ${String(flags)}`);
  if ((flags & ~known) !== 0 || flags < 0) throw new RangeError(`${what}: unknown flags 0x${(flags & ~known).toString(16)} in ${flags}`);
  return flags;
}

/**
 * Check getaddrinfo's flags and proto (asyncio's getaddrinfo keywords):
 * returns the dns.lookup hints they carry.
 * @throws TypeError / RangeError for bad values, AI_CANONNAME, or a proto
 *   that does not go with the socket type.
 */
export function checkAddrinfoOptions(options: GetaddrinfoOptions, where = 'getaddrinfo'): { flags: number; hints: number } {
  const flags = checkFlags(options.flags ?? 0, AI_KNOWN, where);
  if ((flags & AI_CANONNAME) !== 0) throw new RangeError(`${where}: AI_CANONNAME is not supported (an AddrInfo carries no canonical name)`);
  const proto = options.proto ?? 0;
  if (typeof proto !== 'number' || !Number.isInteger(proto)) throw new TypeError(`${where}: proto must be an integer (0, IPPROTO_TCP or IPPROTO_UDP), got ${String(proto)}`);
  const type = options.type ?? SOCK_STREAM;
  if (proto !== 0 && !(proto === IPPROTO_TCP && type === SOCK_STREAM) && !(proto === IPPROTO_UDP && type === SOCK_DGRAM)) {
    const err = new RangeError(`${where}: proto ${proto} does not go with socket type ${type} (0, IPPROTO_TCP with SOCK_STREAM, IPPROTO_UDP with SOCK_DGRAM)`);
    (err as RangeError & { code: string }).code = 'EAI_SOCKTYPE';
    throw err;
  }
  return { flags, hints: flags & (AI_ADDRCONFIG | AI_V4MAPPED | AI_ALL) };
}

/**
 * Resolve host and port to addresses, without blocking the loop.
 * A numeric host (or '' / null: the loopback addresses, or with AI_PASSIVE
 * "any address") answers at once. options.flags: the AI_* constants;
 * options.proto: 0, IPPROTO_TCP or IPPROTO_UDP (checked against the type).
 * @throws RuntimeError if the loop is closed (numeric hosts too, as asyncio);
 *   ENOTFOUND (EAI_NONAME) for a name with AI_NUMERICHOST; see checkAddrinfoOptions.
 */
export function getaddrinfo(loop: AbstractEventLoop, host: string | null | undefined, port: number, options?: GetaddrinfoOptions): Co<AddrInfo[]>;
export function* getaddrinfo(loop: AbstractEventLoop, host: string | null | undefined, port: number, options: GetaddrinfoOptions = {}): Coroutine<AddrInfo[]> {
  // Before anything starts: a Resolver would start (and keep) the worker
  // thread before threadBridge(loop) refused the closed loop.
  if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
  const family = options.family ?? 0;
  const type = options.type ?? SOCK_STREAM;
  if (family === AF_UNIX) throw new RangeError('getaddrinfo does not resolve Unix paths');
  const { flags, hints } = checkAddrinfoOptions(options);
  const numeric = numericInfos(host, port, family, type, flags);
  if (numeric !== null) return numeric;
  // ENOTFOUND: Node's spelling of EAI_NONAME, as dns.lookup reports it.
  if ((flags & AI_NUMERICHOST) !== 0) throw gaiError('ENOTFOUND', `${host}: a name, and AI_NUMERICHOST forbids looking it up`, 'getaddrinfo', host!);
  const infos = yield* resolverOf(loop).lookup(host!, port, family === AF_INET6 ? 6 : family === AF_INET ? 4 : 0, type, hints);
  return infos;
}

/**
 * The host name and service of a socket address (asyncio's
 * loop.getnameinfo(sockaddr, flags)): [host, service], the service a name
 * ('http') or the port as a string. Looked up in the resolver thread with
 * dns.lookupService, except what the flags make numeric.
 * sockaddr: [host, port] (Python's tuple; [host, port, flowinfo, scopeId]
 * for IPv6 is accepted) or an InetAddress ({ address, port }); the host
 * must be numeric. Flags: NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD;
 * NI_DGRAM only with NI_NUMERICSERV; NI_NOFQDN refused.
 * Without NI_NAMEREQD, a host with no name answers its numeric form and
 * the port as a string (Node's lookupService fails as a whole then).
 * @throws TypeError / RangeError for a bad sockaddr or flags; ENOTFOUND
 *   (EAI_NONAME) when NI_NAMEREQD is set and the host has no name;
 *   RuntimeError if the loop is closed.
 */
export function getnameinfo(loop: AbstractEventLoop, sockaddr: NameinfoAddress, flags?: number): Co<[string, string]>;
export function* getnameinfo(loop: AbstractEventLoop, sockaddr: NameinfoAddress, flags: number = 0): Coroutine<[string, string]> {
  if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
  checkFlags(flags, NI_KNOWN, 'getnameinfo');
  if ((flags & NI_NOFQDN) !== 0) throw new RangeError('getnameinfo: NI_NOFQDN is not supported (which names are in the local domain is the C library\'s knowledge)');
  if ((flags & NI_DGRAM) !== 0 && (flags & NI_NUMERICSERV) === 0) throw new RangeError('getnameinfo: NI_DGRAM needs NI_NUMERICSERV here (dns.lookupService names TCP services only)');
  let host: unknown;
  let port: unknown;
  if (Array.isArray(sockaddr)) [host, port] = sockaddr as unknown[];
  else if (typeof sockaddr === 'object' && sockaddr !== null) ({ address: host, port } = sockaddr as { address?: unknown; port?: unknown });
  else throw new TypeError(`getnameinfo: sockaddr must be [host, port] or { address, port }, got ${String(sockaddr)}`);
  if (typeof host !== 'string' || isIP(host.split('%')[0]!) === 0) throw new TypeError(`getnameinfo: the host must be a numeric address, got ${JSON.stringify(host)}`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`getnameinfo: the port must be an integer 0..65535, got ${String(port)}`);
  const numericHost = (flags & NI_NUMERICHOST) !== 0;
  const numericServ = (flags & NI_NUMERICSERV) !== 0;
  if (numericHost && numericServ) return [host, String(port)];
  let name: string;
  let service: string;
  try {
    [name, service] = yield* resolverOf(loop).lookupService(host, port);
  } catch (exc) {
    // Node asks for a name (NI_NAMEREQD): without one, the C library's
    // getnameinfo answers the numeric host, and so does this, unless the
    // caller asked for a name too.
    const code = (exc as { code?: unknown }).code;
    if ((flags & NI_NAMEREQD) !== 0 || (code !== 'ENOTFOUND' && code !== 'EAI_NONAME')) throw exc;
    name = host;
    service = String(port);
  }
  return [numericHost ? host : name, numericServ ? String(port) : service];
}

/** The answer for a numeric or empty host, or null when it is a name to resolve. */
export function numericInfos(host: string | null | undefined, port: number, family: number, type: number, flags = AI_PASSIVE): AddrInfo[] | null {
  if (host === null || host === undefined || host === '') {
    const infos: AddrInfo[] = [];
    if ((flags & AI_PASSIVE) !== 0) {
      // "Any address", for binding: both families.
      if (family !== AF_INET6) infos.push({ family: AF_INET, type, host: '0.0.0.0', port });
      if (family !== AF_INET) infos.push({ family: AF_INET6, type, host: '::', port });
    } else {
      // The C library's answer without AI_PASSIVE: the loopback addresses, IPv6 first.
      if (family !== AF_INET) infos.push({ family: AF_INET6, type, host: '::1', port });
      if (family !== AF_INET6) infos.push({ family: AF_INET, type, host: '127.0.0.1', port });
    }
    return infos;
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const v = isIP(bare.split('%')[0]!);
  if (v === 0) return null;
  const fam = v === 6 ? AF_INET6 : AF_INET;
  // AI_V4MAPPED: an IPv4 address asked for as IPv6 comes back mapped.
  if (fam === AF_INET && family === AF_INET6 && (flags & AI_V4MAPPED) !== 0) return [{ family: AF_INET6, type, host: `::ffff:${bare}`, port }];
  if (family !== 0 && family !== fam) {
    const err = new Error(`getaddrinfo EAI_ADDRFAMILY ${host}`) as NodeJS.ErrnoException;
    err.code = 'EAI_ADDRFAMILY';
    err.syscall = 'getaddrinfo';
    throw err;
  }
  return [{ family: fam, type, host: bare, port }];
}
