// UDP endpoints (asyncio's _SelectorDatagramTransport and
// loop.create_datagram_endpoint).

import type { AbstractEventLoop } from './events.js';
import { WOULD_BLOCK } from './native.js';
import type { SockAddress } from './native.js';
import type { DatagramProtocol } from './protocols.js';
import { AI_PASSIVE, checkAddrinfoOptions, getaddrinfo } from './resolver.js';
import { AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM, Socket, adoptSocket, splitInetAddress } from './socket.js';
import type { AddressLike } from './socket.js';
import { READ_BUFFER_SIZE, addressOrUndefined, readBuffer, toBytes, isOSError } from './transport_helpers.js';
import { writeBufferLimits } from './write_buffer.js';
import type { DatagramTransport, ExtraInfo, Transport } from './transports.js';
import type { BaseProtocol } from './protocols.js';
import type { Coroutine, Co } from './coroutines.js';

type Dest = SockAddress | readonly [string, number] | string;

function toAddressLike(addr: Dest): AddressLike {
  if (typeof addr === 'string' || Array.isArray(addr)) return addr as AddressLike;
  const a = addr as SockAddress;
  return a.family === 'unix' ? a.path : [a.address, a.port];
}

/** The same destination: one Unix path, or one host string and port. */
function sameAddress(a: AddressLike, b: AddressLike): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  const [ha, pa] = splitInetAddress(a);
  const [hb, pb] = splitInetAddress(b);
  return ha === hb && pa === pb;
}

function formatAddress(a: AddressLike): string {
  if (typeof a === 'string') return a;
  const [h, p] = splitInetAddress(a);
  return h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`;
}

export class DatagramSocketTransport implements DatagramTransport {
  private readonly fd: number;
  private closing = false;
  private connLost = false;
  /** Datagrams waiting for the socket to be writable: [data, destination]. */
  private queue: Array<[Uint8Array, AddressLike | undefined]> = [];
  private queued = 0;
  private writing = false;
  private high: number;
  private low: number;
  private protocolPaused = false;
  private readonly extra: Partial<ExtraInfo>;

  constructor(
    private readonly loop: AbstractEventLoop,
    private readonly sock: Socket,
    private protocol: DatagramProtocol,
    private readonly remote: AddressLike | undefined,
    waiter: { setResult(v: null): void; cancelled(): boolean } | null,
  ) {
    this.fd = sock.fileno();
    [this.high, this.low] = writeBufferLimits();
    this.extra = { socket: sock, sockname: addressOrUndefined(() => sock.getsockname()), peername: remote === undefined ? undefined : addressOrUndefined(() => sock.getpeername()) };
    loop.callSoon(() => {
      this.protocol.connectionMade?.(this as unknown as Transport);
      if (this.closing) return;
      loop._addReader(this.fd, this.readReady);
      if (waiter !== null && !waiter.cancelled()) waiter.setResult(null);
    });
    loop._attachTransport(sock, this);
  }

  private readonly readReady = (): void => {
    if (this.connLost) return;
    const buf = readBuffer();
    let got: [number, SockAddress] | null;
    try {
      got = this.sock.recvfromInto(buf, READ_BUFFER_SIZE);
    } catch (err) {
      this.protocol.errorReceived?.(err as Error);
      return;
    }
    if (got === null) return;
    const data = Buffer.allocUnsafe(got[0]);
    buf.copy(data, 0, 0, got[0]);
    try {
      this.protocol.datagramReceived(data, got[1]);
    } catch (err) {
      this.fatalError(err, 'Fatal error: protocol.datagramReceived() call failed.');
    }
  };

  /** Send one datagram now, or queue it until the socket is writable. */
  sendto(data: Uint8Array | string, addr?: Dest): void {
    const bytes = toBytes(data);
    if (this.closing) return;
    let dest: AddressLike | undefined;
    if (addr !== undefined && addr !== null) {
      dest = toAddressLike(addr);
      if (this.remote !== undefined) {
        // As asyncio: a connected endpoint takes its own remote address too
        // (code written for both kinds passes it), any other is refused.
        if (!sameAddress(dest, this.remote)) throw new RangeError(`Invalid address: must be undefined or the connected address ${formatAddress(this.remote)}`);
        dest = undefined;
      }
    } else if (this.remote === undefined) {
      throw new RangeError('sendto() needs an address on an unconnected endpoint');
    }
    if (this.queue.length === 0) {
      try {
        const sent = this.sendOne(bytes, dest);
        if (sent) return;
      } catch (err) {
        this.sendError(err);
        return;
      }
      this.writing = true;
      this.loop._addWriter(this.fd, this.writeReady);
    }
    this.queue.push([Buffer.from(bytes), dest]);
    this.queued += bytes.length;
    if (!this.protocolPaused && this.queued > this.high) {
      this.protocolPaused = true;
      this.protocol.pauseWriting?.();
    }
  }

  /** True when the datagram went out, false when it would block. */
  private sendOne(bytes: Uint8Array, dest: AddressLike | undefined): boolean {
    const n = dest === undefined ? this.sock.send(bytes) : this.sock.sendto(bytes, dest);
    return n !== null && n !== WOULD_BLOCK;
  }

  private sendError(err: unknown): void {
    // Any error the OS gave (an errno error from the addon: it has a syscall)
    // concerns this one datagram: errorReceived, the endpoint stays open, as
    // asyncio's sendto does for every OSError. Only a bug (a TypeError, a
    // RangeError for a bad port) is fatal. Before, a destination that did not
    // parse (EINVAL) closed the endpoint (found by test/bad_input.test.ts).
    if (isOSError(err)) this.protocol.errorReceived?.(err);
    else this.fatalError(err, 'Fatal write error on datagram transport');
  }

  private readonly writeReady = (): void => {
    while (this.queue.length > 0) {
      const [bytes, dest] = this.queue[0]!;
      try {
        if (!this.sendOne(bytes, dest)) return;
      } catch (err) {
        this.queue.shift();
        this.queued -= bytes.length;
        this.sendError(err);
        continue;
      }
      this.queue.shift();
      this.queued -= bytes.length;
    }
    if (this.protocolPaused && this.queued <= this.low) {
      this.protocolPaused = false;
      this.protocol.resumeWriting?.();
    }
    this.writing = false;
    this.loop._removeWriter(this.fd);
    if (this.closing) this.finish(null);
  };

  getWriteBufferSize(): number {
    return this.queued;
  }

  isClosing(): boolean {
    return this.closing;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.loop._removeReader(this.fd);
    if (this.queue.length === 0) this.finish(null);
  }

  abort(): void {
    this.forceClose(null);
  }

  private fatalError(err: unknown, message: string): void {
    this.loop.callExceptionHandler({ message, exception: err, transport: this, protocol: this.protocol });
    this.forceClose(err as Error);
  }

  private forceClose(exc: Error | null): void {
    if (this.connLost) return;
    this.queue = [];
    this.queued = 0;
    if (this.writing) {
      this.writing = false;
      this.loop._removeWriter(this.fd);
    }
    if (!this.closing) {
      this.closing = true;
      this.loop._removeReader(this.fd);
    }
    this.finish(exc);
  }

  private finish(exc: Error | null): void {
    if (this.connLost) return;
    this.connLost = true;
    this.loop.callSoon(() => {
      try {
        this.protocol.connectionLost?.(exc);
      } finally {
        this.loop._detachTransport(this.fd, this);
        this.sock.close();
      }
    });
  }

  getExtraInfo<K extends keyof ExtraInfo>(name: K, fallback?: ExtraInfo[K]): ExtraInfo[K] | undefined {
    const v = this.extra[name] as ExtraInfo[K] | undefined;
    return v === undefined ? fallback : v;
  }

  setProtocol(protocol: BaseProtocol): void {
    this.protocol = protocol as DatagramProtocol;
  }

  getProtocol(): BaseProtocol {
    return this.protocol;
  }
}

/** Options of loop.createDatagramEndpoint: at least one of localAddr, remoteAddr, family. */
// The options are part of the loop's contract: declared in events.ts.
export type { DatagramEndpointOptions } from './events.js';
import type { DatagramEndpointOptions } from './events.js';

/**
 * Make a UDP (or Unix datagram) endpoint: [transport, protocol].
 * @throws an Error if none of localAddr, remoteAddr, family is given; the
 *   errno Errors of socket / bind / connect; getaddrinfo's errors.
 */
export function createDatagramEndpoint<P extends DatagramProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options?: DatagramEndpointOptions,
): Co<[DatagramTransport, P]>;
export function* createDatagramEndpoint<P extends DatagramProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options: DatagramEndpointOptions = {},
): Coroutine<[DatagramTransport, P]> {
  const { localAddr, remoteAddr } = options;
  if ((options.reuseAddress as boolean | undefined) === true) {
    // SO_REUSEADDR on UDP lets another process (another user's, on Linux)
    // bind the same address and take a share of the datagrams: asyncio 3.8+
    // refuses the option for that reason. reusePort is the opt-in that
    // Linux restricts to sockets of one user.
    throw Object.assign(new TypeError('reuseAddress is not supported for datagram endpoints: SO_REUSEADDR on UDP lets another socket take a share of the datagrams; use reusePort'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  if (options.sock !== undefined) {
    const given = ['localAddr', 'remoteAddr', 'family', 'reuseAddress', 'reusePort', 'allowBroadcast'].filter((k) => (options as Record<string, unknown>)[k] !== undefined);
    if (given.length > 0) throw new RangeError(`createDatagramEndpoint: socket modifier keyword arguments can not be used when sock is specified (${given.join(', ')})`);
    const sock = adoptSocket(options.sock, SOCK_DGRAM, 'createDatagramEndpoint');
    let peer: AddressLike | undefined;
    try {
      const p = sock.getpeername();
      peer = p.family === 'unix' ? p.path : [p.address, p.port];
    } catch {
      peer = undefined; // not connected: sendto() takes addresses
    }
    return yield* endpointOn(loop, sock, protocolFactory, peer);
  }
  if (localAddr === undefined && remoteAddr === undefined && options.family === undefined) {
    throw new RangeError('createDatagramEndpoint needs localAddr, remoteAddr or family');
  }
  let family = options.family ?? 0;
  const flags = options.flags ?? 0;
  const proto = options.proto ?? 0;
  checkAddrinfoOptions({ type: SOCK_DGRAM, flags, proto }, 'createDatagramEndpoint');
  let local: AddressLike | undefined;
  let remote: AddressLike | undefined;
  if (family === AF_UNIX || typeof localAddr === 'string' || typeof remoteAddr === 'string') {
    family = AF_UNIX;
    local = localAddr as string | undefined;
    remote = remoteAddr as string | undefined;
  } else {
    if (localAddr !== undefined) {
      const [info] = yield* getaddrinfo(loop, localAddr[0], localAddr[1], { family, type: SOCK_DGRAM, flags: flags | AI_PASSIVE, proto });
      family = info!.family;
      local = [info!.host, info!.port];
    }
    if (remoteAddr !== undefined) {
      const [info] = yield* getaddrinfo(loop, remoteAddr[0], remoteAddr[1], { family, type: SOCK_DGRAM, flags, proto });
      family = info!.family;
      remote = [info!.host, info!.port];
    }
    if (family === 0) family = AF_INET;
  }
  const sock = new Socket(family === AF_INET6 ? AF_INET6 : family, SOCK_DGRAM);
  try {
    if (options.reusePort) sock.setsockopt('SO_REUSEPORT', true);
    if (options.allowBroadcast) sock.setsockopt('SO_BROADCAST', true);
    if (local !== undefined) sock.bind(local);
    if (remote !== undefined) {
      // A datagram connect completes at once (it only sets the default peer).
      sock.connect(remote);
    }
  } catch (err) {
    sock.close();
    throw err;
  }
  return yield* endpointOn(loop, sock, protocolFactory, remote);
}

function* endpointOn<P extends DatagramProtocol>(loop: AbstractEventLoop, sock: Socket, protocolFactory: () => P, remote: AddressLike | undefined): Coroutine<[DatagramTransport, P]> {
  let protocol: P;
  let transport: DatagramSocketTransport;
  const waiter = loop.createFuture<null>();
  try {
    protocol = protocolFactory();
    transport = new DatagramSocketTransport(loop, sock, protocol, remote, waiter);
  } catch (err) {
    // Not owned by a transport yet: close it (found by test/bad_input.test.ts).
    sock.close();
    throw err;
  }
  try {
    yield* waiter;
  } catch (err) {
    transport.abort();
    throw err;
  }
  return [transport, protocol];
}

