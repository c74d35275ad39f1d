// TLS under bad input and load: garbage and plaintext to a TLS port, a
// ClientHello cut in half (the handshake timeout), peers that vanish, a
// 16 MiB write, a reader that never reads, cancelled reads, many concurrent
// clients, STARTTLS with bytes already buffered, and a Node without the TLS
// addon. Nothing may crash or leak (test/setup.ts counts fds), and the server
// keeps serving.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CancelledError, SSLError, SSLObject, gather, openConnection, sleep, startServer } from '../src/index.js';
import type { BufferedProtocol, ExceptionContext, Server, StreamReader, StreamWriter, Transport } from '../src/index.js';
import { backends, runGuarded, useLoop } from './helpers.js';
import type { Co } from './helpers.js';
import { runNode } from './children.js';
import { ensureDist, root } from './dist.js';
import { clientContext, echo, portOf, serverContext } from './tls_helpers.js';

/** A real ClientHello (made by an SSLObject that is never connected). */
function clientHello(): Buffer {
  const obj = new SSLObject(clientContext(), false, 'localhost');
  obj._conn!.handshake();
  const hello = obj._conn!.takeOut()!;
  obj._release();
  return hello;
}

/** Read until EOF, tolerating a reset; the bytes read. */
function* drainToEof(r: StreamReader): Co<number> {
  let n = 0;
  try {
    for (;;) {
      const b = yield* r.read(65536);
      if (b.length === 0) return n;
      n += b.length;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') throw err;
    return n;
  }
}

function* stillServes(server: Server): Co<void> {
  const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
  w.write('alive?\n');
  expect(String(yield* r.readLine())).toBe('alive?\n');
  w.close();
  yield* w.waitClosed();
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe.each(backends)('TLS robustness on %s', (backend) => {
  const ctx = useLoop(backend);
  const run = <T>(coro: Co<T>): T => runGuarded(ctx.loop, coro, 90);

  test('plaintext HTTP, random bytes, half a ClientHello and silence, early closes: each connection fails alone', () => {
    const errors: ExceptionContext[] = [];
    ctx.loop.setExceptionHandler((_l, c) => void errors.push(c));
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext(), sslHandshakeTimeout: 0.3 });
        try {
          const port = portOf(server);
          for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'), randomBytes(4096)]) {
            const [r, w] = yield* openConnection('127.0.0.1', port);
            w.write(junk);
            yield* drainToEof(r);
            w.close();
          }
          // Half a ClientHello, then nothing: the handshake timeout closes it.
          const hello = clientHello();
          const started = ctx.loop.time();
          const [r, w] = yield* openConnection('127.0.0.1', port);
          w.write(hello.subarray(0, hello.length >> 1));
          expect(yield* drainToEof(r)).toBe(0);
          expect(ctx.loop.time() - started).toBeGreaterThan(0.25);
          w.close();
          // Close at once, and close after half a hello: nothing to report (the peer's doing).
          const [, w1] = yield* openConnection('127.0.0.1', port);
          w1.transport.abort();
          const [, w2] = yield* openConnection('127.0.0.1', port);
          w2.write(hello.subarray(0, 20));
          yield* sleep(0.02);
          w2.transport.abort();
          yield* sleep(0.05);
          yield* stillServes(server);
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
    const codes = errors.map((e) => (e.exception as SSLError).code);
    expect(codes).toHaveLength(3);
    expect(codes[0]).toBe('ERR_SSL_HTTP_REQUEST');
    expect(errors[0]!.exception).toBeInstanceOf(SSLError);
    expect(errors[1]!.exception).toBeInstanceOf(SSLError);
    expect(codes[2]).toBe('ECONNABORTED');
    expect((errors[2]!.exception as Error).message).toMatch(/SSL handshake is taking longer than 0.3 seconds/);
  });

  test('a client: handshake timeout against a silent server, and a cancelled connect leaves nothing behind', () => {
    run(
      (function* () {
        // A plain TCP server that never answers the ClientHello.
        const silent = yield* startServer(function* (r) {
          yield* drainToEof(r);
        }, '127.0.0.1', 0);
        try {
          let err: unknown;
          try {
            yield* openConnection('127.0.0.1', portOf(silent), { ssl: clientContext(), serverHostname: 'localhost', sslHandshakeTimeout: 0.2 });
          } catch (e) {
            err = e;
          }
          expect((err as NodeJS.ErrnoException).code).toBe('ECONNABORTED');
          const task = ctx.loop.createTask(openConnection('127.0.0.1', portOf(silent), { ssl: clientContext(), serverHostname: 'localhost' }));
          yield* sleep(0.05);
          task.cancel();
          let cancelled: unknown;
          try {
            yield* task;
          } catch (e) {
            cancelled = e;
          }
          expect(cancelled).toBeInstanceOf(CancelledError);
          yield* sleep(0.02);
        } finally {
          silent.close();
          silent.closeClients();
          yield* silent.waitClosed();
        }
      })(),
    );
  });

  test('a peer that closes without close_notify: the app reads EOF after the data', () => {
    run(
      (function* () {
        const got: string[] = [];
        const server = yield* startServer(
          function* (r, w) {
            for (;;) {
              const b = yield* r.read(100);
              if (String(b) === 'alive?\n') w.write(b); // stillServes
              else got.push(String(b));
              if (b.length === 0) break;
            }
            w.close();
          },
          '127.0.0.1',
          0,
          { ssl: serverContext() },
        );
        try {
          const [, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          w.write('last words');
          yield* sleep(0.05);
          w.transport.abort(); // a TCP close, no close_notify
          yield* sleep(0.05);
          expect(got).toEqual(['last words', '']);
          yield* stillServes(server);
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('a 16 MiB write arrives whole, through a TLS echo', () => {
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext() });
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          const data = randomBytes(16 * 1024 * 1024);
          const [, back] = yield* gather(
            (function* () {
              w.write(data);
              yield* w.drain();
            })(),
            r.readExactly(data.length),
          );
          expect(sha(back as Buffer)).toBe(sha(data));
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('a reader that never reads: the writer is paused and memory stays bounded on both sides', () => {
    run(
      (function* () {
        let written = 0;
        let serverWriter: StreamWriter | null = null;
        const server = yield* startServer(
          function* (_r, w) {
            serverWriter = w;
            const chunk = Buffer.alloc(64 * 1024, 1);
            try {
              for (;;) {
                w.write(chunk);
                written += chunk.length;
                yield* w.drain();
              }
            } catch {
              // the client went away
            }
          },
          '127.0.0.1',
          0,
          { ssl: serverContext() },
        );
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          r.toString(); // the client never reads
          yield* sleep(0.5);
          const before = written;
          yield* sleep(0.3);
          expect(written).toBe(before); // the writer is paused, not spinning
          expect(written).toBeLessThan(64 * 1024 * 1024);
          expect(serverWriter!.transport.getWriteBufferSize()).toBeLessThan(2 * 1024 * 1024);
          const buffered = Number(/(\d+) bytes/.exec(r.toString())![1]);
          expect(buffered).toBeLessThanOrEqual(2 * r.limit + 256 * 1024);
          const obj = w.getExtraInfo('sslObject')!;
          expect(obj._conn!.pendingIn()).toBeLessThanOrEqual(512 * 1024);
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          server.abortClients();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('cancelling a task that awaits a TLS read loses nothing', () => {
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext() });
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          const task = ctx.loop.createTask(r.read(100));
          yield* sleep(0.02);
          task.cancel();
          let err: unknown;
          try {
            yield* task;
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(CancelledError);
          w.write('after cancel\n');
          expect(String(yield* r.readLine())).toBe('after cancel\n');
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('integrity: 20 concurrent clients send random sizes through a TLS echo', () => {
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext() });
        try {
          const client = function* (i: number): Co<boolean> {
            const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
            const parts: Buffer[] = [];
            for (let k = 0; k < 5; k++) parts.push(randomBytes(1 + Math.floor(Math.random() * (i % 2 === 0 ? 2000 : 300_000))));
            const all = Buffer.concat(parts);
            const [, back] = yield* gather(
              (function* () {
                for (const p of parts) {
                  w.write(p);
                  yield* w.drain();
                }
              })(),
              r.readExactly(all.length),
            );
            w.close();
            yield* w.waitClosed();
            return sha(back as Buffer) === sha(all);
          };
          const ok = yield* gather(...Array.from({ length: 20 }, (_, i) => client(i)));
          expect(ok).toEqual(Array(20).fill(true));
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('a BufferedProtocol client: TLS decrypts straight into its buffer', () => {
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext() });
        try {
          const buf = Buffer.alloc(1000); // smaller than what comes: several getBuffer calls
          const chunks: Buffer[] = [];
          const done = ctx.loop.createFuture<void>();
          let total = 0;
          const proto: BufferedProtocol & { t?: Transport } = {
            connectionMade(t: Transport) {
              proto.t = t;
            },
            getBuffer: () => buf,
            bufferUpdated(n: number) {
              chunks.push(Buffer.from(buf.subarray(0, n)));
              total += n;
              if (total === 50_000) done.setResult(undefined);
            },
          };
          const [t] = yield* ctx.loop.createConnection(() => proto, '127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          const data = randomBytes(50_000);
          t.write(data);
          yield* done;
          expect(Buffer.concat(chunks).equals(data)).toBe(true);
          expect(chunks.length).toBeGreaterThanOrEqual(50);
          t.close();
          yield* sleep(0.05);
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('STARTTLS: the ClientHello already in the reader goes to the handshake, not to a read', () => {
    run(
      (function* () {
        let buffered = '';
        const server = yield* startServer(
          function* (r, w) {
            // Let the client's command and its ClientHello both arrive before reading.
            yield* sleep(0.1);
            buffered = r.toString();
            expect(String(yield* r.readLine())).toBe('STARTTLS\n');
            yield* w.startTls(serverContext());
            w.write(`secure ${w.getExtraInfo('sslObject')!.version()}\n`);
            yield* echo(r, w);
          },
          '127.0.0.1',
          0,
        );
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server));
          w.write('STARTTLS\n');
          yield* w.startTls(clientContext(), { serverHostname: 'localhost' }); // without waiting for an answer
          expect(String(yield* r.readLine())).toBe('secure TLSv1.3\n');
          w.write('inside\n');
          expect(String(yield* r.readLine())).toBe('inside\n');
          expect(w.transport.getExtraInfo('sslObject')).toBeDefined();
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          yield* server.waitClosed();
        }
        // The reader did hold more than the command line when the upgrade began.
        expect(Number(/(\d+) bytes/.exec(buffered)![1])).toBeGreaterThan('STARTTLS\n'.length);
      })(),
    );
  });
});

describe('without the TLS addon', () => {
  beforeAll(ensureDist, 240_000);

  test('the first TLS call throws ERR_COIO_TLS_UNAVAILABLE and plain TCP still works', async () => {
    // COIO_ADDON_PATH loads the main addon from a directory that has no coio_tls.node.
    const dir = mkdtempSync(join(tmpdir(), 'coio-notls-'));
    try {
      copyFileSync(join(root, 'build/Release/coio.node'), join(dir, 'coio.node'));
      const script = `
        const { run, startServer, openConnection, SSLContext } = require(${JSON.stringify(join(root, 'dist/cjs/index.js'))});
        try { new SSLContext(); } catch (e) { console.log(e.code); }
        run(function* () {
          const server = yield* startServer(function* (r, w) { w.write(yield* r.readLine()); w.close(); }, '127.0.0.1', 0);
          const [r, w] = yield* openConnection('127.0.0.1', server.addresses()[0].port);
          w.write('plain ok\\n');
          console.log(String(yield* r.readLine()).trim());
          w.close();
          server.close();
          yield* server.waitClosed();
        });`;
      // The child inherits the environment as it is when it starts (synchronously, in runNode).
      process.env.COIO_ADDON_PATH = join(dir, 'coio.node');
      let pending: ReturnType<typeof runNode>;
      try {
        pending = runNode(['-e', script], 30_000);
      } finally {
        delete process.env.COIO_ADDON_PATH;
      }
      const res = await pending;
      expect(res.stderr).toBe('');
      expect(res.lines).toEqual(['ERR_COIO_TLS_UNAVAILABLE', 'plain ok']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
