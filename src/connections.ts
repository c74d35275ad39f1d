// Making servers and connections (asyncio's loop.create_server,
// create_connection, create_unix_server, create_unix_connection).

import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import type { AbstractEventLoop, CreateConnectionOptions, CreateServerOptions, CreateUnixConnectionOptions, CreateUnixServerOptions } from './events.js';
import type { BaseProtocol } from './protocols.js';
import { getaddrinfo } from './resolver.js';
import type { AddrInfo } from './resolver.js';
import { Server } from './server.js';
import { sockConnect } from './sock_ops.js';
import { AF_INET6, AF_UNIX, SOCK_STREAM, Socket } from './socket.js';
import { SocketTransport } from './socket_transport.js';
import { SSLProtocol, resolveTls } from './sslproto.js';
import type { TlsSetup } from './sslproto.js';
import type { Transport } from './transports.js';
import type { Coroutine } from './coroutines.js';

export type { CreateConnectionOptions, CreateServerOptions, CreateUnixConnectionOptions, CreateUnixServerOptions };

/**
 * A connected socket becomes a transport: wait for connectionMade (with
 * `tls`, after the TLS handshake), return both.
 */
export function* connectTransport<P extends BaseProtocol>(loop: AbstractEventLoop, sock: Socket, protocolFactory: () => P, tls: TlsSetup | null = null): Coroutine<[Transport, P]> {
  let protocol: P;
  let transport: SocketTransport;
  let ssl: SSLProtocol | null = null;
  const waiter = loop.createFuture<null>();
  try {
    protocol = protocolFactory();
    if (tls === null) {
      transport = new SocketTransport(loop, sock, protocol, waiter);
    } else {
      ssl = new SSLProtocol(loop, protocol, tls.context, waiter as never, false, tls.serverHostname, tls.handshakeTimeout, tls.shutdownTimeout);
      transport = new SocketTransport(loop, sock, ssl);
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

function enableNoDelay(sock: Socket): void {
  // asyncio turns Nagle off for every TCP transport: request/response
  // protocols otherwise wait ~40 ms for delayed ACKs.
  if (sock.family !== AF_UNIX) sock.setsockopt('TCP_NODELAY', true);
}

/** Open a TCP connection to host:port (names resolved off the loop) and wrap it in a transport. */
export function* createConnection<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  host: string,
  port: number,
  options: CreateConnectionOptions = {},
): Coroutine<[Transport, P]> {
  const tls = resolveTls(options, false, host);
  const infos = yield* getaddrinfo(loop, host, port, { family: options.family ?? 0, type: SOCK_STREAM });
  if (infos.length === 0) throw new Error(`getaddrinfo() returned an empty list for ${host}`);
  const errors: Error[] = [];
  for (const info of infos) {
    const sock = new Socket(info.family, SOCK_STREAM);
    try {
      if (options.localAddr !== undefined) sock.bind(options.localAddr);
      yield* sockConnect(loop, sock, [info.host, info.port]);
    } catch (err) {
      sock.close();
      errors.push(err as Error);
      continue;
    }
    enableNoDelay(sock);
    return yield* connectTransport(loop, sock, protocolFactory, tls);
  }
  // One address: its own error (ECONNREFUSED with its code). Several: all of them.
  if (errors.length === 1) throw errors[0];
  throw Object.assign(new AggregateError(errors, `Multiple exceptions: ${errors.map((e) => e.message).join('; ')}`), {
    code: (errors[0] as NodeJS.ErrnoException).code,
  });
}

/** Listen on host:port (every address host resolves to; all interfaces for '' / null). */
export function* createServer(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  host: string | null | undefined,
  port: number,
  options: CreateServerOptions = {},
): Coroutine<Server> {
  const backlog = options.backlog ?? 100;
  const factory = tlsFactory(loop, protocolFactory, resolveTls(options, true, null));
  const infos = dedupe(yield* getaddrinfo(loop, host, port, { family: options.family ?? 0, type: SOCK_STREAM }));
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
  return serve(loop, sockets, factory, backlog, options.startServing ?? true);
}

/** Listen on a Unix socket path; a stale socket file left by a dead server is removed first. */
export function* createUnixServer(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  path: string,
  options: CreateUnixServerOptions = {},
): Coroutine<Server> {
  const backlog = options.backlog ?? 100;
  const factory = tlsFactory(loop, protocolFactory, resolveTls(options, true, null));
  if (!path.startsWith('\0') && existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
  const sock = new Socket(AF_UNIX, SOCK_STREAM);
  try {
    sock.bind(path);
    sock.listen(backlog);
  } catch (err) {
    sock.close();
    throw err;
  }
  return serve(loop, [sock], factory, backlog, options.startServing ?? true);
}

/** Connect to a Unix socket path and wrap it in a transport. */
export function* createUnixConnection<P extends BaseProtocol>(loop: AbstractEventLoop, protocolFactory: () => P, path: string, options: CreateUnixConnectionOptions = {}): Coroutine<[Transport, P]> {
  const tls = resolveTls(options, false, null);
  const sock = new Socket(AF_UNIX, SOCK_STREAM);
  try {
    yield* sockConnect(loop, sock, path);
  } catch (err) {
    sock.close();
    throw err;
  }
  return yield* connectTransport(loop, sock, protocolFactory, tls);
}

function serve(loop: AbstractEventLoop, sockets: Socket[], protocolFactory: () => BaseProtocol, backlog: number, start: boolean): Server {
  const server = new Server(loop, sockets, protocolFactory, { backlog, configure: enableNoDelay });
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
