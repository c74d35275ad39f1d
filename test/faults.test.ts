// Faults over real sockets, on every backend: a peer that resets while a big
// write is in flight; half-close in both directions at once with data still
// buffered; accept running out of fds (EMFILE) in a child process with a
// lowered RLIMIT_NOFILE; a slow reader and a fast writer (memory stays
// bounded); a client that connects and never sends; a server closed with
// transfers in flight. (EADDRINUSE, ECONNREFUSED, a plain peer reset and a
// one-way half-close are in test/transports.test.ts.)
//
// Every connection must end with exactly one connectionLost per side, no
// error may reach the exception handler unless the test expects it, and no
// fd or registration may be left (useLoop and test/setup.ts check).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getRunningLoop, openConnection, ProtocolBase, sleep, Socket, startServer } from '../src/index.js';
import type { EventLoop, Server, StreamWriter, Transport, StreamReader } from '../src/index.js';
import { native } from '../src/native.js';
import { READ_BUFFER_SIZE } from '../src/transport_helpers.js';
import { backends, runGuarded, useLoop } from './helpers.js';
import type { Co } from './helpers.js';
import { canLimitFds, connectHelloClients, settledCount, cpuSeconds, leaveFreeFds } from './emfile.js';
import { sanitizedChildEnv } from './leaks.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---- helpers ---------------------------------------------------------------------

/** Wait (yielding loop turns, then short sleeps) until cond() holds; fail after `seconds`. */
/** Wait (yielding loop turns, then short sleeps) until cond() holds; fail after `seconds`. */
function* until(cond: () => boolean, what: string, seconds = 20): Co<void> {
  const loop = getRunningLoop();
  const deadline = loop.time() + seconds;
  for (let i = 0; !cond(); i++) {
    if (loop.time() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (i < 20) yield;
    else yield* sleep(0.002);
  }
}

function sha256(chunks: Buffer[] | Buffer): string {
  const h = createHash('sha256');
  for (const c of Array.isArray(chunks) ? chunks : [chunks]) h.update(c);
  return h.digest('hex');
}

function portOf(server: Server): number {
  return (server.sockets[0]!.getsockname() as { port: number }).port;
}

/** A protocol that records everything: bytes, EOF, pause / resume, connectionLost (count and error). */
class Recorder extends ProtocolBase {
  transport!: Transport;
  chunks: Buffer[] = [];
  received = 0;
  eofs = 0;
  lostCount = 0;
  lost: Error | null | undefined = undefined;
  paused = false;
  pauses = 0;
  keepOpenOnEof = true;
  override connectionMade(t: Transport): void {
    this.transport = t;
  }
  override dataReceived(data: Buffer): void {
    this.chunks.push(data);
    this.received += data.length;
  }
  override eofReceived(): boolean {
    this.eofs++;
    return this.keepOpenOnEof;
  }
  override pauseWriting(): void {
    this.paused = true;
    this.pauses++;
  }
  override resumeWriting(): void {
    this.paused = false;
  }
  override connectionLost(exc: Error | null): void {
    this.lostCount++;
    this.lost = exc;
  }
}

/** Record what reaches the loop's exception handler (and restore the default after). */
function recordErrors(loop: EventLoop): { messages: string[]; restore(): void } {
  const messages: string[] = [];
  loop.setExceptionHandler((_l, ctx) => messages.push(`${ctx.message}: ${String(ctx.exception)}`));
  return { messages, restore: () => loop.setExceptionHandler(null) };
}

// ---- in-process faults, every backend --------------------------------------------

describe.each(backends)('faults on %s', (backend) => {
  const t = useLoop(backend);

  it('the peer resets while a 16 MiB write is in flight: one connectionLost with the reset, the buffer is dropped, the fd closed', () => {
    const loop = t.loop;
    const errors = recordErrors(loop);
    const servers: Recorder[] = [];
    function* main(): Co<void> {
      const fdsBefore = native.countOpenFds();
      const server = yield* loop.createServer(() => {
        const p = new Recorder();
        servers.push(p);
        return p;
      }, '127.0.0.1', 0);
      // A raw client that reads a little of the transfer, then closes with
      // data still unread in its receive buffer: the kernel answers with RST.
      const client = new Socket();
      yield* loop.sockConnect(client, ['127.0.0.1', portOf(server)]);
      yield* until(() => servers.length === 1 && servers[0]!.transport !== undefined, 'the connection');
      const s = servers[0]!;
      const big = randomBytes(16 * 1024 * 1024);
      s.transport.write(big);
      expect(s.transport.getWriteBufferSize()).toBeGreaterThan(0); // in flight
      let got = 0;
      while (got < 64 * 1024) got += (yield* loop.sockRecv(client, 64 * 1024)).length;
      yield* sleep(0.005); // let more arrive unread
      client.close();
      yield* until(() => s.lostCount > 0, 'connectionLost on the writer');
      // Writes after the loss are dropped, not buffered and not thrown.
      s.transport.write('after the reset');
      yield* sleep(0.01);
      expect(s.lostCount).toBe(1);
      expect(['ECONNRESET', 'EPIPE']).toContain((s.lost as NodeJS.ErrnoException | null)?.code);
      expect(s.transport.getWriteBufferSize()).toBe(0);
      expect(s.transport.isClosing()).toBe(true);
      server.close();
      yield* server.waitClosed();
      expect(native.countOpenFds()).toBe(fdsBefore);
    }
    try {
      runGuarded(t.loop, main());
    } finally {
      errors.restore();
    }
    // A reset by the peer is the peer's doing: not reported as an error.
    expect(errors.messages).toEqual([]);
  });

  it('the peer resets while a StreamWriter drains a big write: drain() raises the reset, waitClosed too', () => {
    const loop = t.loop;
    function* main(): Co<[string | undefined, string | undefined]> {
      let handlerWriter: StreamWriter | null = null;
      // A stream server whose handler writes 16 MiB and drains.
      let drainError: unknown = null;
      let closedError: unknown = null;
      const streamServer = yield* startServer(
        function* (_r: StreamReader, w: StreamWriter): Co<void> {
          handlerWriter = w;
          w.write(randomBytes(16 * 1024 * 1024));
          try {
            yield* w.drain();
          } catch (e) {
            drainError = e;
          }
          try {
            yield* w.waitClosed();
          } catch (e) {
            closedError = e;
          }
        },
        '127.0.0.1',
        0,
      );
      const client = new Socket();
      yield* loop.sockConnect(client, ['127.0.0.1', portOf(streamServer)]);
      yield* loop.sockRecv(client, 1024);
      yield* until(() => handlerWriter !== null, 'the handler');
      yield* sleep(0.005);
      client.close();
      yield* until(() => drainError !== null && closedError !== null, 'drain and waitClosed to raise');
      streamServer.close();
      yield* streamServer.waitClosed();
      yield* sleep(0); // the handler task finishes
      return [(drainError as NodeJS.ErrnoException).code, (closedError as NodeJS.ErrnoException).code];
    }
    const [drainCode, closedCode] = runGuarded(t.loop, main());
    expect(['ECONNRESET', 'EPIPE']).toContain(drainCode);
    expect(['ECONNRESET', 'EPIPE']).toContain(closedCode);
  });

  it('half-close in both directions at once, with 4 MiB still buffered on each side: every byte arrives before each EOF', () => {
    const loop = t.loop;
    const errors = recordErrors(loop);
    const size = 4 * 1024 * 1024;
    const fromClient = randomBytes(size);
    const fromServer = randomBytes(size);
    const servers: Recorder[] = [];
    function* main(): Co<[Recorder, Recorder]> {
      const server = yield* loop.createServer(() => {
        const p = new Recorder();
        servers.push(p);
        return p;
      }, '127.0.0.1', 0);
      const [ct, client] = yield* loop.createConnection(() => new Recorder(), '127.0.0.1', portOf(server));
      yield* until(() => servers.length === 1 && servers[0]!.transport !== undefined, 'the connection');
      const s = servers[0]!;
      // Both sides write everything and half-close at once: the FIN must wait
      // for the buffered bytes, in both directions.
      ct.write(fromClient);
      s.transport.write(fromServer);
      expect(ct.getWriteBufferSize()).toBeGreaterThan(0);
      expect(s.transport.getWriteBufferSize()).toBeGreaterThan(0);
      ct.writeEof();
      s.transport.writeEof();
      expect(() => ct.write('late')).toThrow(/writeEof/);
      expect(() => s.transport.write('late')).toThrow(/writeEof/);
      yield* until(() => client.eofs === 1 && s.eofs === 1, 'both EOFs', 60);
      // Half-closed both ways, still open: nothing lost yet.
      expect([client.lostCount, s.lostCount]).toEqual([0, 0]);
      ct.close();
      s.transport.close();
      yield* until(() => client.lostCount === 1 && s.lostCount === 1, 'connectionLost on both sides');
      server.close();
      yield* server.waitClosed();
      return [client, s];
    }
    let client: Recorder;
    let s: Recorder;
    try {
      [client, s] = runGuarded(t.loop, main());
    } finally {
      errors.restore();
    }
    expect(s.received).toBe(size);
    expect(client.received).toBe(size);
    expect(sha256(s.chunks)).toBe(sha256(fromClient));
    expect(sha256(client.chunks)).toBe(sha256(fromServer));
    expect([client.eofs, s.eofs, client.lostCount, s.lostCount]).toEqual([1, 1, 1, 1]);
    expect([client.lost, s.lost]).toEqual([null, null]);
    expect(errors.messages).toEqual([]);
  });

  it('a slow reader and a fast writer that respects pauseWriting: the write buffer stays under high-water + one write, the reader under 2 x limit + one read', () => {
    const loop = t.loop;
    const total = 8 * 1024 * 1024;
    const chunkSize = 64 * 1024;
    const high = 128 * 1024;
    const limit = 64 * 1024;
    const sent: Buffer[] = [];
    function* main(): Co<{ maxWbuf: number; maxRbuf: number; hashOk: boolean; pauses: number }> {
      let maxWbuf = 0;
      let writer: Recorder | null = null;
      let written = 0;
      // The server pushes `total` bytes as fast as it is allowed to.
      const pump = (p: Recorder): void => {
        while (!p.paused && written < total) {
          const c = randomBytes(chunkSize);
          sent.push(c);
          p.transport.write(c);
          written += c.length;
          maxWbuf = Math.max(maxWbuf, p.transport.getWriteBufferSize());
        }
        if (written >= total) p.transport.close();
      };
      const server = yield* loop.createServer(
        () =>
          new (class extends Recorder {
            override connectionMade(tr: Transport): void {
              super.connectionMade(tr);
              tr.setWriteBufferLimits(high);
              writer = this;
              pump(this);
            }
            override resumeWriting(): void {
              super.resumeWriting();
              pump(this);
            }
          })(),
        '127.0.0.1',
        0,
      );
      // The client reads through a StreamReader, slowly.
      const [reader, w] = yield* openConnection('127.0.0.1', portOf(server), { limit });
      const rbuf = (): number => (reader as unknown as { buffer: { size: number } }).buffer.size;
      let maxRbuf = 0;
      const h = createHash('sha256');
      let got = 0;
      for (;;) {
        maxRbuf = Math.max(maxRbuf, rbuf());
        const data = yield* reader.read(32 * 1024);
        if (data.length === 0) break;
        h.update(data);
        got += data.length;
        if (got % (512 * 1024) < 32 * 1024) yield* sleep(0.003); // slow: let the writer run ahead
      }
      w.close();
      yield* w.waitClosed();
      server.close();
      yield* server.waitClosed();
      return { maxWbuf, maxRbuf, hashOk: got === total && h.digest('hex') === sha256(sent), pauses: writer!.pauses };
    }
    const r = runGuarded(t.loop, main());
    expect(r.hashOk).toBe(true);
    expect(r.pauses, 'the writer was paused at least once (the reader was slow enough)').toBeGreaterThan(0);
    expect(r.maxWbuf).toBeLessThanOrEqual(high + chunkSize);
    expect(r.maxRbuf).toBeLessThanOrEqual(2 * limit + READ_BUFFER_SIZE);
  });

  it('a fast StreamWriter that awaits drain() against a reader that does not read for a while: bounded buffer, every byte arrives', () => {
    const chunk = 256 * 1024;
    const count = 32;
    function* main(): Co<{ maxWbuf: number; ok: boolean }> {
      const h = createHash('sha256');
      let maxWbuf = 0;
      const server = yield* startServer(
        function* (_r: StreamReader, w: StreamWriter): Co<void> {
          w.transport.setWriteBufferLimits(chunk);
          for (let i = 0; i < count; i++) {
            const c = Buffer.alloc(chunk, i);
            h.update(c);
            w.write(c);
            maxWbuf = Math.max(maxWbuf, w.transport.getWriteBufferSize());
            yield* w.drain();
          }
          w.close();
        },
        '127.0.0.1',
        0,
      );
      const [reader, w] = yield* openConnection('127.0.0.1', portOf(server));
      yield* sleep(0.05); // not reading at all: the server must block in drain()
      const data = yield* reader.read(-1);
      w.close();
      yield* w.waitClosed();
      server.close();
      yield* server.waitClosed();
      yield* sleep(0);
      return { maxWbuf, ok: data.length === chunk * count && sha256(data) === h.digest('hex') };
    }
    const r = runGuarded(t.loop, main());
    expect(r.ok).toBe(true);
    expect(r.maxWbuf).toBeLessThanOrEqual(chunk + chunk);
  });

  it('a client that connects and never sends does not hold up the others', () => {
    const loop = t.loop;
    function* main(): Co<{ answers: string[]; idleLine: string | null }> {
      let idleLine: string | null = null;
      let handlers = 0;
      const server = yield* startServer(
        function* (r: StreamReader, w: StreamWriter): Co<void> {
          const n = handlers++;
          const line = (yield* r.readLine()).toString();
          if (n === 0) idleLine = line; // the silent client: '' once it closes
          else w.write(`echo ${line}`);
          w.close();
        },
        '127.0.0.1',
        0,
      );
      const port = portOf(server);
      // The silent one connects first (its handler waits in readLine), and another
      // sends half a line and stalls.
      const idle = new Socket();
      yield* loop.sockConnect(idle, ['127.0.0.1', port]);
      yield* until(() => handlers === 1, 'the idle connection to be accepted');
      const stalled = new Socket();
      yield* loop.sockConnect(stalled, ['127.0.0.1', port]);
      yield* loop.sockSendall(stalled, 'half a li');
      const clients = [];
      for (let i = 0; i < 20; i++) {
        clients.push(
          loop.createTask(
            (function* (): Co<string> {
              const [r, w] = yield* openConnection('127.0.0.1', port);
              w.write(`hello ${i}\n`);
              const answer = (yield* r.read(-1)).toString();
              w.close();
              yield* w.waitClosed();
              return answer;
            })(),
          ),
        );
      }
      const answers: string[] = [];
      for (const c of clients) answers.push(yield* c);
      // The silent and the stalled clients are still connected and waiting.
      expect(idleLine).toBeNull();
      idle.close();
      stalled.close();
      server.close();
      yield* server.waitClosed();
      return { answers, idleLine };
    }
    const r = runGuarded(t.loop, main());
    expect(r.answers).toEqual(Array.from({ length: 20 }, (_, i) => `echo hello ${i}\n`));
    expect(r.idleLine).toBe('');
  });

  it.each(['closeClients', 'abortClients'] as const)('a server closed with transfers in flight (%s): every connection ends once on both sides, no fd left', (how) => {
    const loop = t.loop;
    const errors = recordErrors(loop);
    const serverSide: Recorder[] = [];
    const clientSide: Recorder[] = [];
    function* main(): Co<void> {
      const fdsBefore = native.countOpenFds();
      // An echo server; each client streams 1 MiB chunks continuously.
      const server = yield* loop.createServer(() => {
        const p = new (class extends Recorder {
          override dataReceived(data: Buffer): void {
            super.dataReceived(data);
            this.transport.write(data);
          }
        })();
        serverSide.push(p);
        return p;
      }, '127.0.0.1', 0);
      const chunk = randomBytes(1024 * 1024);
      for (let i = 0; i < 8; i++) {
        const [tr, p] = yield* loop.createConnection(
          () =>
            new (class extends Recorder {
              override resumeWriting(): void {
                super.resumeWriting();
                if (!this.transport.isClosing()) this.transport.write(chunk);
              }
            })(),
          '127.0.0.1',
          portOf(server),
        );
        clientSide.push(p);
        tr.write(chunk);
        tr.write(chunk); // over high-water: paused, resumed as it drains, writes again
      }
      yield* until(() => serverSide.length === 8 && serverSide.every((p) => p.received > 1024 * 1024), 'transfers to be under way');
      server.close();
      if (how === 'closeClients') server.closeClients();
      else server.abortClients();
      yield* server.waitClosed();
      expect(serverSide.map((p) => p.lostCount)).toEqual(new Array(8).fill(1));
      // The clients find out (EOF or a reset) and close.
      yield* until(() => clientSide.every((p) => p.lostCount > 0 || p.eofs > 0), 'the clients to see the end');
      for (const p of clientSide) p.transport.close();
      yield* until(() => clientSide.every((p) => p.lostCount > 0), 'connectionLost on every client');
      yield* sleep(0.01);
      expect(clientSide.map((p) => p.lostCount)).toEqual(new Array(8).fill(1));
      for (const p of [...clientSide, ...serverSide]) {
        if (p.lost !== null) expect(['ECONNRESET', 'EPIPE']).toContain((p.lost as NodeJS.ErrnoException).code);
      }
      expect(native.countOpenFds()).toBe(fdsBefore);
    }
    try {
      runGuarded(t.loop, main());
    } finally {
      errors.restore();
    }
    expect(errors.messages).toEqual([]);
  });
});

// ---- accept hitting EMFILE, in a child process with a lowered RLIMIT_NOFILE ------

interface Child {
  proc: ChildProcess;
  lines: string[];
  next(re: RegExp, seconds?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', './test/fixtures/register_ts.mjs', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...sanitizedChildEnv() },
  });
  const lines: string[] = [];
  let buffered = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  let seen = 0;
  return {
    proc,
    lines,
    async next(re, seconds = 20) {
      const deadline = Date.now() + seconds * 1000;
      for (;;) {
        for (; seen < lines.length; seen++) {
          const m = re.exec(lines[seen]!);
          if (m !== null) {
            seen++;
            return m;
          }
        }
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`child exited: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(re)}; output: ${lines.join(' | ')}; stderr: ${stderr}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

describe.skipIf(!canLimitFds).each(backends)('accept hitting EMFILE on %s (child process, prlimit)', (backend) => {
  it('keeps serving once fds free up, and does not spin while out of them', async () => {
    const child = startChild(['test/fixtures/emfile_server.ts', backend]);
    const clients: net.Socket[] = [];
    try {
      const ready = await child.next(/^READY (\d+) ([\d,]+)$/, 60);
      const port = Number(ready[1]);
      const open = new Set(ready[2]!.split(',').map(Number));
      const free = 6;
      leaveFreeFds(child.proc.pid!, open, free);

      // More connections than the child has fds for (the kernel completes the
      // handshakes; they wait in the listen backlog).
      const total = free + 1 + 12;
      const answered = new Set<number>();
      const closed = new Set<number>();
      await connectHelloClients(port, total, clients, answered);
      const waitFor = async (cond: () => boolean, what: string, seconds = 30): Promise<void> => {
        const deadline = Date.now() + seconds * 1000;
        while (!cond()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; answered ${answered.size} of ${total}; child: ${child.lines.join(' | ')}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };

      // The child accepts what fits, then meets EMFILE.
      await child.next(/^EMFILE \d+$/, 30);
      await waitFor(() => answered.size >= free - 1, 'the connections that fit to be answered');
      const answeredBefore = await settledCount(() => answered.size);
      expect(answeredBefore).toBeLessThan(total);

      // Out of fds, with connections pending: it must not spin.
      const cpu0 = cpuSeconds(child.proc.pid!);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 1200));
      const cpu = cpuSeconds(child.proc.pid!) - cpu0;
      const wall = (Date.now() - t0) / 1000;
      expect(cpu, `CPU seconds used in ${wall.toFixed(2)} s out of fds`).toBeLessThan(0.25 * wall);
      expect(answered.size, 'nothing more served while out of fds').toBe(answeredBefore);

      // Free fds by closing answered connections; the server picks the rest up.
      await waitFor(
        () => {
          for (const i of answered) {
            if (!closed.has(i)) {
              closed.add(i);
              clients[i]!.end();
            }
          }
          return answered.size === total;
        },
        'every connection to be answered once fds free up',
        60,
      );
      expect(child.lines.filter((l) => l.startsWith('ERROR'))).toEqual([]);
    } finally {
      for (const s of clients) s?.destroy();
      await child.stop();
    }
  }, 120_000);
});
