// A bounded soak: rounds of thousands of connections opened, used (an echo of
// a random size, verified by hash) and closed, over TCP and Unix sockets, at
// the protocol and the streams level. After every round the process must be
// back where it started: the same open fds, and no heap growth across rounds.
//
// In CI it is short (the default backend gets the most, poll and select a
// smaller round); set COIO_SOAK_SECONDS to soak each backend that long by
// hand: `COIO_SOAK_SECONDS=600 npx vitest run test/soak.test.ts`.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openConnection, openUnixConnection, ProtocolBase, Semaphore, sleep, startServer, startUnixServer } from '../src/index.js';
import type { EventLoop, Server, StreamReader, StreamWriter, Transport } from '../src/index.js';
import { native } from '../src/native.js';
import { backends, exposedGc, runGuarded, tempDir, useLoop, streamEcho } from './helpers.js';
import type { Co } from './helpers.js';

const SOAK_SECONDS = Number(process.env.COIO_SOAK_SECONDS ?? 0);
const dir = tempDir();

const gc = exposedGc;

/** Random bytes to slice payloads from (hashing the slices verifies them just as well). */
const POOL = randomBytes(2 * 1024 * 1024);

/** Mostly small, some medium, a few large (up to 1 MiB) payloads. */
function payloadSize(): number {
  const r = Math.random();
  if (r < 0.6) return 1 + Math.floor(Math.random() * 2048);
  if (r < 0.97) return 2048 + Math.floor(Math.random() * 62 * 1024);
  return 64 * 1024 + Math.floor(Math.random() * 960 * 1024);
}

function payload(): Buffer {
  const n = payloadSize();
  const at = Math.floor(Math.random() * (POOL.length - n));
  return POOL.subarray(at, at + n);
}

function sha256(parts: Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}


/** The protocol-level echo: write back what comes, close at EOF (the buffer is flushed first). */
class ProtocolEcho extends ProtocolBase {
  private transport!: Transport;
  override connectionMade(t: Transport): void {
    this.transport = t;
  }
  override dataReceived(data: Buffer): void {
    this.transport.write(data);
  }
  override eofReceived(): boolean {
    return false; // close (after the echo is flushed)
  }
}

/** A client over streams: send, half-close, read to EOF, compare hashes. */
function* streamClient(open: () => Co<[StreamReader, StreamWriter]>): Co<number> {
  const data = payload();
  const [reader, writer] = yield* open();
  try {
    writer.write(data);
    writer.writeEof();
    const got: Buffer[] = [];
    for (;;) {
      const chunk = yield* reader.read(256 * 1024);
      if (chunk.length === 0) break;
      got.push(chunk);
    }
    expect(sha256(got)).toBe(sha256([data]));
  } finally {
    writer.close();
  }
  yield* writer.waitClosed();
  return data.length;
}

/** A client at the protocol level: the same, with callbacks. */
function* protocolClient(loop: EventLoop, port: number): Co<number> {
  const data = payload();
  const done = loop.createFuture<Buffer[]>();
  class Client extends ProtocolBase {
    got: Buffer[] = [];
    override dataReceived(d: Buffer): void {
      this.got.push(d);
    }
    override eofReceived(): boolean {
      return false;
    }
    override connectionLost(exc: Error | null): void {
      if (exc !== null) done.setException(exc);
      else done.setResult(this.got);
    }
  }
  const [t] = yield* loop.createConnection(() => new Client(), '127.0.0.1', port);
  t.write(data);
  t.writeEof();
  const got = yield* done;
  expect(sha256(got)).toBe(sha256([data]));
  return data.length;
}

interface Round {
  connections: number;
  bytes: number;
  fds: number;
  heap: number;
}

/** One round: `n` connections, at most `parallel` at a time, spread over four servers. */
function* round(loop: EventLoop, n: number, parallel: number, tag: string): Co<{ connections: number; bytes: number }> {
  const path = join(dir, `soak-${tag}.sock`);
  const servers: Server[] = [
    yield* startServer(streamEcho, '127.0.0.1', 0),
    yield* loop.createServer(() => new ProtocolEcho(), '127.0.0.1', 0),
    yield* startUnixServer(streamEcho, path),
  ];
  const tcpStreams = (servers[0]!.sockets[0]!.getsockname() as { port: number }).port;
  const tcpProtocol = (servers[1]!.sockets[0]!.getsockname() as { port: number }).port;
  const gate = new Semaphore(parallel);
  let connections = 0;
  let bytes = 0;
  const tasks = [];
  for (let i = 0; i < n; i++) {
    yield* gate.acquire();
    const kind = i % 4;
    tasks.push(
      loop.createTask(
        (function* (): Co<void> {
          try {
            let sent: number;
            if (kind === 0 || kind === 3) sent = yield* streamClient(() => openConnection('127.0.0.1', tcpStreams));
            else if (kind === 1) sent = yield* protocolClient(loop, tcpProtocol);
            else sent = yield* streamClient(() => openUnixConnection(path));
            connections++;
            bytes += sent;
          } finally {
            gate.release();
          }
        })(),
      ),
    );
  }
  for (const task of tasks) yield* task;
  for (const s of servers) s.close();
  for (const s of servers) yield* s.waitClosed();
  // Let the handler tasks and closing transports finish.
  for (let i = 0; i < 5; i++) yield* sleep(0);
  return { connections, bytes };
}

function measure(): { fds: number; heap: number } {
  if (gc !== null) {
    gc();
    gc();
  }
  return { fds: native.countOpenFds(), heap: process.memoryUsage().heapUsed };
}

/** Least-squares slope of ys over their indexes. */
function slope(ys: number[]): number {
  const n = ys.length;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - mx) * (ys[i]! - my);
    den += (i - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const MiB = 1024 * 1024;

describe.each(backends.map((b, i) => [b, i === 0] as const))('soak on %s', (backend, isDefault) => {
  const t = useLoop(backend);
  // CI: the default backend 10 rounds of 3,000 (the first a warm-up), the others 3 of 1,500.
  const perRound = isDefault ? 3000 : 1500;
  const minRounds = isDefault ? 10 : 3;
  const seconds = SOAK_SECONDS > 0 ? (isDefault ? SOAK_SECONDS : SOAK_SECONDS / 3) : 0;

  it(`rounds of ${perRound} connections: every echo verified, fds and heap back to baseline after each`, () => {
    const loop = t.loop;
    const rounds: Round[] = [];
    const started = Date.now();
    let fdBaseline = -1;
    for (let r = 0; r < minRounds || (seconds > 0 && Date.now() - started < seconds * 1000); r++) {
      const { connections, bytes } = runGuarded(loop, round(loop, perRound, 48, `${backend}-${r}`), 300);
      expect(connections).toBe(perRound);
      const m = measure();
      // The first round is a warm-up (JIT, lazily made buffers); the baseline is after it.
      if (r === 0) fdBaseline = m.fds;
      rounds.push({ connections, bytes, ...m });
      expect(m.fds, `fds after round ${r}`).toBe(fdBaseline);
    }
    const total = rounds.reduce((a, r) => ({ c: a.c + r.connections, b: a.b + r.bytes }), { c: 0, b: 0 });
    const heaps = rounds.slice(1).map((r) => r.heap);
    const perRoundGrowth = slope(heaps);
    // Reported for the record (the issue asks for the numbers).
    console.log(
      `soak ${backend}: ${total.c} connections, ${(total.b / MiB).toFixed(1)} MiB verified in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `heap after gc per round (MiB): ${heaps.map((h) => (h / MiB).toFixed(2)).join(' ')}; slope ${(perRoundGrowth / 1024).toFixed(1)} KiB/round${gc === null ? ' (no gc: generous bound)' : ''}`,
    );
    // No growth trend: with gc, less than 256 KiB per round of 1,500-3,000
    // connections (a leaked transport, reader or handle per connection would
    // be far more);
    // without it, a generous bound on the noise of a collector that runs when it likes.
    const bound = gc !== null ? 256 * 1024 : 4 * MiB;
    expect(perRoundGrowth, 'heap growth per round (bytes)').toBeLessThan(bound);
    expect(Math.max(...heaps) - heaps[0]!, 'heap above the first measured round').toBeLessThan(gc !== null ? 2 * MiB : 32 * MiB);
  }, 600_000);
});
