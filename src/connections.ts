// Making servers and connections (asyncio's loop.create_server,
// create_connection, create_unix_server, create_unix_connection).

import { checkFunction, checkHostPort } from './arg_checks.js';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import type { AbstractEventLoop, CreateConnectionOptions, CreateServerOptions, CreateUnixConnectionOptions, CreateUnixServerOptions, KeepAliveOption, TlsOptions } from './events.js';
import type { BaseProtocol } from './protocols.js';
import { CancelledError, ExceptionGroup } from './errors.js';
import { AI_PASSIVE, checkAddrinfoOptions, getaddrinfo } from './resolver.js';
import type { AddrInfo } from './resolver.js';
import { Server } from './server.js';
import type { ServerOptions } from './server.js';
import type { InetAddress, UnixAddress } from './native.js';
import { sockConnect } from './sock_ops.js';
import { AF_INET6, AF_UNIX, SOCK_STREAM, Socket, adoptSocket } from './socket.js';
import type { SocketOptionName } from './socket.js';
import { newSocketTransport } from './proactor_transport.js';
import { SSLProtocol, resolveTls } from './sslproto.js';
import { staggeredRace } from './staggered.js';
import type { TlsSetup } from './sslproto.js';
import type { Transport } from './transports.js';
import type { Coroutine, Co } from './coroutines.js';

export type { CreateConnectionOptions, CreateServerOptions, CreateUnixConnectionOptions, CreateUnixServerOptions, KeepAliveOption };

/**
 * A connected socket becomes a transport: wait for connectionMade (with
 * `tls`, after the TLS handshake), return both.
 */
export function connectTransport<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  sock: Socket,
  protocolFactory: () => P,
  tls?: TlsSetup | null,
  serverSide?: boolean,
): Co<[Transport, P]>;
export function* connectTransport<P extends BaseProtocol>(loop: AbstractEventLoop, sock: Socket, protocolFactory: () => P, tls: TlsSetup | null = null, serverSide = false): Coroutine<[Transport, P]> {
  let protocol: P;
  let transport: Transport;
  let ssl: SSLProtocol | null = null;
  const waiter = loop.createFuture<null>();
  try {
    protocol = protocolFactory();
    if (tls === null) {
      transport = newSocketTransport(loop, sock, protocol, waiter);
    } else {
      ssl = new SSLProtocol(loop, protocol, tls.context, waiter as never, serverSide, serverSide ? null : tls.serverHostname, tls.handshakeTimeout, tls.shutdownTimeout);
      transport = newSocketTransport(loop, sock, ssl);
    }
  } catch (err) {
    // The socket is ours until a transport owns it: a factory that throws (or
    // a closed loop refusing the transport's first callback) must not leak it
    // (found by test/bad_input.test.ts).
    sock.close();
    throw err;
  }
  try {
    yield* waiter;
  } catch (err) {
    transport.abort();
    throw err;
  }
  return [ssl === null ? transport : ssl._appTransport, protocol];
}

/** With TLS, each connection's protocol is an SSLProtocol over the app's. */
function tlsFactory(loop: AbstractEventLoop, protocolFactory: () => BaseProtocol, tls: TlsSetup | null): () => BaseProtocol {
  if (tls === null) return protocolFactory;
  return () => new SSLProtocol(loop, protocolFactory(), tls.context, null, true, null, tls.handshakeTimeout, tls.shutdownTimeout);
}

/**
 * Turn TCP keep-alive on (SO_KEEPALIVE), with its timing if given.
 * @throws TypeError / RangeError for a bad option; ENOPROTOOPT where the OS lacks a timing option.
 */
export function applyKeepAlive(sock: Socket, option: KeepAliveOption | undefined): void {
  const timing = keepAliveTiming(option);
  if (timing === null || sock.family === AF_UNIX) return;
  sock.setsockopt('SO_KEEPALIVE', true);
  for (const [name, v] of timing) if (v !== undefined) sock.setsockopt(name, v);
}

/** The socket options of a keepAlive option (null: off), checked. */
function keepAliveTiming(option: KeepAliveOption | undefined): Array<[SocketOptionName, number | undefined]> | null {
  if (option === undefined || option === false) return null;
  if (option !== true && (option === null || typeof option !== 'object')) throw new TypeError(`keepAlive must be a boolean or { idle, interval, count }, got ${String(option)}`);
  const timing: Array<[SocketOptionName, number | undefined]> = option === true ? [] : [['TCP_KEEPIDLE', option.idle], ['TCP_KEEPINTVL', option.interval], ['TCP_KEEPCNT', option.count]];
  for (const [, v] of timing) if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new RangeError(`keepAlive timing must be integers >= 1, got ${String(v)}`);
  return timing;
}

function enableNoDelay(sock: Socket): void {
  // asyncio turns Nagle off for every TCP transport: request/response
  // protocols otherwise wait ~40 ms for delayed ACKs.
  if (sock.family !== AF_UNIX) sock.setsockopt('TCP_NODELAY', true);
}

/** Open a TCP connection to host:port (names resolved off the loop) and wrap it in a transport. */
export function createConnection<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  host: string | null | undefined,
  port: number | null | undefined,
  options?: CreateConnectionOptions,
): Co<[Transport, P]>;
export function* createConnection<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  host: string | null | undefined,
  port: number | null | undefined,
  options: CreateConnectionOptions = {},
): Coroutine<[Transport, P]> {
  checkFunction('protocolFactory', protocolFactory);
  if (options.sock !== undefined) {
    if (host != null || port != null) throw new RangeError('createConnection: host/port and sock can not be specified at the same time');
    const tls = resolveTls(options, false, null);
    const sock = adoptSocket(options.sock, SOCK_STREAM, 'createConnection');
    configureClient(sock, options.keepAlive);
    return yield* connectTransport(loop, sock, protocolFactory, tls);
  }
  if (host == null || port == null) throw new RangeError('createConnection: host and port, or sock, are required');
  checkHostPort(host, port, false);
  keepAliveTiming(options.keepAlive); // bad input fails before any connect
  const tls = resolveTls(options, false, host);
  const delay = options.happyEyeballsDelay ?? null;
  if (delay !== null && (typeof delay !== 'number' || Number.isNaN(delay) || delay < 0)) {
    throw new RangeError(`happyEyeballsDelay must be a number of seconds >= 0 or null, got ${String(delay)}`);
  }
  // As asyncio: a delay alone interleaves the families, one address of the first then one of the other.
  const interleave = options.interleave ?? (delay !== null ? 1 : 0);
  if (!Number.isInteger(interleave) || interleave < 0) throw new RangeError(`interleave must be an integer >= 0, got ${String(interleave)}`);
  const family = options.family ?? 0;
  const flags = options.flags ?? 0;
  const proto = options.proto ?? 0;
  checkAddrinfoOptions({ type: SOCK_STREAM, flags, proto }, 'createConnection');
  // Through the loop's method, as asyncio: a loop subclass (or a test) may answer differently.
  let infos = yield* loop.getaddrinfo(host, port, { family, type: SOCK_STREAM, flags, proto });
  if (infos.length === 0) throw new Error(`getaddrinfo() returned an empty list for ${host}`);
  let localInfos: AddrInfo[] | null = null;
  if (options.localAddr !== undefined) {
    const [lhost, lport] = options.localAddr;
    localInfos = yield* loop.getaddrinfo(lhost, lport, { family, type: SOCK_STREAM, flags: flags | AI_PASSIVE, proto });
    if (localInfos.length === 0) throw new Error(`getaddrinfo() returned an empty list for ${lhost}`);
  }
  if (interleave > 0) infos = interleaveAddrinfos(infos, interleave);

  // Each attempt's errors (a failed bind per local address, then the connect's).
  const errors: Error[][] = infos.map(() => []);
  let sock: Socket | null;
  if (delay === null) {
    sock = null;
    for (let i = 0; i < infos.length && sock === null; i++) {
      try {
        sock = yield* connectSock(loop, infos[i]!, localInfos, errors[i]!);
      } catch (err) {
        // Only a connect error moves on to the next address: a cancellation
        // (or anything that is not an OS error) ends the whole call.
        if (errors[i]!.length === 0 || errors[i]![errors[i]!.length - 1] !== err) throw err;
      }
    }
  } else {
    const attempts = infos.map((info, i) => () => connectSock(loop, info, localInfos, errors[i]!));
    const [winner, , raceErrors] = yield* staggeredRace(loop, attempts, delay, (late) => late.close());
    sock = winner;
    // An attempt that failed with something else than a connect error (bad input): that.
    const recorded = new Set<unknown>(errors.flat());
    const odd = raceErrors.find((e) => e !== null && !recorded.has(e));
    if (sock === null && odd !== undefined) throw odd;
  }
  if (sock === null) throw connectionError(errors.flat(), options.allErrors === true);
  configureClient(sock, options.keepAlive);
  return yield* connectTransport(loop, sock, protocolFactory, tls);
}

/** TCP_NODELAY and the keep-alive options on a client socket; a socket that refuses them is closed. */
function configureClient(sock: Socket, keepAlive: KeepAliveOption | undefined): void {
  try {
    enableNoDelay(sock);
    applyKeepAlive(sock, keepAlive);
  } catch (err) {
    sock.close();
    throw err;
  }
}

/**
 * One attempt: a socket of info's family, bound to the first local address of
 * that family that binds, connected to info. Its errors are recorded in
 * `errors` (and the last one thrown); the socket is closed on any failure,
 * cancellation included.
 */
function* connectSock(loop: AbstractEventLoop, info: AddrInfo, localInfos: readonly AddrInfo[] | null, errors: Error[]): Coroutine<Socket> {
  const sock = new Socket(info.family, SOCK_STREAM);
  try {
    if (localInfos !== null) {
      let bound = false;
      for (const local of localInfos) {
        if (local.family !== info.family) continue;
        try {
          sock.bind([local.host, local.port]);
          bound = true;
          break;
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          // Bad input (a RangeError for port -1) is not an address to skip.
          if (e.code === undefined) throw err;
          errors.push(Object.assign(new Error(`error while attempting to bind on address ${formatAddress(local.host, local.port)}: ${e.message}`), { code: e.code, errno: e.errno, syscall: e.syscall }));
        }
      }
      if (!bound) {
        const msg = errors.length > 0 ? errors[errors.length - 1]!.message : `no matching local address with family=${info.family} found`;
        const err = Object.assign(new Error(msg), { code: errors.length > 0 ? (errors[errors.length - 1] as NodeJS.ErrnoException).code : 'EADDRNOTAVAIL' });
        errors.push(err);
        throw err;
      }
    }
    try {
      yield* sockConnect(loop, sock, [info.host, info.port]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== undefined && !(err instanceof CancelledError)) errors.push(err as Error);
      throw err;
    }
    return sock;
  } catch (err) {
    sock.close();
    throw err;
  }
}

/** When no attempt connected: with allErrors an ExceptionGroup of all; else the one error, or one error naming them all. */
function connectionError(errors: Error[], allErrors: boolean): Error {
  if (allErrors) return new ExceptionGroup('createConnection failed', errors);
  if (errors.length === 1) return errors[0]!;
  // The same message from every address (ECONNREFUSED everywhere): that error, as asyncio.
  if (errors.every((e) => e.message === errors[0]!.message)) return errors[0]!;
  return Object.assign(new AggregateError(errors, `Multiple exceptions: ${errors.map((e) => e.message).join('; ')}`), {
    code: (errors[0] as NodeJS.ErrnoException).code,
  });
}

/**
 * Reorder addresses as RFC 8305 asks: `firstFamilyCount` of the first
 * family, then one of each family in turn (asyncio's _interleave_addrinfos).
 */
export function interleaveAddrinfos(infos: readonly AddrInfo[], firstFamilyCount = 1): AddrInfo[] {
  const byFamily = new Map<number, AddrInfo[]>();
  for (const info of infos) {
    let list = byFamily.get(info.family);
    if (list === undefined) byFamily.set(info.family, (list = []));
    list.push(info);
  }
  const lists = [...byFamily.values()];
  const out: AddrInfo[] = [];
  if (firstFamilyCount > 1) out.push(...lists[0]!.splice(0, firstFamilyCount - 1));
  const longest = Math.max(...lists.map((l) => l.length));
  for (let i = 0; i < longest; i++) for (const l of lists) if (i < l.length) out.push(l[i]!);
  return out;
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Listen on host:port (every address host resolves to; all interfaces for '' / null). */
export function createServer(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  host: string | readonly string[] | null | undefined,
  port: number | null | undefined,
  options?: CreateServerOptions,
): Co<Server<InetAddress>>;
export function* createServer(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  host: string | readonly string[] | null | undefined,
  port: number | null | undefined,
  options: CreateServerOptions = {},
): Coroutine<Server> {
  checkFunction('protocolFactory', protocolFactory);
  const backlog = options.backlog ?? 100;
  const factory = tlsFactory(loop, protocolFactory, resolveTls(options, true, null));
  keepAliveTiming(options.keepAlive); // bad input fails now, not at each accept
  if (options.sock !== undefined) {
    if (host != null || port != null) throw new RangeError('createServer: host/port and sock can not be specified at the same time');
    return listenOn(loop, adoptSocket(options.sock, SOCK_STREAM, 'createServer'), factory, backlog, options.startServing ?? true, options.keepAlive);
  }
  if (port == null) throw new RangeError('createServer: a port (0 for any), or sock, is required');
  // A list of hosts (asyncio's sequence): every address of each, in order.
  const hosts: ReadonlyArray<string | null | undefined> = Array.isArray(host) ? host : [host as string | null | undefined];
  if (hosts.length === 0) throw new RangeError('createServer: an empty list of hosts');
  for (const h of hosts) checkHostPort(h, port, !Array.isArray(host));
  const gai = { family: options.family ?? 0, type: SOCK_STREAM, flags: options.flags ?? AI_PASSIVE, proto: options.proto ?? 0 };
  checkAddrinfoOptions(gai, 'createServer');
  const resolved: AddrInfo[] = [];
  for (const h of hosts) {
    resolved.push(...(yield* getaddrinfo(loop, h, port, gai)));
  }
  const infos = dedupe(resolved);
  const sockets: Socket[] = [];
  // Port 0 on several addresses: every socket gets the port the first one got.
  let chosenPort = port;
  try {
    for (const info of infos) {
      let sock: Socket;
      try {
        sock = new Socket(info.family, SOCK_STREAM);
      } catch (err) {
        // No IPv6 on this host: skip that family when binding everything.
        if ((err as NodeJS.ErrnoException).code === 'EAFNOSUPPORT' && infos.length > 1) continue;
        throw err;
      }
      sockets.push(sock);
      if (options.reuseAddress ?? true) sock.setsockopt('SO_REUSEADDR', true);
      if (options.reusePort) sock.setsockopt('SO_REUSEPORT', true);
      // With both families bound to the same port, :: must not claim IPv4 too.
      if (info.family === AF_INET6) sock.setsockopt('IPV6_V6ONLY', true);
      sock.bind([info.host, chosenPort]);
      if (chosenPort === 0) chosenPort = (sock.getsockname() as { port: number }).port;
      sock.listen(backlog);
    }
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return serve(loop, sockets, factory, backlog, options.startServing ?? true, options.keepAlive);
}

/** Listen on a Unix socket path; a stale socket file left by a dead server is removed first. */
export function createUnixServer(loop: AbstractEventLoop, protocolFactory: () => BaseProtocol, path: string | null | undefined, options?: CreateUnixServerOptions): Co<Server<UnixAddress>>;
export function* createUnixServer(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  path: string | null | undefined,
  options: CreateUnixServerOptions = {},
): Coroutine<Server> {
  const backlog = options.backlog ?? 100;
  const factory = tlsFactory(loop, protocolFactory, resolveTls(options, true, null));
  if (options.sock !== undefined) {
    if (path != null) throw new RangeError('createUnixServer: path and sock can not be specified at the same time');
    const sock = adoptSocket(options.sock, SOCK_STREAM, 'createUnixServer', AF_UNIX);
    return listenOn(loop, sock, factory, backlog, options.startServing ?? true, undefined, socketFileOf(sock, options));
  }
  if (path == null) throw new RangeError('createUnixServer: a path or sock is required');
  if (!path.startsWith('\0') && existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  const sock = new Socket(AF_UNIX, SOCK_STREAM);
  try {
    sock.bind(path);
    sock.listen(backlog);
  } catch (err) {
    sock.close();
    throw err;
  }
  return serve(loop, [sock], factory, backlog, options.startServing ?? true, undefined, socketFileOf(sock, options));
}

/** The socket file a Unix server removes at close (cleanupSocket), as it is right after bind. */
function socketFileOf(sock: Socket, options: CreateUnixServerOptions): NonNullable<ServerOptions['unlinkAtClose']> {
  if (options.cleanupSocket === false) return [];
  const addr = sock.getsockname();
  if (!('path' in addr) || addr.path === '' || addr.path.startsWith('\0')) return [];
  try {
    const st = lstatSync(addr.path);
    return st.isSocket() ? [{ path: addr.path, dev: st.dev, ino: st.ino }] : [];
  } catch {
    return [];
  }
}

/** Connect to a Unix socket path and wrap it in a transport. */
export function createUnixConnection<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  path: string | null | undefined,
  options?: CreateUnixConnectionOptions,
): Co<[Transport, P]>;
export function* createUnixConnection<P extends BaseProtocol>(loop: AbstractEventLoop, protocolFactory: () => P, path: string | null | undefined, options: CreateUnixConnectionOptions = {}): Coroutine<[Transport, P]> {
  const tls = resolveTls(options, false, null);
  if (options.sock !== undefined) {
    if (path != null) throw new RangeError('createUnixConnection: path and sock can not be specified at the same time');
    return yield* connectTransport(loop, adoptSocket(options.sock, SOCK_STREAM, 'createUnixConnection', AF_UNIX), protocolFactory, tls);
  }
  if (path == null) throw new RangeError('createUnixConnection: a path or sock is required');
  const sock = new Socket(AF_UNIX, SOCK_STREAM);
  try {
    yield* sockConnect(loop, sock, path);
  } catch (err) {
    sock.close();
    throw err;
  }
  return yield* connectTransport(loop, sock, protocolFactory, tls);
}

/** A given socket listens (again: listen() on a listening socket only sets the backlog, as asyncio's start_serving does) and is served. */
function listenOn(
  loop: AbstractEventLoop,
  sock: Socket,
  factory: () => BaseProtocol,
  backlog: number,
  start: boolean,
  keepAlive?: KeepAliveOption,
  unlinkAtClose?: ServerOptions['unlinkAtClose'],
): Server {
  try {
    sock.listen(backlog);
  } catch (err) {
    sock.close();
    throw err;
  }
  return serve(loop, [sock], factory, backlog, start, keepAlive, unlinkAtClose);
}

/**
 * An accepted connection (from a listening socket of your own) becomes a
 * transport, with TLS on the server side if `ssl` is given (asyncio's
 * loop.connect_accepted_socket).
 */
export function connectAcceptedSocket<P extends BaseProtocol>(loop: AbstractEventLoop, protocolFactory: () => P, sock: Socket | number, options?: TlsOptions): Co<[Transport, P]>;
export function* connectAcceptedSocket<P extends BaseProtocol>(loop: AbstractEventLoop, protocolFactory: () => P, sock: Socket | number, options: TlsOptions = {}): Coroutine<[Transport, P]> {
  const tls = resolveTls(options, true, null);
  const s = adoptSocket(sock, SOCK_STREAM, 'connectAcceptedSocket');
  enableNoDelay(s);
  return yield* connectTransport(loop, s, protocolFactory, tls, true);
}

function serve(
  loop: AbstractEventLoop,
  sockets: Socket[],
  protocolFactory: () => BaseProtocol,
  backlog: number,
  start: boolean,
  keepAlive?: KeepAliveOption,
  unlinkAtClose?: ServerOptions['unlinkAtClose'],
): Server {
  const configure =
    keepAlive === undefined || keepAlive === false
      ? enableNoDelay
      : (conn: Socket): void => {
          enableNoDelay(conn);
          applyKeepAlive(conn, keepAlive);
        };
  const server = new Server(loop, sockets, protocolFactory, { backlog, configure, unlinkAtClose });
  if (start) {
    try {
      server.startServing();
    } catch (err) {
      // addReader refused (a closed loop, select's FD_SETSIZE): nobody gets
      // the server, so close its listening sockets (found by test/bad_input.test.ts).
      server.close();
      throw err;
    }
  }
  return server;
}

function dedupe(infos: AddrInfo[]): AddrInfo[] {
  const seen = new Set<string>();
  return infos.filter((i) => {
    const k = `${i.family}/${i.host}/${i.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
