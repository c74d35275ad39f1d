// loop.sockSendfile and loop.sendfile over real sockets (TCP on 127.0.0.1 and
// ::1, Unix sockets), on every backend: the native path (sendfile(2)) where
// the build has it, the read-and-send fallback for TLS transports, pipes and
// builds without it; the bytes the peer gets (hash), the return value, the
// file's position afterwards, bad arguments, the peer going away,
// cancellation, and what is left open.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CancelledError,
  Event,
  RuntimeError,
  SendfileNotAvailableError,
  createTask,
  newEventLoop,
  openConnection,
  openUnixConnection,
  sleep,
  startServer,
  startUnixServer,
} from '../src/index.js';
import type { AbstractEventLoop, DatagramProtocol, EventLoop, InetAddress, Server, StreamReader, StreamWriter, Transport } from '../src/index.js';
import { native, WOULD_BLOCK } from '../src/native.js';
import { AF_INET, AF_INET6, AF_UNIX, SHUT_WR, SOCK_DGRAM, Socket } from '../src/socket.js';
import { backends, hasUring, loopbackHosts, osBackend, runGuarded, settle, tempDir, useLoop } from './helpers.js';
import { expectLoopLeftNothing } from './core_helpers.js';
import { trackLoop } from './leaks.js';
import type { Co } from './helpers.js';
import { clientContext, serverContext } from './tls_helpers.js';

const dir = tempDir();
/** Several MiB and an odd size, so no chunk size divides it. */
const DATA = randomBytes(6 * 1024 * 1024 + 12345);
const SIZE = DATA.length;
const dataPath = join(dir, 'data.bin');
writeFileSync(dataPath, DATA);
const emptyPath = join(dir, 'empty.bin');
writeFileSync(emptyPath, '');

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** Whether sendfile(2) is compiled in: else every native attempt is SendfileNotAvailableError. */
const hasNative = native.build.sendfile;
/** The syscall a connection error comes from: sendfile(2), or send(2) of the fallback. */
const sendSyscall = hasNative ? 'sendfile' : 'send';

/** The file's position (lseek SEEK_CUR). */
const position = (fd: number): number => native.lseek(fd, 0, 1);

/** What the endpoints run over: each loopback host, and a Unix socket. */
const endpoints: string[] = [...loopbackHosts, 'unix'];
let unixCount = 0;
const unixPath = (): string => join(dir, `s${unixCount++}.sock`);

/** A connected pair [ours, peer] over `kind`. */
function* socketPair(loop: EventLoop, kind: string): Co<[Socket, Socket]> {
  const unix = kind === 'unix';
  const srv = new Socket(unix ? AF_UNIX : kind.includes(':') ? AF_INET6 : AF_INET);
  try {
    const path = unix ? unixPath() : '';
    srv.bind(unix ? path : [kind, 0]);
    srv.listen();
    const client = new Socket(srv.family);
    const accepted = createTask(loop.sockAccept(srv));
    try {
      if (unix) {
        yield* loop.sockConnect(client, path);
      } else {
        const addr = srv.getsockname() as InetAddress;
        yield* loop.sockConnect(client, [addr.address, addr.port]);
      }
    } catch (err) {
      client.close();
      throw err;
    }
    const [conn] = yield* accepted;
    return [conn, client];
  } finally {
    srv.close();
  }
}

/** Everything the socket receives until EOF. */
function* readAll(loop: EventLoop, sock: Socket): Co<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const b = yield* loop.sockRecv(sock, 1 << 20);
    if (b.length === 0) return Buffer.concat(parts);
    parts.push(b);
  }
}

/** Small kernel buffers, so a send of the file fills them and has to wait. */
function smallBuffers(ours: Socket, peer: Socket): void {
  ours.setsockopt('SO_SNDBUF', 64 * 1024);
  peer.setsockopt('SO_RCVBUF', 64 * 1024);
}

/** Write data into a pipe's write end as it takes it, then close that end. */
function* feedPipe(loop: AbstractEventLoop, wfd: number, data: Buffer): Co<void> {
  let off = 0;
  try {
    while (off < data.length) {
      const n = native.write(wfd, data, off, data.length - off);
      if (n !== WOULD_BLOCK) {
        off += n;
        continue;
      }
      const ready = loop.createFuture<void>();
      loop.addWriter(wfd, () => {
        if (!ready.done()) ready.setResult(undefined);
      });
      try {
        yield* ready;
      } finally {
        loop.removeWriter(wfd);
      }
    }
  } finally {
    native.close(wfd);
  }
}

/** Drain what is left in a pipe's read end (non-blocking), until EOF. */
function* drainPipe(loop: AbstractEventLoop, rfd: number): Co<Buffer> {
  const parts: Buffer[] = [];
  const buf = Buffer.allocUnsafe(65536);
  for (;;) {
    const n = native.read(rfd, buf, 0, buf.length);
    if (n === 0) return Buffer.concat(parts);
    if (n !== WOULD_BLOCK) {
      parts.push(Buffer.from(buf.subarray(0, n)));
      continue;
    }
    const ready = loop.createFuture<void>();
    loop.addReader(rfd, () => {
      if (!ready.done()) ready.setResult(undefined);
    });
    try {
      yield* ready;
    } finally {
      loop.removeReader(rfd);
    }
  }
}

/** A stream server on `kind` (a loopback host or 'unix') and a client connection to it. */
function* serverAndClient(
  kind: string,
  handler: (reader: StreamReader, writer: StreamWriter) => Co<void>,
  tls = false,
): Co<[Server, StreamReader, StreamWriter]> {
  if (kind === 'unix') {
    const path = unixPath();
    const server = yield* startUnixServer(handler, path, tls ? { ssl: serverContext() } : {});
    const [r, w] = yield* openUnixConnection(path, tls ? { ssl: clientContext(), serverHostname: 'localhost' } : {});
    return [server, r, w];
  }
  const server = yield* startServer(handler, kind, 0, tls ? { ssl: serverContext() } : {});
  const port = (server.addresses()[0] as InetAddress).port;
  const [r, w] = yield* openConnection(kind, port, tls ? { ssl: clientContext(), serverHostname: 'localhost' } : {});
  return [server, r, w];
}

function* closeAll(server: Server, w: StreamWriter): Co<void> {
  w.close();
  try {
    yield* w.waitClosed();
  } catch {
    // the connection broke first: closed all the same
  }
  server.close();
  server.closeClients();
  yield* server.waitClosed();
}

describe('the build', () => {
  it('has sendfile(2) exactly where the OS files give one (native.build.sendfile)', () => {
    // Linux, macOS and FreeBSD builds make the call; the portable build, and
    // OpenBSD / NetBSD, have none.
    expect(native.build.sendfile).toBe(osBackend !== null && !/^(openbsd|netbsd)$/.test(process.platform));
  });

  it('SendfileNotAvailableError is a RuntimeError, as in asyncio', () => {
    const err = new SendfileNotAvailableError('x');
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.name).toBe('SendfileNotAvailableError');
  });
});

describe.each(backends)('%s backend', (backend) => {
  const t = useLoop(backend);
  const run = <T>(coro: Co<T>): T => runGuarded(t.loop, coro, 60);

  describe('loop.sockSendfile', () => {
    it.each(endpoints)('sends the whole file over %s: the bytes, the count, the position', (kind) => {
      const fd = openSync(dataPath, 'r');
      try {
        const [sent, got] = run(
          (function* (): Co<[number, Buffer]> {
            const [a, b] = yield* socketPair(t.loop, kind);
            try {
              const reader = createTask(readAll(t.loop, b));
              // fallback: false where the build has sendfile(2): the native path itself.
              const n = yield* t.loop.sockSendfile(a, fd, 0, null, { fallback: !hasNative });
              a.shutdown(SHUT_WR);
              return [n, yield* reader];
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(sent).toBe(SIZE);
        expect(got.length).toBe(SIZE);
        expect(sha(got)).toBe(sha(DATA));
        expect(position(fd)).toBe(SIZE);
      } finally {
        closeSync(fd);
      }
    });

    it.each([
      ['offset and count', 1000, 2_000_000, 2_000_000],
      ['a count past the end of the file', SIZE - 100, 1000, 100],
      ['an offset at the end of the file', SIZE, null, 0],
      ['an offset past the end of the file', SIZE + 5000, 10, 0],
      ['an offset, no count', 4097, null, SIZE - 4097],
    ] as const)('%s: sends what the file has there, the position ends after it', (_what, offset, count, expected) => {
      const fd = openSync(dataPath, 'r');
      try {
        native.lseek(fd, 7, 0);
        const [sent, got] = run(
          (function* (): Co<[number, Buffer]> {
            const [a, b] = yield* socketPair(t.loop, '127.0.0.1');
            try {
              const reader = createTask(readAll(t.loop, b));
              const n = yield* t.loop.sockSendfile(a, fd, offset, count);
              a.shutdown(SHUT_WR);
              return [n, yield* reader];
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(sent).toBe(expected);
        expect(sha(got)).toBe(sha(DATA.subarray(offset, offset + expected)));
        // Nothing sent: the position is left where it was.
        expect(position(fd)).toBe(expected === 0 ? 7 : offset + expected);
      } finally {
        closeSync(fd);
      }
    });

    it('an empty file sends nothing and returns 0', () => {
      const fd = openSync(emptyPath, 'r');
      try {
        const [sent, got] = run(
          (function* (): Co<[number, Buffer]> {
            const [a, b] = yield* socketPair(t.loop, '127.0.0.1');
            try {
              const reader = createTask(readAll(t.loop, b));
              const n = yield* t.loop.sockSendfile(a, fd);
              a.shutdown(SHUT_WR);
              return [n, yield* reader];
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(sent).toBe(0);
        expect(got.length).toBe(0);
        expect(position(fd)).toBe(0);
      } finally {
        closeSync(fd);
      }
    });

    it('takes a FileHandle (fs.promises.open) and mixes with plain sends', async () => {
      const fh = await open(dataPath, 'r');
      try {
        const got = run(
          (function* (): Co<Buffer> {
            const [a, b] = yield* socketPair(t.loop, 'unix');
            try {
              const reader = createTask(readAll(t.loop, b));
              yield* t.loop.sockSendall(a, 'head');
              expect(yield* t.loop.sockSendfile(a, fh, 10, 100_000)).toBe(100_000);
              yield* t.loop.sockSendall(a, 'tail');
              a.shutdown(SHUT_WR);
              return yield* reader;
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(sha(got)).toBe(sha(Buffer.concat([Buffer.from('head'), DATA.subarray(10, 100_010), Buffer.from('tail')])));
        expect(position(fh.fd)).toBe(100_010);
      } finally {
        await fh.close();
      }
    });

    it('a pipe is no regular file: the fallback reads and sends it; fallback: false refuses and consumes nothing', () => {
      const [rfd, wfd] = native.pipe();
      const payload = DATA.subarray(0, 1024 * 1024 + 7);
      try {
        const [refused, sent, got] = run(
          (function* (): Co<[unknown, number, Buffer]> {
            const [a, b] = yield* socketPair(t.loop, '127.0.0.1');
            try {
              const feeder = createTask(feedPipe(t.loop, wfd, payload));
              let refusal: unknown = null;
              try {
                yield* t.loop.sockSendfile(a, rfd, 0, null, { fallback: false });
              } catch (err) {
                refusal = err;
              }
              // A pipe does not seek: an offset is refused before anything is read.
              let espipe: unknown = null;
              try {
                yield* t.loop.sockSendfile(a, rfd, 1);
              } catch (err) {
                espipe = err;
              }
              expect((espipe as NodeJS.ErrnoException).code).toBe('ESPIPE');
              const reader = createTask(readAll(t.loop, b));
              const n = yield* t.loop.sockSendfile(a, rfd);
              yield* feeder;
              a.shutdown(SHUT_WR);
              return [refusal, n, yield* reader];
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(refused).toBeInstanceOf(SendfileNotAvailableError);
        expect(sent).toBe(payload.length);
        expect(sha(got)).toBe(sha(payload));
      } finally {
        native.close(rfd);
      }
    });

    it('a count stops the fallback there too, and the rest stays in the pipe', () => {
      const [rfd, wfd] = native.pipe();
      const payload = DATA.subarray(0, 300_000);
      try {
        const [sent, got, rest] = run(
          (function* (): Co<[number, Buffer, Buffer]> {
            const [a, b] = yield* socketPair(t.loop, 'unix');
            try {
              const feeder = createTask(feedPipe(t.loop, wfd, payload));
              const reader = createTask(readAll(t.loop, b));
              const n = yield* t.loop.sockSendfile(a, rfd, 0, 100_001);
              a.shutdown(SHUT_WR);
              const received = yield* reader;
              const left = yield* drainPipe(t.loop, rfd);
              yield* feeder;
              return [n, received, left];
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(sent).toBe(100_001);
        expect(sha(got)).toBe(sha(payload.subarray(0, 100_001)));
        expect(sha(rest)).toBe(sha(payload.subarray(100_001)));
      } finally {
        native.close(rfd);
      }
    });

    it('fallback: false where the build has no sendfile call raises SendfileNotAvailableError, else sends', () => {
      const fd = openSync(dataPath, 'r');
      try {
        const outcome = run(
          (function* (): Co<unknown> {
            const [a, b] = yield* socketPair(t.loop, '127.0.0.1');
            try {
              const reader = createTask(readAll(t.loop, b));
              let result: unknown;
              try {
                result = yield* t.loop.sockSendfile(a, fd, 0, 5000, { fallback: false });
              } catch (err) {
                result = err;
              }
              a.shutdown(SHUT_WR);
              const got = yield* reader;
              // Refused: nothing went out, the position did not move.
              if (result instanceof SendfileNotAvailableError) {
                expect(got.length).toBe(0);
                expect(position(fd)).toBe(0);
              }
              return result;
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        if (hasNative) expect(outcome).toBe(5000);
        else expect(outcome).toBeInstanceOf(SendfileNotAvailableError);
      } finally {
        closeSync(fd);
      }
    });

    it('bad arguments: TypeError / RangeError before anything is read or sent', () => {
      const fd = openSync(dataPath, 'r');
      try {
        const got = run(
          (function* (): Co<Buffer> {
            const [a, b] = yield* socketPair(t.loop, '127.0.0.1');
            const udp = new Socket(AF_INET, SOCK_DGRAM);
            try {
              const reader = createTask(readAll(t.loop, b));
              const bad: Array<[() => Co<number>, new (...args: never[]) => Error, RegExp]> = [
                [() => t.loop.sockSendfile(a, 'data.bin' as unknown as number), TypeError, /"file" argument must be an fd/],
                [() => t.loop.sockSendfile(a, { fd: '3' } as unknown as number), TypeError, /"file" argument/],
                [() => t.loop.sockSendfile(a, -1), RangeError, /"file"/],
                [() => t.loop.sockSendfile(a, 1.5), RangeError, /"file"/],
                [() => t.loop.sockSendfile(a, fd, -1), RangeError, /"offset" is out of range/],
                [() => t.loop.sockSendfile(a, fd, 0.5), RangeError, /"offset"/],
                [() => t.loop.sockSendfile(a, fd, '0' as unknown as number), TypeError, /"offset" argument/],
                [() => t.loop.sockSendfile(a, fd, 0, 0), RangeError, /"count" is out of range/],
                [() => t.loop.sockSendfile(a, fd, 0, -5), RangeError, /"count"/],
                [() => t.loop.sockSendfile(a, fd, 0, '5' as unknown as number), TypeError, /"count" argument/],
                [() => t.loop.sockSendfile(a, fd, 0, null, { fallback: 'no' as unknown as boolean }), TypeError, /"options.fallback"/],
                [() => t.loop.sockSendfile(a, fd, 0, null, 5 as never), TypeError, /"options"/],
                [() => t.loop.sockSendfile(fd as unknown as Socket, fd), TypeError, /"sock" argument must be a Socket/],
                [() => t.loop.sockSendfile(udp, fd), RangeError, /SOCK_STREAM/],
              ];
              for (const [call, type, message] of bad) {
                let caught: unknown = null;
                try {
                  yield* call();
                } catch (err) {
                  caught = err;
                }
                expect(caught).toBeInstanceOf(type);
                expect(String((caught as Error).message)).toMatch(message);
              }
              // Nothing was read from the file or sent: the position is where it was.
              expect(position(fd)).toBe(0);
              // And the socket still works: the whole file comes through.
              expect(yield* t.loop.sockSendfile(a, fd)).toBe(SIZE);
              a.shutdown(SHUT_WR);
              return yield* reader;
            } finally {
              udp.close();
              a.close();
              b.close();
            }
          })(),
        );
        expect(sha(got)).toBe(sha(DATA));
      } finally {
        closeSync(fd);
      }
    });

    it('a closed fd or FileHandle is EBADF; a closed socket is EBADF', async () => {
      const fh = await open(dataPath, 'r');
      await fh.close();
      const gone = openSync(dataPath, 'r');
      closeSync(gone);
      run(
        (function* (): Co<void> {
          const [a, b] = yield* socketPair(t.loop, '127.0.0.1');
          try {
            for (const file of [fh, gone]) {
              let caught: unknown = null;
              try {
                yield* t.loop.sockSendfile(a, file);
              } catch (err) {
                caught = err;
              }
              expect((caught as NodeJS.ErrnoException).code).toBe('EBADF');
            }
            a.close();
            let caught: unknown = null;
            try {
              yield* t.loop.sockSendfile(a, 0);
            } catch (err) {
              caught = err;
            }
            expect(caught).toMatchObject({ code: 'EBADF', syscall: 'sendfile' });
          } finally {
            a.close();
            b.close();
          }
        })(),
      );
    });

    it.each(endpoints)('the peer closing mid-send over %s: an errno Error (code, errno, syscall), the position says how far', (kind) => {
      const fd = openSync(dataPath, 'r');
      try {
        const err = run(
          (function* (): Co<unknown> {
            const [a, b] = yield* socketPair(t.loop, kind);
            try {
              smallBuffers(a, b);
              const sending = createTask(t.loop.sockSendfile(a, fd));
              // Take a little, then close with data unread: the kernel resets the connection.
              yield* t.loop.sockRecv(b, 4096);
              b.close();
              try {
                yield* sending;
              } catch (e) {
                return e;
              }
              return null;
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(['EPIPE', 'ECONNRESET']).toContain((err as NodeJS.ErrnoException).code);
        expect((err as NodeJS.ErrnoException).errno).toBeLessThan(0);
        expect((err as NodeJS.ErrnoException).syscall).toBe(sendSyscall);
        const pos = position(fd);
        expect(pos).toBeGreaterThan(0);
        expect(pos).toBeLessThan(SIZE);
      } finally {
        closeSync(fd);
      }
    });

    it('cancelled while waiting for the socket: the position says what went out, and the socket carries on from there', () => {
      const fd = openSync(dataPath, 'r');
      try {
        const [pos, got, rest] = run(
          (function* (): Co<[number, Buffer, Buffer]> {
            const [a, b] = yield* socketPair(t.loop, '127.0.0.1');
            try {
              smallBuffers(a, b);
              const sending = createTask(t.loop.sockSendfile(a, fd));
              yield* sleep(0.05);
              expect(sending.done()).toBe(false);
              sending.cancel();
              let caught: unknown = null;
              try {
                yield* sending;
              } catch (e) {
                caught = e;
              }
              expect(caught).toBeInstanceOf(CancelledError);
              const at = position(fd);
              // The rest of the file, from where the position says.
              const reader = createTask(readAll(t.loop, b));
              const more = yield* t.loop.sockSendfile(a, fd, at);
              a.shutdown(SHUT_WR);
              const received = yield* reader;
              expect(more).toBe(SIZE - at);
              return [at, received, DATA.subarray(at)];
            } finally {
              a.close();
              b.close();
            }
          })(),
        );
        expect(pos).toBeGreaterThan(0);
        expect(pos).toBeLessThan(SIZE);
        expect(got.length).toBe(SIZE);
        expect(sha(got)).toBe(sha(DATA));
        expect(rest.length).toBe(SIZE - pos);
      } finally {
        closeSync(fd);
      }
    });
  });

  describe('loop.sendfile', () => {
    it.each(endpoints)('a plain transport over %s: flushes what was written first, refuses write() meanwhile, resumes reading', (kind) => {
      const fd = openSync(dataPath, 'r');
      const head = DATA.subarray(0, 3 * 1024 * 1024); // more than the socket takes at once
      let nativeKind = false;
      try {
        const [sent, refused, got] = run(
          (function* (): Co<[number, unknown, Buffer]> {
            const start = new Event();
            let sent = -1;
            let refused: unknown = null;
            const handler = function* (reader: StreamReader, writer: StreamWriter): Co<void> {
              const transport = writer.transport as Transport;
              (transport.getExtraInfo('socket') as Socket).setsockopt('SO_SNDBUF', 64 * 1024);
              writer.write(head);
              expect(transport.getWriteBufferSize()).toBeGreaterThan(0);
              // The proactor transports (io_uring's default) take the
              // fallback: only a transport of the native kind refuses writes.
              nativeKind = (transport as unknown as { _sendfileCompatible: string })._sendfileCompatible === 'native';
              const sending = createTask(t.loop.sendfile(transport, fd));
              yield* sleep(0.02);
              start.set();
              // The native path refuses writes while it runs (the fallback,
              // as asyncio's, takes them, and they land in the file's stream).
              if (hasNative && nativeKind && !sending.done()) {
                try {
                  transport.write('x');
                } catch (err) {
                  refused = err;
                }
              }
              sent = yield* sending;
              expect(transport.isReading()).toBe(true);
              writer.write('tail');
              // Reading resumed: the client's line arrives.
              const line = yield* reader.readLine();
              writer.write(line);
              writer.close();
            };
            const [server, r, w] = yield* serverAndClient(kind, handler);
            try {
              yield* start.wait();
              const received = yield* r.readExactly(head.length + SIZE + 4);
              w.write('bye\n');
              const echo = yield* r.read();
              expect(echo.toString()).toBe('bye\n');
              return [sent, refused, received];
            } finally {
              yield* closeAll(server, w);
            }
          })(),
        );
        expect(sent).toBe(SIZE);
        expect(sha(got)).toBe(sha(Buffer.concat([head, DATA, Buffer.from('tail')])));
        expect(position(fd)).toBe(SIZE);
        if (hasNative && nativeKind) {
          expect(refused).toBeInstanceOf(RuntimeError);
          expect((refused as Error).message).toMatch(/sendfile is in progress/);
        }
      } finally {
        closeSync(fd);
      }
    });

    it.each(endpoints)('a TLS transport over %s takes the fallback: the exact bytes; fallback: false refuses and sends nothing', (kind) => {
      const fd = openSync(dataPath, 'r');
      try {
        const [refusal, sent, got] = run(
          (function* (): Co<[unknown, number, Buffer]> {
            let refusal: unknown = null;
            let sent = -1;
            const handler = function* (_reader: StreamReader, writer: StreamWriter): Co<void> {
              const transport = writer.transport as Transport;
              try {
                yield* t.loop.sendfile(transport, fd, 0, null, { fallback: false });
              } catch (err) {
                refusal = err;
              }
              writer.write('<');
              sent = yield* t.loop.sendfile(transport, fd, 5, 3_000_000);
              writer.write('>');
              writer.close();
            };
            const [server, r, w] = yield* serverAndClient(kind, handler, true);
            try {
              const received = yield* r.read();
              const rest: Buffer[] = [received];
              for (;;) {
                const chunk = yield* r.read(1 << 20);
                if (chunk.length === 0) break;
                rest.push(chunk);
              }
              return [refusal, sent, Buffer.concat(rest)];
            } finally {
              yield* closeAll(server, w);
            }
          })(),
        );
        expect(refusal).toBeInstanceOf(SendfileNotAvailableError);
        expect((refusal as Error).message).toMatch(/fallback is disabled/);
        expect(sent).toBe(3_000_000);
        expect(sha(got)).toBe(sha(Buffer.concat([Buffer.from('<'), DATA.subarray(5, 3_000_005), Buffer.from('>')])));
        expect(position(fd)).toBe(3_000_005);
      } finally {
        closeSync(fd);
      }
    });

    it('a pipe as the file over a plain transport takes the fallback', () => {
      const [rfd, wfd] = native.pipe();
      const payload = DATA.subarray(100, 2 * 1024 * 1024 + 100);
      try {
        const [sent, got] = run(
          (function* (): Co<[number, Buffer]> {
            let sent = -1;
            const feeder = createTask(feedPipe(t.loop, wfd, payload));
            const handler = function* (_reader: StreamReader, writer: StreamWriter): Co<void> {
              sent = yield* t.loop.sendfile(writer.transport as Transport, rfd);
              writer.close();
            };
            const [server, r, w] = yield* serverAndClient('127.0.0.1', handler);
            try {
              const parts: Buffer[] = [];
              for (;;) {
                const chunk = yield* r.read(1 << 20);
                if (chunk.length === 0) break;
                parts.push(chunk);
              }
              yield* feeder;
              return [sent, Buffer.concat(parts)];
            } finally {
              yield* closeAll(server, w);
            }
          })(),
        );
        expect(sent).toBe(payload.length);
        expect(sha(got)).toBe(sha(payload));
      } finally {
        native.close(rfd);
      }
    });

    it('the peer closing mid-send: an errno Error (code, errno, syscall)', () => {
      const fd = openSync(dataPath, 'r');
      try {
        const err = run(
          (function* (): Co<unknown> {
            let failure: unknown = null;
            const done = new Event();
            const handler = function* (_reader: StreamReader, writer: StreamWriter): Co<void> {
              const transport = writer.transport as Transport;
              (transport.getExtraInfo('socket') as Socket).setsockopt('SO_SNDBUF', 64 * 1024);
              try {
                yield* t.loop.sendfile(transport, fd);
              } catch (e) {
                failure = e;
              } finally {
                writer.close();
                done.set();
              }
            };
            const [server, r, w] = yield* serverAndClient('127.0.0.1', handler);
            try {
              (w.transport.getExtraInfo('socket') as Socket).setsockopt('SO_RCVBUF', 64 * 1024);
              yield* r.readExactly(4096);
              // Close with data unread: the kernel resets the connection.
              w.transport.abort();
              yield* done.wait();
              return failure;
            } finally {
              yield* closeAll(server, w);
            }
          })(),
        );
        expect(['EPIPE', 'ECONNRESET']).toContain((err as NodeJS.ErrnoException).code);
        expect((err as NodeJS.ErrnoException).errno).toBeLessThan(0);
        expect(typeof (err as NodeJS.ErrnoException).syscall).toBe('string');
        const pos = position(fd);
        expect(pos).toBeGreaterThan(0);
        expect(pos).toBeLessThan(SIZE);
      } finally {
        closeSync(fd);
      }
    });

    it('refuses a closing transport, a datagram transport and bad arguments before sending anything; the transport works afterwards', () => {
      const fd = openSync(dataPath, 'r');
      try {
        const got = run(
          (function* (): Co<Buffer> {
            const [udp] = yield* t.loop.createDatagramEndpoint((): DatagramProtocol => ({ datagramReceived() {} }), { localAddr: ['127.0.0.1', 0] });
            let result: Buffer = Buffer.alloc(0);
            const checked = new Event();
            const handler = function* (_reader: StreamReader, writer: StreamWriter): Co<void> {
              const transport = writer.transport as Transport;
              const bad: Array<[() => Co<number>, new (...args: never[]) => Error, RegExp]> = [
                [() => t.loop.sendfile(null as unknown as Transport, fd), TypeError, /"transport" argument/],
                [() => t.loop.sendfile(udp as unknown as Transport, fd), RuntimeError, /not supported for transport/],
                [() => t.loop.sendfile(transport, 'x' as unknown as number), TypeError, /"file" argument/],
                [() => t.loop.sendfile(transport, fd, -1), RangeError, /"offset"/],
                [() => t.loop.sendfile(transport, fd, 0, 0), RangeError, /"count"/],
                [() => t.loop.sendfile(transport, fd, 0, null, { fallback: 1 as unknown as boolean }), TypeError, /"options.fallback"/],
              ];
              for (const [call, type, message] of bad) {
                let caught: unknown = null;
                try {
                  yield* call();
                } catch (err) {
                  caught = err;
                }
                expect(caught).toBeInstanceOf(type);
                expect(String((caught as Error).message)).toMatch(message);
              }
              expect(position(fd)).toBe(0);
              expect(yield* t.loop.sendfile(transport, fd, 0, 1000)).toBe(1000);
              writer.close();
              // Closing now: refused.
              let caught: unknown = null;
              try {
                yield* t.loop.sendfile(transport, fd);
              } catch (err) {
                caught = err;
              }
              expect(caught).toBeInstanceOf(RuntimeError);
              expect((caught as Error).message).toMatch(/Transport is closing/);
              checked.set();
            };
            const [server, r, w] = yield* serverAndClient('127.0.0.1', handler);
            try {
              const parts: Buffer[] = [];
              for (;;) {
                const chunk = yield* r.read(1 << 20);
                if (chunk.length === 0) break;
                parts.push(chunk);
              }
              yield* checked.wait();
              result = Buffer.concat(parts);
              return result;
            } finally {
              udp.close();
              yield* closeAll(server, w);
            }
          })(),
        );
        expect(sha(got)).toBe(sha(DATA.subarray(0, 1000)));
        expect(position(fd)).toBe(1000);
      } finally {
        closeSync(fd);
      }
    });
  });

  it('leaves no fd behind: native, fallback, refused and failed sends', () => {
    const before = native.countOpenFds();
    const fd = openSync(dataPath, 'r');
    run(
      (function* (): Co<void> {
        for (const kind of endpoints) {
          const [a, b] = yield* socketPair(t.loop, kind);
          try {
            smallBuffers(a, b);
            const sending = createTask(t.loop.sockSendfile(a, fd));
            yield* t.loop.sockRecv(b, 4096);
            b.close();
            try {
              yield* sending;
            } catch {
              // the reset this test makes
            }
          } finally {
            a.close();
            b.close();
          }
        }
      })(),
    );
    closeSync(fd);
    expect(native.countOpenFds()).toBe(before);
  });
});

describe.runIf(hasUring)('loop.sendfile on the io_uring loop with proactor transports', () => {
  let loop: EventLoop;
  beforeEach(() => {
    loop = trackLoop(newEventLoop({ selector: 'io_uring', transports: 'proactor' }));
  });
  afterEach(() => {
    try {
      if (!loop.isClosed()) {
        loop.runUntilComplete(settle());
        expectLoopLeftNothing(loop);
      }
    } finally {
      if (!loop.isClosed()) loop.close();
    }
  });

  it.each(loopbackHosts)('takes the fallback over %s: the exact bytes, the count, the position', (host) => {
    const fd = openSync(dataPath, 'r');
    try {
      const [sent, got] = runGuarded(
        loop,
        (function* (): Co<[number, Buffer]> {
          let sent = -1;
          const handler = function* (_reader: StreamReader, writer: StreamWriter): Co<void> {
            writer.write('<');
            sent = yield* loop.sendfile(writer.transport as Transport, fd, 3, SIZE - 10);
            writer.write('>');
            writer.close();
          };
          const [server, r, w] = yield* serverAndClient(host, handler);
          try {
            const parts: Buffer[] = [];
            for (;;) {
              const chunk = yield* r.read(1 << 20);
              if (chunk.length === 0) break;
              parts.push(chunk);
            }
            return [sent, Buffer.concat(parts)];
          } finally {
            yield* closeAll(server, w);
          }
        })(),
        60,
      );
      expect(sent).toBe(SIZE - 10);
      expect(sha(got)).toBe(sha(Buffer.concat([Buffer.from('<'), DATA.subarray(3, SIZE - 7), Buffer.from('>')])));
      expect(position(fd)).toBe(SIZE - 7);
    } finally {
      closeSync(fd);
    }
  });
});
