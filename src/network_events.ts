// The networking methods of the event loop (asyncio's loop.sock_*,
// create_server, create_connection, ...), as a class layer between the
// readiness loop (selector_events.ts) and the public EventLoop (loop.ts).
// Each method is a thin delegation to the module that implements it, so
// those modules stay loop-agnostic (they take events.ts's AbstractEventLoop).

import { connectAcceptedSocket, createConnection, createServer, createUnixConnection, createUnixServer } from './connections.js';
import type { CreateConnectionOptions, CreateServerOptions, CreateUnixConnectionOptions, CreateUnixServerOptions } from './connections.js';
import { createDatagramEndpoint } from './datagram_transport.js';
import type { DatagramEndpointOptions } from './datagram_transport.js';
import type { InetAddress, SockAddress, UnixAddress } from './native.js';
import type { BaseProtocol, DatagramProtocol } from './protocols.js';
import { getaddrinfo, getnameinfo } from './resolver.js';
import type { NameinfoAddress } from './events.js';
import type { AddrInfo, GetaddrinfoOptions } from './resolver.js';
import { BaseSelectorEventLoop } from './selector_events.js';
import type { SSLContext } from './ssl.js';
import { startTls } from './sslproto.js';
import type { StartTlsOptions, TlsOptions } from './sslproto.js';
import type { Server } from './server.js';
import { sendfile, sockSendfile } from './sendfile.js';
import type { SendfileFile, SendfileOptions } from './sendfile.js';
import { sockAccept, sockConnect, sockRecv, sockRecvfrom, sockRecvInto, sockSendall, sockSendto } from './sock_ops.js';
import type { AddressLike, Socket } from './socket.js';
import type { DatagramTransport, Transport, WriteTransport } from './transports.js';
import type { Co } from './coroutines.js';

/**
 * The networking layer of the event loop: socket coroutines (sockRecv, ...),
 * getaddrinfo, servers, connections and datagram endpoints. A layer of
 * {@link EventLoop}; make loops with newEventLoop().
 */
export abstract class NetworkEventLoop extends BaseSelectorEventLoop {
  /**
   * Up to n bytes from sock (empty at EOF); waits only if nothing is there.
   * @throws the socket's errno Error (ECONNRESET, ...); CancelledError if
   *   cancelled while waiting (nothing is consumed then).
   */
  sockRecv(sock: Socket, n: number): Co<Buffer> {
    return sockRecv(this, sock, n);
  }

  /**
   * Read into buf; the count (0 at EOF).
   * @throws as sockRecv.
   */
  sockRecvInto(sock: Socket, buf: Uint8Array, nbytes?: number): Co<number> {
    return sockRecvInto(this, sock, buf, nbytes);
  }

  /**
   * Send all of data, waiting for the socket to drain as needed.
   * @throws the socket's errno Error (EPIPE, ECONNRESET, ...); CancelledError
   *   (part of the data may have been sent).
   */
  sockSendall(sock: Socket, data: Uint8Array | string): Co<void> {
    return sockSendall(this, sock, data);
  }

  /**
   * Accept one connection: [socket, peer address].
   * @throws the socket's errno Error (EMFILE, ...); CancelledError.
   */
  sockAccept(sock: Socket): Co<[Socket, SockAddress]> {
    return sockAccept(this, sock);
  }

  /**
   * Connect sock to a numeric address, or a path for a Unix socket.
   * @throws the connect error (ECONNREFUSED, ETIMEDOUT, ENOENT for a Unix path, ...);
   *   TypeError / RangeError for a malformed address; CancelledError.
   */
  sockConnect(sock: Socket, address: AddressLike): Co<void> {
    return sockConnect(this, sock, address);
  }

  /**
   * One datagram and its sender.
   * @throws the socket's errno Error; CancelledError.
   */
  sockRecvfrom(sock: Socket, n: number): Co<[Buffer, SockAddress]> {
    return sockRecvfrom(this, sock, n);
  }

  /**
   * Send one datagram to address.
   * @throws the socket's errno Error (EMSGSIZE, ...); CancelledError.
   */
  sockSendto(sock: Socket, data: Uint8Array | string, address: AddressLike): Co<number> {
    return sockSendto(this, sock, data, address);
  }

  /**
   * Send `count` bytes of a file (null: to its end) from `offset` over a
   * connected stream socket; the bytes sent. sendfile(2) where it can be
   * used, else (unless `fallback: false`) the file read and sent in chunks.
   * `file` is an fd or a FileHandle; its position ends at offset + the bytes
   * sent (when any were), as in asyncio.
   * @throws SendfileNotAvailableError with `fallback: false` where sendfile(2)
   *   cannot be used (not a regular file, a build without it); TypeError /
   *   RangeError for bad arguments (before anything is read or sent); the
   *   socket's errno Error (EPIPE, ECONNRESET, ...); CancelledError.
   */
  sockSendfile(sock: Socket, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number> {
    return sockSendfile(this, sock, file, offset, count, options);
  }

  /**
   * Resolve host:port without blocking the loop (numeric hosts answer at once;
   * names are resolved in a worker thread).
   * @throws an Error with code (ENOTFOUND, EAI_AGAIN, ...) when the name does not resolve;
   *   RuntimeError if the loop is closed.
   */
  getaddrinfo(host: string | null | undefined, port: number, options?: GetaddrinfoOptions): Co<AddrInfo[]> {
    return getaddrinfo(this, host, port, options);
  }

  /**
   * [host, service] of a numeric socket address (asyncio's getnameinfo),
   * looked up in the resolver thread; flags: NI_NUMERICHOST, NI_NUMERICSERV,
   * NI_NAMEREQD (NI_DGRAM with NI_NUMERICSERV only; NI_NOFQDN refused).
   * @throws ENOTFOUND with NI_NAMEREQD for a host without a name;
   *   TypeError / RangeError for a bad address or flags; RuntimeError if the loop is closed.
   */
  getnameinfo(sockaddr: NameinfoAddress, flags = 0): Co<[string, string]> {
    return getnameinfo(this, sockaddr, flags);
  }

  /**
   * Listen on host:port ('' or null: every interface); each connection gets protocolFactory().
   * @throws the bind / listen errors (EADDRINUSE, EACCES, ...); getaddrinfo's errors.
   */
  createServer(protocolFactory: () => BaseProtocol, host: string | readonly string[] | null | undefined, port: number | null | undefined, options?: CreateServerOptions): Co<Server<InetAddress>> {
    return createServer(this, protocolFactory, host, port, options);
  }

  /**
   * Connect to host:port; resolves to [transport, protocol] once connectionMade has run.
   * @throws the connect error (an AggregateError when several addresses all
   *   failed); getaddrinfo's errors; whatever protocolFactory or connectionMade throws.
   */
  createConnection<P extends BaseProtocol>(protocolFactory: () => P, host: string | null | undefined, port: number | null | undefined, options?: CreateConnectionOptions): Co<[Transport, P]> {
    return createConnection(this, protocolFactory, host, port, options);
  }

  /**
   * Wrap a connection accepted outside the loop (a coio Socket or an fd) in a
   * transport, with server-side TLS if options.ssl is given (asyncio's
   * connect_accepted_socket); the transport owns it from then on.
   * @throws TypeError / RangeError for what is not a connected stream socket;
   *   whatever protocolFactory or connectionMade throws; the TLS handshake's errors.
   */
  connectAcceptedSocket<P extends BaseProtocol>(protocolFactory: () => P, sock: Socket | number, options?: TlsOptions): Co<[Transport, P]> {
    return connectAcceptedSocket(this, protocolFactory, sock, options);
  }

  /**
   * Listen on a Unix socket path (a stale socket file there is replaced).
   * @throws the bind / listen errors (EADDRINUSE, EACCES, ...).
   */
  createUnixServer(protocolFactory: () => BaseProtocol, path: string | null | undefined, options?: CreateUnixServerOptions): Co<Server<UnixAddress>> {
    return createUnixServer(this, protocolFactory, path, options);
  }

  /**
   * Connect to a Unix socket path.
   * @throws the connect error (ENOENT, ECONNREFUSED, ...).
   */
  createUnixConnection<P extends BaseProtocol>(protocolFactory: () => P, path: string | null | undefined, options?: CreateUnixConnectionOptions): Co<[Transport, P]> {
    return createUnixConnection(this, protocolFactory, path, options);
  }

  /**
   * Upgrade a connected transport to TLS (STARTTLS): `protocol` talks
   * through the returned transport from now on, once the handshake is done.
   * @throws TypeError for a transport that cannot be upgraded; the
   *   handshake's SSLError / SSLCertVerificationError (the transport is closed then).
   */
  startTls(transport: Transport, protocol: BaseProtocol, sslContext: SSLContext, options?: StartTlsOptions): Co<Transport> {
    return startTls(this, transport, protocol, sslContext, options);
  }

  /**
   * Send `count` bytes of a file (null: to its end) from `offset` over a
   * transport; the bytes sent. A plain socket transport pauses reading,
   * flushes its buffer and lets sendfile(2) write its socket (write()
   * throws meanwhile); a TLS or pipe transport, or a file sendfile(2) cannot
   * send, gets the file read and written in chunks with its flow control
   * (unless `fallback: false`). `file` is an fd or a FileHandle; its
   * position ends at offset + the bytes sent (when any were), as in asyncio.
   * @throws RuntimeError for a closing transport or one that cannot send
   *   files (a datagram transport); SendfileNotAvailableError with `fallback: false`;
   *   TypeError / RangeError for bad arguments; the connection's errno Error; CancelledError.
   */
  sendfile(transport: WriteTransport, file: SendfileFile, offset?: number, count?: number | null, options?: SendfileOptions): Co<number> {
    return sendfile(this, transport, file, offset, count, options);
  }

  /**
   * A UDP (or Unix datagram) endpoint: [transport, protocol].
   * @throws an Error if none of localAddr, remoteAddr, family is given; the
   *   socket / bind / connect errors; getaddrinfo's errors.
   */
  createDatagramEndpoint<P extends DatagramProtocol>(protocolFactory: () => P, options?: DatagramEndpointOptions): Co<[DatagramTransport, P]> {
    return createDatagramEndpoint(this, protocolFactory, options);
  }
}
