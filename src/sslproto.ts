// TLS over any stream transport, as asyncio's sslproto does it: an
// SSLProtocol sits between the socket transport (below: ciphertext) and the
// app's protocol (above: plaintext), and gives the app an
// SSLProtocolTransport. The engine (ssl.ts, native/tls.cc) is a thin SSL
// object over memory BIOs; everything else is here:
//
// - A state machine with asyncio's states and a table of the transitions it
//   allows (a wrong one is a bug, and throws):
//     UNWRAPPED -> DO_HANDSHAKE -> WRAPPED -> FLUSHING -> SHUTDOWN -> UNWRAPPED
//   (and any state -> UNWRAPPED when the connection is lost or fails).
// - The handshake, under a timeout (60 s by default); then the app's
//   connectionMade. A server asks its SNI callback between two handshake
//   steps (the engine suspends the handshake at the client hello).
// - Reading: ciphertext from the socket goes into the incoming BIO and is
//   decrypted straight into the app's buffer (a BufferedProtocol's
//   getBuffer, a fresh Buffer for a Protocol, or a borrowed view of a shared
//   buffer for one that borrows). While the app has paused reading, the BIO
//   fills, and the socket is paused once it holds more than 256 KiB.
// - Writing: each app write is encrypted at once (one record batch per
//   write) and the ciphertext goes to the socket transport, which sends it
//   now or keeps a copy. While the socket transport is over its high-water
//   mark, ciphertext waits in the outgoing BIO; the app is paused when the
//   total (plaintext not yet encrypted, outgoing BIO, socket buffer) goes
//   over the SSL transport's high-water mark, resumed at its low one.
// - Closing: close() sends close_notify after the pending writes, waits
//   for the peer's (at most the shutdown timeout, 30 s by default), then
//   closes the socket; abort() closes at once. A peer's close_notify is the
//   app's eofReceived; a TCP EOF without one is too (a truncated stream
//   looks like a clean end, as in asyncio and Node).

import { RuntimeError } from './errors.js';
import type { Coroutine, Co } from './coroutines.js';
import type { Future } from './futures.js';
import type { AbstractEventLoop, Handle, StartTlsOptions, TlsOptions } from './events.js';
import { isBufferedProtocol } from './protocols.js';
import type { BaseProtocol, BufferedProtocol, Protocol } from './protocols.js';
import {
  SSL_ERROR_WANT_CLIENT_HELLO_CB,
  SSL_ERROR_WANT_READ,
  SSL_ERROR_WANT_WRITE,
  SSL_ERROR_ZERO_RETURN,
  SSLCertVerificationError,
  SSLContext,
  SSLError,
  SSLObject,
  contextFromNodeOptions,
  createDefaultContext,
  alertName,
  sslErrorFrom,
} from './ssl.js';
import { CONNLOST_WRITE_WARNING, toBytes, isConnectionLost } from './transport_helpers.js';
import type { ExtraInfo, Transport } from './transports.js';
import { writeBufferLimits } from './write_buffer.js';

export type { StartTlsOptions, TlsOptions };

/** asyncio's SSL_HANDSHAKE_TIMEOUT, seconds. */
export const SSL_HANDSHAKE_TIMEOUT = 60;
/** asyncio's SSL_SHUTDOWN_TIMEOUT, seconds. */
export const SSL_SHUTDOWN_TIMEOUT = 30;
/** Pause reading the socket while the incoming BIO holds more than this (asyncio's FLOW_CONTROL_HIGH_WATER_SSL_READ). */
const INCOMING_HIGH_WATER = 256 * 1024;
const INCOMING_LOW_WATER = 64 * 1024;
/** The SSL transport's write high-water mark (asyncio's FLOW_CONTROL_HIGH_WATER_SSL_WRITE). */
const SSL_WRITE_HIGH_WATER = 512 * 1024;
/** Shared plaintext / ciphertext scratch buffers (a read or a write happens in one loop callback at a time). */
const SCRATCH_SIZE = 256 * 1024;

/** The states of an SSLProtocol (asyncio's SSLProtocolState). */
export const SSLProtocolState = Object.freeze({
  UNWRAPPED: 'UNWRAPPED',
  DO_HANDSHAKE: 'DO_HANDSHAKE',
  WRAPPED: 'WRAPPED',
  FLUSHING: 'FLUSHING',
  SHUTDOWN: 'SHUTDOWN',
});
export type SSLProtocolStateName = (typeof SSLProtocolState)[keyof typeof SSLProtocolState];

/** Which transitions are legal; anything else is a bug in this file. */
const TRANSITIONS: Readonly<Record<SSLProtocolStateName, readonly SSLProtocolStateName[]>> = {
  UNWRAPPED: ['DO_HANDSHAKE'],
  DO_HANDSHAKE: ['WRAPPED', 'UNWRAPPED'],
  WRAPPED: ['FLUSHING', 'UNWRAPPED'],
  FLUSHING: ['SHUTDOWN', 'UNWRAPPED'],
  SHUTDOWN: ['UNWRAPPED'],
};

/** What the app protocol has seen (asyncio's AppProtocolState). */
const enum AppState {
  INIT,
  CON_MADE,
  EOF,
  CON_LOST,
}

let plainScratch: Buffer | undefined;
let cipherScratch: Buffer | undefined;

function errnoError(message: string, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** @internal Resolved TLS settings of one connection or server. */
export interface TlsSetup {
  context: SSLContext;
  serverHostname: string | null;
  handshakeTimeout: number;
  shutdownTimeout: number;
}

function checkTimeout(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new RangeError(`${name} should be a positive number, got ${String(value)}`);
  return value;
}

/**
 * @internal Check and resolve the TLS options; null when ssl is off.
 * @throws RangeError / TypeError as asyncio raises ValueError (serverHostname
 *   or a timeout without ssl, ssl: true on a server, ...).
 */
export function resolveTls(options: TlsOptions, serverSide: boolean, host: string | null): TlsSetup | null {
  const { ssl } = options;
  if (ssl === undefined || ssl === null || ssl === false) {
    if (options.serverHostname != null) throw new RangeError('serverHostname is only meaningful with ssl');
    if (options.sslHandshakeTimeout !== undefined) throw new RangeError('sslHandshakeTimeout is only meaningful with ssl');
    if (options.sslShutdownTimeout !== undefined) throw new RangeError('sslShutdownTimeout is only meaningful with ssl');
    return null;
  }
  let context: SSLContext;
  let nodeServername: string | undefined;
  if (ssl === true) {
    if (serverSide) throw new TypeError('ssl: a server needs an SSLContext (or Node tls options with key and cert), not true');
    context = createDefaultContext();
  } else if (ssl instanceof SSLContext) {
    context = ssl;
  } else if (typeof ssl === 'object') {
    context = contextFromNodeOptions(ssl, serverSide);
    nodeServername = ssl.servername;
  } else {
    throw new TypeError(`ssl must be an SSLContext, Node tls options or a boolean, got ${typeof ssl}`);
  }
  if (context._serverSide !== serverSide) {
    throw new RangeError(`ssl: a ${serverSide ? 'server' : 'client'} needs a ${serverSide ? 'PROTOCOL_TLS_SERVER' : 'PROTOCOL_TLS_CLIENT'} context`);
  }
  let serverHostname: string | null = null;
  if (serverSide) {
    if (options.serverHostname != null) throw new RangeError('serverHostname is only meaningful for clients');
  } else {
    const given = options.serverHostname ?? nodeServername;
    serverHostname = given === undefined ? host : given === '' ? null : given;
    if (serverHostname === null && context.checkHostname) {
      throw new RangeError('You must set serverHostname when using ssl without a host');
    }
  }
  return {
    context,
    serverHostname,
    handshakeTimeout: checkTimeout(options.sslHandshakeTimeout, 'sslHandshakeTimeout', SSL_HANDSHAKE_TIMEOUT),
    shutdownTimeout: checkTimeout(options.sslShutdownTimeout, 'sslShutdownTimeout', SSL_SHUTDOWN_TIMEOUT),
  };
}

/**
 * The protocol between a stream transport (ciphertext) and the app's
 * protocol (plaintext); see the top of this file. Made by the connection
 * and server functions with `ssl:`, and by startTls.
 */
export class SSLProtocol implements Protocol {
  /** The socket transport delivers borrowed views: the incoming BIO copies them anyway. */
  readonly borrowsData = true;
  private state: SSLProtocolStateName = SSLProtocolState.UNWRAPPED;
  private appState = AppState.INIT;
  private app: BaseProtocol;
  private appBuffered: BufferedProtocol | null = null;
  private appBorrows = false;
  /** @internal The transport the app writes to. */
  readonly _appTransport: SSLProtocolTransport;
  private transport: Transport | null = null;
  private sslObj: SSLObject | null = null;
  private readonly extra: Partial<ExtraInfo> = {};
  /** Plaintext not yet encrypted (written during the handshake, or when the engine wanted to read). */
  private backlog: Uint8Array[] = [];
  private backlogSize = 0;
  private appReadingPaused = false;
  private sslReadingPaused = false;
  private sslWritingPaused = false;
  private appWritingPaused = false;
  private writeHigh = SSL_WRITE_HIGH_WATER;
  private writeLow = SSL_WRITE_HIGH_WATER / 4;
  private handshakeTimer: Handle | null = null;
  private shutdownTimer: Handle | null = null;
  /** TCP EOF received: do not wait for the peer's close_notify. */
  private tcpEof = false;
  private shutdownSent = false;
  /** The error a fatal failure closed the socket transport with (abort() reports none). */
  private lostExc: Error | null = null;
  private resumeScheduled = false;

  constructor(
    private readonly loop: AbstractEventLoop,
    app: BaseProtocol,
    private readonly sslContext: SSLContext,
    /** Resolved once the handshake is done and the app is connected; rejected if the handshake fails. */
    private waiter: Future<unknown> | null,
    private readonly serverSide: boolean,
    private readonly serverHostname: string | null,
    private readonly handshakeTimeout = SSL_HANDSHAKE_TIMEOUT,
    private readonly shutdownTimeout = SSL_SHUTDOWN_TIMEOUT,
    /** false for startTls: the app is connected already. */
    private readonly callConnectionMade = true,
    /** Ciphertext that arrived before the upgrade (startTls over a stream). */
    private initialData: Uint8Array | null = null,
  ) {
    this.app = app;
    this.setAppProtocol(app);
    this._appTransport = new SSLProtocolTransport(this);
    this.extra.sslContext = sslContext;
  }

  /** @internal */
  setAppProtocol(app: BaseProtocol): void {
    this.app = app;
    this.appBuffered = isBufferedProtocol(app) ? app : null;
    this.appBorrows = (app as Protocol).borrowsData === true;
  }

  /** @internal */
  getAppProtocol(): BaseProtocol {
    return this.app;
  }

  /** The current state (one of SSLProtocolState). */
  get sslState(): SSLProtocolStateName {
    return this.state;
  }

  private setState(next: SSLProtocolStateName): void {
    if (!TRANSITIONS[this.state].includes(next)) throw new RuntimeError(`cannot switch the SSL protocol from ${this.state} to ${next}`);
    this.state = next;
  }

  private wakeupWaiter(exc: Error | null): void {
    const w = this.waiter;
    if (w === null) return;
    this.waiter = null;
    if (w.done()) return;
    if (exc === null) w.setResult(null);
    else w.setException(exc);
  }

  // ---- the socket transport's callbacks ------------------------------------

  connectionMade(transport: Transport): void {
    this.transport = transport;
    this.startHandshake();
  }

  connectionLost(exc: Error | null): void {
    exc ??= this.lostExc;
    this.backlog = [];
    this.backlogSize = 0;
    this._appTransport._closed = true;
    this.cancelTimers();
    const wasHandshaking = this.state === SSLProtocolState.DO_HANDSHAKE;
    if (this.state !== SSLProtocolState.UNWRAPPED) this.setState(SSLProtocolState.UNWRAPPED);
    this.transport = null;
    this.sslObj?._release();
    if (wasHandshaking || this.waiter !== null) {
      this.wakeupWaiter(exc ?? errnoError('Connection lost during the TLS handshake', 'ECONNRESET'));
    }
    if (this.appState === AppState.CON_MADE || this.appState === AppState.EOF) {
      this.appState = AppState.CON_LOST;
      this.app.connectionLost?.(exc);
    }
  }

  dataReceived(data: Buffer): void {
    const ssl = this.sslObj?._conn;
    if (ssl == null || this.state === SSLProtocolState.UNWRAPPED) return;
    ssl.feed(data, 0, data.length);
    this.advance();
  }

  /** More ciphertext came in (or the app resumed): go on from the current state. */
  private advance(): void {
    switch (this.state) {
      case SSLProtocolState.DO_HANDSHAKE:
        return this.doHandshake();
      case SSLProtocolState.WRAPPED:
        return this.doRead();
      case SSLProtocolState.FLUSHING:
        return this.doFlush();
      case SSLProtocolState.SHUTDOWN:
        return this.doShutdown();
      default:
    }
  }

  eofReceived(): boolean {
    this.tcpEof = true;
    try {
      switch (this.state) {
        case SSLProtocolState.DO_HANDSHAKE:
          this.onHandshakeComplete(errnoError('Connection lost during the TLS handshake', 'ECONNRESET'));
          break;
        case SSLProtocolState.WRAPPED:
          this.setState(SSLProtocolState.FLUSHING);
          // The app reads what is left once it resumes; keep the socket open till then.
          if (this.appReadingPaused) return true;
          this.doFlush();
          break;
        case SSLProtocolState.FLUSHING:
          this.doWrite();
          this.setState(SSLProtocolState.SHUTDOWN);
          this.doShutdown();
          break;
        case SSLProtocolState.SHUTDOWN:
          this.doShutdown();
          break;
        default:
      }
    } catch (err) {
      this.transport?.close();
      throw err;
    }
    // The socket transport closes itself once we return false; an orderly
    // shutdown above has already queued our close_notify.
    return false;
  }

  pauseWriting(): void {
    // The socket transport is full: keep ciphertext in the outgoing BIO.
    this.sslWritingPaused = true;
  }

  resumeWriting(): void {
    this.sslWritingPaused = false;
    this.processOutgoing();
  }

  // ---- handshake -------------------------------------------------------------

  private startHandshake(): void {
    this.setState(SSLProtocolState.DO_HANDSHAKE);
    this.handshakeTimer = this.loop.callLater(this.handshakeTimeout, SSLProtocol.handshakeTimeoutCb, this);
    try {
      this.sslObj = new SSLObject(this.sslContext, this.serverSide, this.serverHostname);
    } catch (err) {
      this.onHandshakeComplete(err as Error);
      return;
    }
    this.extra.sslObject = this.sslObj;
    const initial = this.initialData;
    this.initialData = null;
    if (initial !== null && initial.length > 0) this.sslObj._conn!.feed(initial, 0, initial.length);
    this.doHandshake();
  }

  private static readonly handshakeTimeoutCb = (p: SSLProtocol): void => p.checkHandshakeTimeout();
  private static readonly shutdownTimeoutCb = (p: SSLProtocol): void => p.checkShutdownTimeout();

  private checkHandshakeTimeout(): void {
    this.handshakeTimer = null;
    if (this.state !== SSLProtocolState.DO_HANDSHAKE) return;
    const exc = errnoError(`SSL handshake is taking longer than ${this.handshakeTimeout} seconds: aborting the connection`, 'ECONNABORTED');
    // A connection error, but ours, not the peer's: a server says so (a stalled client may be an attack).
    if (this.serverSide) this.loop.callExceptionHandler({ message: 'SSL handshake failed', exception: exc, transport: this.transport, protocol: this });
    this.onHandshakeComplete(exc);
  }

  private doHandshake(): void {
    const obj = this.sslObj!;
    for (;;) {
      const conn = obj._conn!;
      const r = conn.handshake();
      if (r === 0) {
        this.processOutgoing();
        return this.onHandshakeComplete(null);
      }
      if (r === SSL_ERROR_WANT_READ || r === SSL_ERROR_WANT_WRITE) return this.processOutgoing();
      if (r === SSL_ERROR_WANT_CLIENT_HELLO_CB) {
        // Between two handshake steps, outside OpenSSL: the SNI callback may switch contexts.
        const cb = this.sslContext.sniCallback;
        let alert: unknown;
        try {
          alert = cb?.(obj, conn.servername(), this.sslContext);
        } catch (err) {
          return this.onHandshakeComplete(err as Error);
        }
        if (typeof alert === 'number') {
          if (!Number.isInteger(alert) || alert < 0 || alert > 255) {
            return this.onHandshakeComplete(new RangeError(`the SNI callback returned ${alert}: a TLS alert (an AlertDescription value, 0-255) or nothing`));
          }
          // The handshake fails in the client hello with that alert, which
          // goes out first: the client hears why (tlsv1 unrecognized name, ...).
          conn.refuseHello(alert);
          conn.handshake();
          conn.takeError();
          this.processOutgoing();
          const name = alertName(alert);
          return this.onHandshakeComplete(new SSLError(`[SSL: TLSV1_ALERT_${name}] the SNI callback refused the handshake (alert ${alert})`, { reason: 'SNI_CALLBACK_REFUSED' }));
        }
        continue;
      }
      // Send the alert OpenSSL queued (the peer learns why), then fail.
      const failure = conn.takeError();
      this.processOutgoing();
      const exc = failure !== null ? sslErrorFrom(failure, this.serverHostname) : new SSLError('SSL handshake failed');
      return this.onHandshakeComplete(exc);
    }
  }

  private onHandshakeComplete(exc: Error | null): void {
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    if (exc !== null) {
      if (this.state !== SSLProtocolState.UNWRAPPED) this.setState(SSLProtocolState.UNWRAPPED);
      const msg = exc instanceof SSLCertVerificationError ? 'SSL handshake failed on verifying the certificate' : 'SSL handshake failed';
      this.fatalError(exc, msg, this.serverSide);
      this.wakeupWaiter(exc);
      return;
    }
    this.setState(SSLProtocolState.WRAPPED);
    if (this.callConnectionMade) {
      this.appState = AppState.CON_MADE;
      try {
        this.app.connectionMade?.(this._appTransport);
      } catch (err) {
        this.wakeupWaiter(err as Error);
        this.fatalError(err as Error, 'Exception in connectionMade', true);
        return;
      }
    } else {
      this.appState = AppState.CON_MADE;
    }
    this.wakeupWaiter(null);
    // Application data may have come with the last handshake flight; and
    // writes the app made during the handshake (startTls) go out now.
    if (this.backlogSize > 0) this.doWrite();
    this.doRead();
  }

  // ---- reading ---------------------------------------------------------------

  private doRead(): void {
    if (this.state !== SSLProtocolState.WRAPPED && this.state !== SSLProtocolState.FLUSHING) return;
    try {
      if (!this.appReadingPaused) {
        if (this.appBuffered !== null) this.readBuffered(this.appBuffered);
        else this.readCopied();
        if (this.backlogSize > 0) this.doWrite();
        else this.processOutgoing();
      }
      this.controlSslReading();
    } catch (err) {
      this.fatalError(err as Error, 'Fatal error on SSL protocol', !(err instanceof SSLError));
    }
  }

  /** Decrypt into Buffers handed to dataReceived: a fresh one (the app keeps it) or a borrowed view. */
  private readCopied(): void {
    const app = this.app as Protocol;
    for (;;) {
      const conn = this.sslObj?._conn;
      if (conn == null || this.appReadingPaused || this.state === SSLProtocolState.UNWRAPPED) return;
      // Plaintext is never longer than the ciphertext it comes in (readable()
      // counts what OpenSSL read ahead, too); a full buffer reads on.
      const avail = conn.readable();
      if (avail === 0) return;
      const buf = this.appBorrows ? (plainScratch ??= Buffer.allocUnsafe(SCRATCH_SIZE)) : Buffer.allocUnsafe(Math.min(avail, SCRATCH_SIZE));
      let n = 0;
      let status = 0;
      while (n < buf.length) {
        const r = conn.read(buf, n, buf.length - n);
        if (r <= 0) {
          status = r;
          break;
        }
        n += r;
      }
      if (n > 0) this.deliver(app, n === buf.length ? buf : buf.subarray(0, n));
      if (status !== 0) return this.readStatus(status);
    }
  }

  private deliver(app: Protocol, data: Buffer): void {
    if (this.appState !== AppState.CON_MADE) return;
    app.dataReceived(data);
  }

  /** Decrypt straight into the buffer a BufferedProtocol gives. */
  private readBuffered(app: BufferedProtocol): void {
    for (;;) {
      const conn = this.sslObj?._conn;
      if (conn == null || this.appReadingPaused || this.state === SSLProtocolState.UNWRAPPED || this.appState !== AppState.CON_MADE) return;
      if (conn.readable() === 0) return;
      const buf = app.getBuffer(-1);
      if (!(buf instanceof Uint8Array) || buf.length === 0) throw new RangeError('getBuffer() returned an empty or non-Uint8Array buffer');
      const r = conn.read(buf, 0, buf.length);
      if (r <= 0) return this.readStatus(r);
      app.bufferUpdated(r);
    }
  }

  /** A read that returned no data: more is needed, the peer's close_notify, or an error. */
  private readStatus(r: number): void {
    if (r === SSL_ERROR_WANT_READ || r === SSL_ERROR_WANT_WRITE || r === 0) return;
    if (r === SSL_ERROR_ZERO_RETURN) {
      this.callEofReceived();
      this.startShutdown();
      return;
    }
    const failure = this.sslObj?._conn?.takeError() ?? null;
    this.processOutgoing();
    throw failure !== null ? sslErrorFrom(failure, this.serverHostname) : new SSLError('SSL read failed');
  }

  private callEofReceived(): void {
    if (this.appState !== AppState.CON_MADE) return;
    this.appState = AppState.EOF;
    // Its answer (keep the write side open) means nothing over TLS.
    (this.app as Protocol).eofReceived?.();
  }

  /** Pause the socket while the incoming BIO holds too much (the app is not reading). */
  private controlSslReading(): void {
    const conn = this.sslObj?._conn;
    const t = this.transport;
    if (conn == null || t === null) return;
    const size = conn.pendingIn();
    if (size > INCOMING_HIGH_WATER && !this.sslReadingPaused) {
      this.sslReadingPaused = true;
      t.pauseReading();
    } else if (size <= INCOMING_LOW_WATER && this.sslReadingPaused) {
      this.sslReadingPaused = false;
      t.resumeReading();
    }
  }

  /** @internal SSLProtocolTransport.pauseReading. */
  _pauseReading(): void {
    this.appReadingPaused = true;
  }

  /** @internal SSLProtocolTransport.resumeReading: go on in the next loop turn. */
  _resumeReading(): void {
    if (!this.appReadingPaused) return;
    this.appReadingPaused = false;
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    this.loop.callSoon(SSLProtocol.resumeCb, this);
  }

  private static readonly resumeCb = (p: SSLProtocol): void => {
    p.resumeScheduled = false;
    // FLUSHING after an EOF that came while paused: doFlush finishes what eofReceived put off.
    if (!p.appReadingPaused) p.advance();
  };

  /** @internal */
  _isReading(): boolean {
    return !this.appReadingPaused && !this._appTransport._closed;
  }

  // ---- writing ---------------------------------------------------------------

  /** @internal SSLProtocolTransport.write. */
  _write(data: Uint8Array): void {
    if (this.state === SSLProtocolState.FLUSHING || this.state === SSLProtocolState.SHUTDOWN || this.state === SSLProtocolState.UNWRAPPED || this._appTransport._closed) {
      if (this._appTransport._connLostWrites++ === CONNLOST_WRITE_WARNING) console.warn('coio: SSL transport write after close or connection lost.');
      return;
    }
    if (data.length === 0) return;
    if (this.state === SSLProtocolState.WRAPPED && this.backlogSize === 0) {
      const conn = this.sslObj!._conn!;
      // In partial-write mode SSL_write returns after each record: encrypt on to
      // the end of the data now (nothing else would before the peer sends more).
      let off = 0;
      let n = 0;
      while (off < data.length && (n = conn.write(data, off, data.length - off)) > 0) off += n;
      if (off === data.length) {
        this.processOutgoing();
        return;
      }
      if (n < 0 && n !== SSL_ERROR_WANT_READ && n !== SSL_ERROR_WANT_WRITE) return this.writeFailed();
      this.pushBacklog(data.subarray(off));
      this.processOutgoing();
      return;
    }
    this.pushBacklog(data);
    if (this.state === SSLProtocolState.WRAPPED) this.doWrite();
    else this.controlAppWriting();
  }

  private pushBacklog(data: Uint8Array): void {
    // A copy: the caller may reuse its buffer (or it is a borrowed view).
    this.backlog.push(Buffer.from(data));
    this.backlogSize += data.length;
  }

  private writeFailed(): void {
    const failure = this.sslObj?._conn?.takeError() ?? null;
    this.fatalError(failure !== null ? sslErrorFrom(failure) : new SSLError('SSL write failed'), 'Fatal error on SSL transport', false);
  }

  /** Encrypt the backlog. */
  private doWrite(): void {
    const conn = this.sslObj?._conn;
    if (conn == null) return;
    while (this.backlog.length > 0) {
      const data = this.backlog[0]!;
      const n = conn.write(data, 0, data.length);
      if (n < 0) {
        if (n === SSL_ERROR_WANT_READ || n === SSL_ERROR_WANT_WRITE) break;
        return this.writeFailed();
      }
      this.backlogSize -= n;
      if (n < data.length) this.backlog[0] = data.subarray(n);
      else this.backlog.shift();
    }
    this.processOutgoing();
  }

  /** Hand the ciphertext in the outgoing BIO to the socket transport (unless it is full). */
  private processOutgoing(): void {
    const conn = this.sslObj?._conn;
    const t = this.transport;
    if (conn != null && t !== null && !this.sslWritingPaused) {
      for (;;) {
        const out = (cipherScratch ??= Buffer.allocUnsafe(SCRATCH_SIZE));
        const n = conn.readOut(out, 0, out.length);
        if (n <= 0) break;
        const before = t.getWriteBufferSize();
        t.write(n === out.length ? out : out.subarray(0, n));
        // The socket transport sends at once, copies a small unsent tail, or
        // keeps a large one by reference (WriteBuffer.push). When it kept
        // anything, the scratch may be that reference: it is the
        // transport's now, and the next ciphertext goes into a new one.
        if (t.getWriteBufferSize() > before) cipherScratch = undefined;
        if (this.sslWritingPaused || this.transport === null) break;
      }
    }
    this.controlAppWriting();
  }

  /** @internal Whether the app protocol was told pauseWriting() and not yet resumeWriting(). */
  _isAppWritingPaused(): boolean {
    return this.appWritingPaused;
  }

  /** @internal Bytes the app wrote that are not yet on the wire. */
  _writeBufferSize(): number {
    const conn = this.sslObj?._conn;
    return this.backlogSize + (conn == null ? 0 : conn.pendingOut()) + (this.transport?.getWriteBufferSize() ?? 0);
  }

  private controlAppWriting(): void {
    const size = this._writeBufferSize();
    if (size > this.writeHigh && !this.appWritingPaused) {
      this.appWritingPaused = true;
      try {
        this.app.pauseWriting?.();
      } catch (err) {
        this.loop.callExceptionHandler({ message: 'protocol.pauseWriting() failed', exception: err, transport: this._appTransport, protocol: this.app });
      }
    } else if (size <= this.writeLow && this.appWritingPaused) {
      this.appWritingPaused = false;
      try {
        this.app.resumeWriting?.();
      } catch (err) {
        this.loop.callExceptionHandler({ message: 'protocol.resumeWriting() failed', exception: err, transport: this._appTransport, protocol: this.app });
      }
    }
  }

  /** @internal */
  _setWriteBufferLimits(high?: number, low?: number): void {
    [this.writeHigh, this.writeLow] = writeBufferLimits(high, low);
    this.controlAppWriting();
  }

  /** @internal */
  _getWriteBufferLimits(): [number, number] {
    return [this.writeLow, this.writeHigh];
  }

  // ---- closing ---------------------------------------------------------------

  /** @internal SSLProtocolTransport.close: flush, send close_notify, close. */
  _startShutdown(): void {
    const s = this.state;
    if (s === SSLProtocolState.FLUSHING || s === SSLProtocolState.SHUTDOWN || s === SSLProtocolState.UNWRAPPED) return;
    if (s === SSLProtocolState.DO_HANDSHAKE) {
      this._abort(null);
      return;
    }
    this.startShutdown();
  }

  private startShutdown(): void {
    const s = this.state;
    if (s === SSLProtocolState.FLUSHING || s === SSLProtocolState.SHUTDOWN || s === SSLProtocolState.UNWRAPPED) return;
    this._appTransport._closed = true;
    this.setState(SSLProtocolState.FLUSHING);
    this.shutdownTimer = this.loop.callLater(this.shutdownTimeout, SSLProtocol.shutdownTimeoutCb, this);
    this.doFlush();
  }

  private checkShutdownTimeout(): void {
    this.shutdownTimer = null;
    if (this.state !== SSLProtocolState.FLUSHING && this.state !== SSLProtocolState.SHUTDOWN) return;
    this.lostExc = errnoError(`SSL shutdown timed out after ${this.shutdownTimeout} seconds`, 'ETIMEDOUT');
    this.transport?.abort();
  }

  private doFlush(): void {
    try {
      this.doRead();
      if (this.state !== SSLProtocolState.FLUSHING) return;
      this.doWrite();
      this.setState(SSLProtocolState.SHUTDOWN);
      this.doShutdown();
    } catch (err) {
      this.fatalError(err as Error, 'Fatal error on SSL protocol', false);
    }
  }

  private doShutdown(): void {
    const conn = this.sslObj?._conn;
    if (conn == null || this.state !== SSLProtocolState.SHUTDOWN) return;
    if (!this.shutdownSent) {
      this.shutdownSent = true;
      const r = conn.shutdown();
      conn.takeError(); // a failed close_notify changes nothing: we close anyway
      this.processOutgoing();
      if (r === 1 || this.tcpEof) return this.onShutdownComplete();
    } else if (this.tcpEof) {
      return this.onShutdownComplete();
    }
    // Wait for the peer's close_notify; data it sent before it is dropped.
    const scratch = (plainScratch ??= Buffer.allocUnsafe(SCRATCH_SIZE));
    for (;;) {
      const r = conn.read(scratch, 0, scratch.length);
      if (r > 0) continue;
      if (r === SSL_ERROR_WANT_READ) {
        // The app may have paused reading (and so the socket) before it
        // closed: the peer's close_notify is behind what it sent, read on.
        this.controlSslReading();
        return this.processOutgoing();
      }
      // close_notify (or anything else): done.
      conn.takeError();
      return this.onShutdownComplete();
    }
  }

  private onShutdownComplete(): void {
    this.shutdownTimer?.cancel();
    this.shutdownTimer = null;
    this.callEofReceived();
    this.transport?.close();
  }

  /** @internal SSLProtocolTransport.abort. */
  _abort(exc: Error | null): void {
    this._appTransport._closed = true;
    if (exc !== null) this.lostExc = exc;
    this.transport?.abort();
  }

  /**
   * Close the socket transport after a failure. `report`: also tell the
   * loop's exception handler (a server's failed handshakes, the app's own
   * exceptions); the peer's doing (a reset) never is.
   */
  private fatalError(exc: Error, message: string, report: boolean): void {
    if (report && !isConnectionLost(exc)) {
      this.loop.callExceptionHandler({ message, exception: exc, transport: this.transport, protocol: this });
    }
    this.lostExc ??= exc;
    this._appTransport._closed = true;
    this.transport?.abort();
  }

  private cancelTimers(): void {
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.shutdownTimer?.cancel();
    this.shutdownTimer = null;
  }

  /** @internal */
  _getExtraInfo(name: string): unknown {
    // Computed when asked: parsing the certificate costs more than most connections need.
    const obj = this.state === SSLProtocolState.DO_HANDSHAKE ? null : this.sslObj;
    switch (name) {
      case 'peercert':
        return obj?.getpeercert() ?? undefined;
      case 'cipher':
        return obj?.cipher() ?? undefined;
      case 'compression':
        return obj === null ? undefined : null;
      case 'alpnProtocol':
        return obj === null ? undefined : obj.selectedAlpnProtocol();
      default:
    }
    const v = (this.extra as Record<string, unknown>)[name];
    if (v !== undefined) return v;
    return this.transport?.getExtraInfo(name as keyof ExtraInfo);
  }

  /** @internal */
  _underlying(): Transport | null {
    return this.transport;
  }

  toString(): string {
    return `<SSLProtocol ${this.serverSide ? 'server' : 'client'} ${this.state}>`;
  }
}

/**
 * The transport an app protocol gets over TLS (asyncio's
 * _SSLProtocolTransport): writes are encrypted, reads decrypted; close()
 * sends close_notify first. Half-close (writeEof) does not exist over TLS.
 */
export class SSLProtocolTransport implements Transport {
  /** @internal */ _closed = false;
  /** @internal */ _connLostWrites = 0;

  /** @internal */
  constructor(private readonly ssl: SSLProtocol) {}

  getExtraInfo<K extends keyof ExtraInfo>(name: K, fallback?: ExtraInfo[K]): ExtraInfo[K] | undefined {
    const v = this.ssl._getExtraInfo(name) as ExtraInfo[K] | undefined;
    return v === undefined ? fallback : v;
  }

  setProtocol(protocol: BaseProtocol): void {
    this.ssl.setAppProtocol(protocol);
  }

  getProtocol(): BaseProtocol {
    return this.ssl.getAppProtocol();
  }

  isClosing(): boolean {
    return this._closed;
  }

  /** Send what is buffered, then close_notify, then close the socket; connectionLost(null) follows. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.ssl._startShutdown();
  }

  isReading(): boolean {
    return this.ssl._isReading();
  }

  pauseReading(): void {
    this.ssl._pauseReading();
  }

  resumeReading(): void {
    this.ssl._resumeReading();
  }

  /**
   * Encrypt and send data (or buffer it until the handshake is done).
   * @throws TypeError for data that is not a Uint8Array or string.
   */
  write(data: Uint8Array | string): void {
    this.ssl._write(toBytes(data));
  }

  writelines(list: Iterable<Uint8Array | string>): void {
    const parts: Uint8Array[] = [];
    for (const d of list) parts.push(toBytes(d));
    // One encryption for the batch.
    this.ssl._write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /** @throws RuntimeError: TLS has no half-close. */
  writeEof(): void {
    throw new RuntimeError("SSL doesn't support half-closes");
  }

  canWriteEof(): boolean {
    return false;
  }

  /** Close at once, without close_notify, dropping what is buffered. */
  abort(): void {
    this._closed = true;
    this.ssl._abort(null);
  }

  getWriteBufferSize(): number {
    return this.ssl._writeBufferSize();
  }

  /** @internal loop.sendfile reads the file and writes it here (sendfile(2) cannot encrypt). */
  get _sendfileCompatible(): 'fallback' {
    return 'fallback';
  }

  /** @internal */
  _isProtocolPaused(): boolean {
    return this.ssl._isAppWritingPaused();
  }

  getWriteBufferLimits(): [number, number] {
    return this.ssl._getWriteBufferLimits();
  }

  setWriteBufferLimits(high?: number, low?: number): void {
    this.ssl._setWriteBufferLimits(high, low);
  }

  toString(): string {
    return `<SSLProtocolTransport ${String(this.ssl)}>`;
  }
}

/**
 * Upgrade a connected transport to TLS (asyncio's loop.start_tls): the
 * protocol gets the new transport's data from now on. Returns the TLS
 * transport once the handshake is done.
 * @throws TypeError for a transport that cannot be upgraded; the handshake's
 *   SSLError / SSLCertVerificationError (the transport is closed then).
 */
export function startTls(
  loop: AbstractEventLoop,
  transport: Transport,
  protocol: BaseProtocol,
  sslContext: SSLContext,
  options?: StartTlsOptions,
  initialData?: Uint8Array | null,
): Co<Transport>;
export function* startTls(
  loop: AbstractEventLoop,
  transport: Transport,
  protocol: BaseProtocol,
  sslContext: SSLContext,
  options: StartTlsOptions = {},
  /** @internal Ciphertext already read from the transport (a StreamReader's buffer). */
  initialData: Uint8Array | null = null,
): Coroutine<Transport> {
  if (!(sslContext instanceof SSLContext)) throw new TypeError(`sslContext is expected to be an instance of SSLContext, got ${String(sslContext)}`);
  if (transport instanceof SSLProtocolTransport || typeof (transport as { setProtocol?: unknown }).setProtocol !== 'function' || typeof transport.pauseReading !== 'function') {
    throw new TypeError(`transport ${String(transport)} is not supported by startTls()`);
  }
  const serverSide = options.serverSide ?? false;
  const setup = resolveTls({ ssl: sslContext, serverHostname: options.serverHostname, sslHandshakeTimeout: options.sslHandshakeTimeout, sslShutdownTimeout: options.sslShutdownTimeout }, serverSide, null);
  const waiter = loop.createFuture<unknown>();
  const ssl = new SSLProtocol(loop, protocol, sslContext, waiter, serverSide, setup!.serverHostname, setup!.handshakeTimeout, setup!.shutdownTimeout, false, initialData);
  // Nothing may reach the old protocol from here on.
  transport.pauseReading();
  transport.setProtocol(ssl);
  const conmade = loop.callSoon(() => ssl.connectionMade(transport));
  const resume = loop.callSoon(() => transport.resumeReading());
  try {
    yield* waiter;
  } catch (err) {
    transport.close();
    conmade.cancel();
    resume.cancel();
    throw err;
  }
  return ssl._appTransport;
}
