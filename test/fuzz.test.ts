// Property tests (fast-check): StreamReader's reads over arbitrary chunkings
// of arbitrary data against a reference model, ChunkQueue against a plain
// Buffer, and the HTTP example's request parser over arbitrary chunkings.
//
// The same bytes must give the same answers however the network splits
// them; that is what these properties check. Each run uses a fresh loop;
// the number of runs is bounded so the file stays within a few seconds
// (FUZZ_RUNS=n to run longer by hand; a failure prints its seed and path,
// replayable with FUZZ_SEED / FUZZ_PATH).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkQueue } from '../src/chunk_queue.js';
import { IncompleteReadError, LimitOverrunError, newEventLoop, StreamReader } from '../src/index.js';
import type { EventLoop, Transport } from '../src/index.js';
import type { Co } from './helpers.js';
// @ts-expect-error: an .mjs example without type declarations
import { HttpParseError, RequestParser } from '../examples/http_parser.mjs';

const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;
function params(numRuns: number): fc.Parameters<unknown> {
  const p: fc.Parameters<unknown> = { numRuns: RUNS ?? numRuns };
  if (process.env.FUZZ_SEED) p.seed = Number(process.env.FUZZ_SEED);
  if (process.env.FUZZ_PATH) p.path = process.env.FUZZ_PATH;
  return p;
}

// ---- arbitraries ------------------------------------------------------------

/** Bytes from a small alphabet, so separators ('\n', '\r\n', 'ab', ...) occur often; sometimes any byte. */
const byteArb = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...Buffer.from('ab\n\rx')) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) });
/** Data made of separator-like pieces (overlapping separators: 'abx' holds 'ab' and 'b') and single bytes. */
const pieceArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('abx', 'ab', 'xx\n', 'x\n', '\r\n', 'a', 'b', 'x', '\n', '\r').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: byteArb.map((b) => Buffer.from([b])) },
);
const dataArb = fc.array(pieceArb, { maxLength: 250 }).map((a) => Buffer.concat(a));

/** Where to cut the data: chunk sizes (the rest is the last chunk). */
const cutsArb = fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 40 });

function chunk(data: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (const c of cuts) {
    if (pos >= data.length) break;
    out.push(Buffer.from(data.subarray(pos, pos + c))); // each its own copy, as a transport hands over
    pos += c;
  }
  if (pos < data.length) out.push(Buffer.from(data.subarray(pos)));
  return out;
}

const SEPARATORS = ['\n', '\r\n', 'ab', 'b', 'xx', 'abx', 'x\n'];
type Op =
  | { kind: 'readLine' }
  | { kind: 'readUntil'; seps: string[] }
  | { kind: 'readExactly'; n: number }
  | { kind: 'read'; n: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: 'readLine' as const }),
  fc.record({ kind: fc.constant('readUntil' as const), seps: fc.uniqueArray(fc.constantFrom(...SEPARATORS), { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('readExactly' as const), n: fc.integer({ min: 0, max: 80 }) }),
  fc.record({ kind: fc.constant('read' as const), n: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 80 })) }),
);

// ---- the StreamReader model ------------------------------------------------

/**
 * What asyncio's StreamReader answers for `op` when `rest` is everything
 * still unread (the whole stream to EOF is known in advance), independent of
 * how it arrives. Returns the bytes consumed and the expected outcome; for
 * read(n) any non-empty prefix of at most n bytes is right ('prefix').
 */
type Expected =
  | { kind: 'bytes'; value: Buffer }
  | { kind: 'prefix'; max: number }
  | { kind: 'incomplete'; partial: Buffer; expected: number | null }
  | { kind: 'overrun' };

function expectedFor(op: Op, rest: Buffer, limit: number): Expected {
  switch (op.kind) {
    case 'read':
      if (op.n === 0 || rest.length === 0) return { kind: 'bytes', value: Buffer.alloc(0) };
      if (op.n < 0) return { kind: 'bytes', value: rest };
      return { kind: 'prefix', max: op.n };
    case 'readExactly':
      if (rest.length >= op.n) return { kind: 'bytes', value: rest.subarray(0, op.n) };
      return { kind: 'incomplete', partial: rest, expected: op.n };
    case 'readLine':
    case 'readUntil': {
      const seps = op.kind === 'readLine' ? ['\n'] : op.seps;
      // The shortest data that ends with any separator (asyncio 3.13's rule
      // for several separators; the only one that does not depend on chunking).
      // The limit bounds where that match starts (asyncio 3.13).
      let end = -1;
      let start = -1;
      for (const s of seps) {
        const at = rest.indexOf(s);
        if (at !== -1 && (end === -1 || at + s.length < end)) {
          end = at + s.length;
          start = at;
        }
      }
      const maxLen = Math.max(...seps.map((s) => s.length));
      if (end !== -1) return start > limit ? { kind: 'overrun' } : { kind: 'bytes', value: rest.subarray(0, end) };
      if (rest.length + 1 - maxLen > limit) return { kind: 'overrun' };
      if (op.kind === 'readLine') return { kind: 'bytes', value: rest };
      return { kind: 'incomplete', partial: rest, expected: null };
    }
  }
}

/** A transport stand-in that only records pauseReading / resumeReading. */
class FakeTransport {
  paused = false;
  pauses = 0;
  pauseReading(): void {
    this.paused = true;
    this.pauses++;
  }
  resumeReading(): void {
    this.paused = false;
  }
}

function run<T>(body: (loop: EventLoop) => T): T {
  const loop = newEventLoop();
  try {
    return body(loop);
  } finally {
    loop.close();
  }
}

/**
 * Feed `chunks` (then EOF) into a reader the way a transport does (nothing
 * while it is paused), with `gaps[i]` loop turns after each, while a consumer
 * runs `ops`; check every answer against the model. Also checks flow
 * control: a reader waiting for data must never be left with its transport
 * paused (that would hang forever), and it never buffers more than
 * 2 * limit (or a readExactly's size) + one chunk.
 */
function checkReader(data: Buffer, cuts: number[], gaps: number[], ops: Op[], limit: number): void {
  const chunks = chunk(data, cuts);
  run((loop) => {
    const reader = new StreamReader(loop, limit);
    const transport = new FakeTransport();
    reader.setTransport(transport as unknown as Transport);
    let done = false;
    let maxBuffered = 0;
    const maxChunk = Math.max(0, ...chunks.map((c) => c.length));

    function* feeder(): Co<void> {
      for (let i = 0; i < chunks.length && !done; i++) {
        let stalled = 0;
        while (transport.paused && !done) {
          if (++stalled > 200) throw new Error('deadlock: the transport stays paused while the reader waits');
          yield;
        }
        if (done) return;
        reader.feedData(chunks[i]!);
        maxBuffered = Math.max(maxBuffered, (reader as unknown as { buffer: ChunkQueue }).buffer.size);
        for (let g = gaps[i % Math.max(1, gaps.length)] ?? 0; g > 0; g--) yield;
      }
      if (!done) reader.feedEof();
    }

    function* consumer(): Co<void> {
      let pos = 0;
      for (const op of ops) {
        const rest = data.subarray(pos);
        const want = expectedFor(op, rest, limit);
        let got: Buffer | undefined;
        let err: unknown;
        try {
          got = op.kind === 'readLine' ? yield* reader.readLine() : op.kind === 'readUntil' ? yield* reader.readUntil(op.seps) : op.kind === 'readExactly' ? yield* reader.readExactly(op.n) : yield* reader.read(op.n);
        } catch (e) {
          err = e;
        }
        const where = `${JSON.stringify(op)} at byte ${pos} of ${data.length}`;
        switch (want.kind) {
          case 'bytes':
            expect(err, where).toBeUndefined();
            expect(got!.toString('latin1'), where).toBe(want.value.toString('latin1'));
            pos += got!.length;
            break;
          case 'prefix':
            expect(err, where).toBeUndefined();
            expect(got!.length, where).toBeGreaterThan(0);
            expect(got!.length, where).toBeLessThanOrEqual(want.max);
            expect(got!.toString('latin1'), where).toBe(rest.subarray(0, got!.length).toString('latin1'));
            pos += got!.length;
            break;
          case 'incomplete':
            expect(err, where).toBeInstanceOf(IncompleteReadError);
            expect((err as IncompleteReadError).partial.toString('latin1'), where).toBe(want.partial.toString('latin1'));
            expect((err as IncompleteReadError).expected, where).toBe(want.expected);
            pos = data.length;
            break;
          case 'overrun':
            // readLine turns it into a plain Error and drops data (how much
            // depends on what was buffered, as in asyncio): stop there.
            if (op.kind === 'readLine') {
              expect(err, where).toBeInstanceOf(Error);
              return;
            }
            expect(err, where).toBeInstanceOf(LimitOverrunError);
            break; // the data stays in the buffer
        }
      }
    }

    const feed = loop.createTask(feeder());
    try {
      loop.runUntilComplete(consumer());
    } finally {
      done = true;
      loop.runUntilComplete(feed);
    }
    // Reading pauses past 2 * limit; a readExactly(n) for more must still get its n bytes.
    const biggestExactly = Math.max(0, ...ops.map((op) => (op.kind === 'readExactly' ? op.n : 0)));
    expect(maxBuffered, 'bytes buffered').toBeLessThanOrEqual(Math.max(2 * limit, biggestExactly) + maxChunk);
  });
}

describe('StreamReader over arbitrary chunkings (fast-check)', () => {
  const gapsArb = fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 });

  it('read / readExactly / readUntil / readLine answer as the model, however the data is split', () => {
    fc.assert(
      fc.property(dataArb, cutsArb, gapsArb, fc.array(opArb, { maxLength: 25 }), (data, cuts, gaps, ops) => {
        checkReader(data, cuts, gaps, ops, 1 << 20);
      }),
      params(300),
    );
  });

  it('with a small limit: LimitOverrunError keeps the data, and flow control never stalls a read', () => {
    const noReadLine = opArb.filter((op) => op.kind !== 'readLine');
    fc.assert(
      fc.property(dataArb, cutsArb, gapsArb, fc.array(noReadLine, { maxLength: 25 }), fc.integer({ min: 1, max: 48 }), (data, cuts, gaps, ops, limit) => {
        checkReader(data, cuts, gaps, ops, limit);
      }),
      params(300),
    );
  });

  it('readLine with a small limit: the error is a plain Error, and a line within the limit still reads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 80 }), cutsArb, (limit, longLen, cuts) => {
        // One chunk per line, so the long line is whole in the buffer when it
        // is refused and readLine drops exactly it (asyncio's behaviour).
        const long = Buffer.from('a'.repeat(longLen) + '\n');
        const short = Buffer.from('b'.repeat(Math.max(0, limit - 1)) + '\n');
        run((loop) => {
          const reader = new StreamReader(loop, limit);
          reader.feedData(long);
          for (const c of chunk(short, cuts)) reader.feedData(c);
          reader.feedEof();
          const lines = loop.runUntilComplete(
            (function* (): Co<Array<string | Error>> {
              const out: Array<string | Error> = [];
              for (let i = 0; i < 3; i++) {
                try {
                  out.push((yield* reader.readLine()).toString());
                } catch (e) {
                  out.push(e as Error);
                }
              }
              return out;
            })(),
          );
          if (longLen > limit) {
            expect(lines[0]).toBeInstanceOf(Error);
            expect(lines[0]).not.toBeInstanceOf(LimitOverrunError);
            expect(lines.slice(1)).toEqual([short.toString(), '']);
          } else {
            expect(lines).toEqual([long.toString(), short.toString(), '']);
          }
        });
      }),
      params(200),
    );
  });
});

// ---- ChunkQueue --------------------------------------------------------------

type QOp =
  | { kind: 'push'; bytes: Buffer }
  | { kind: 'take'; frac: number }
  | { kind: 'discard'; n: number }
  | { kind: 'indexOf'; needle: Buffer; from: number }
  | { kind: 'startsWith'; needle: Buffer; pos: number };

const smallBytes = fc.array(byteArb, { maxLength: 6 }).map((a) => Buffer.from(a));
const qopArb: fc.Arbitrary<QOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('push' as const), bytes: fc.array(byteArb, { minLength: 0, maxLength: 30 }).map((a) => Buffer.from(a)) }) },
  fc.record({ kind: fc.constant('take' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('discard' as const), n: fc.integer({ min: 0, max: 40 }) }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('indexOf' as const), needle: smallBytes, from: fc.integer({ min: 0, max: 60 }) }) },
  fc.record({ kind: fc.constant('startsWith' as const), needle: smallBytes, pos: fc.integer({ min: -2, max: 60 }) }),
);

describe('ChunkQueue against a plain Buffer (fast-check)', () => {
  it('take, discard, indexOf and startsWith agree with the concatenated bytes', () => {
    fc.assert(
      fc.property(fc.array(qopArb, { maxLength: 60 }), (ops) => {
        const q = new ChunkQueue();
        let model = Buffer.alloc(0);
        for (const op of ops) {
          const where = JSON.stringify({ op: op.kind, model: model.toString('latin1') });
          switch (op.kind) {
            case 'push':
              // A transport never pushes an empty chunk (feedData drops them), but the queue must cope.
              q.push(op.bytes);
              model = Buffer.concat([model, op.bytes]);
              break;
            case 'take': {
              const n = Math.floor(op.frac * model.length);
              expect(q.take(n).toString('latin1'), where).toBe(model.subarray(0, n).toString('latin1'));
              model = model.subarray(n);
              break;
            }
            case 'discard':
              q.discard(op.n);
              model = model.subarray(Math.min(op.n, model.length));
              break;
            case 'indexOf':
              expect(q.indexOf(op.needle, op.from), `${where} indexOf(${op.needle.toString('latin1')}, ${op.from})`).toBe(model.indexOf(op.needle, op.from));
              break;
            case 'startsWith': {
              const want = op.pos >= 0 && op.pos + op.needle.length <= model.length && model.subarray(op.pos, op.pos + op.needle.length).equals(op.needle);
              expect(q.startsWith(op.needle, op.pos), `${where} startsWith(${op.needle.toString('latin1')}, ${op.pos})`).toBe(want);
              break;
            }
          }
          expect(q.size, where).toBe(model.length);
        }
        expect(q.take(q.size).toString('latin1')).toBe(model.toString('latin1'));
      }),
      params(500),
    );
  });
});

// ---- the HTTP example's request parser ------------------------------------

interface ParsedView {
  method: string;
  target: string;
  versionMinor: number;
  headers: Array<[string, string]>;
  keepAlive: boolean;
  body: string;
}

interface ParserLike {
  feed(data: Uint8Array): Array<ParsedView & { body: Buffer }>;
  error: (Error & { status: number }) | null;
  bufferedBytes: number;
}

/**
 * Feed chunks to a new parser; collect the requests and the error. With
 * `reuse`, each chunk goes in as a view of one scratch buffer that is
 * overwritten after every feed() (a transport's shared read buffer): the
 * parser must have copied what it keeps.
 */
function parseAll(chunks: Uint8Array[], limits?: Record<string, number>, reuse = false): { requests: ParsedView[]; error: string | null } {
  const parser = new RequestParser(limits) as ParserLike;
  const requests: ParsedView[] = [];
  const scratch = reuse ? Buffer.alloc(Math.max(0, ...chunks.map((c) => c.length))) : null;
  for (const c of chunks) {
    let got: Array<ParsedView & { body: Buffer }>;
    try {
      if (scratch === null) {
        got = parser.feed(c);
      } else {
        scratch.set(c);
        got = parser.feed(scratch.subarray(0, c.length));
      }
    } catch (e) {
      throw new Error(`feed() threw ${String(e)}`);
    }
    scratch?.fill(0xee);
    for (const r of got) {
      requests.push({ method: r.method, target: r.target, versionMinor: r.versionMinor, headers: r.headers, keepAlive: r.keepAlive, body: r.body.toString('latin1') });
    }
  }
  const err = parser.error;
  if (err !== null) expect(err).toBeInstanceOf(HttpParseError);
  return { requests, error: err === null ? null : `${err.status} ${err.message}` };
}

const tokenArb = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const valueArb = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
const requestArb = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    target: fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/),
    versionMinor: fc.constantFrom(0, 1),
    headers: fc.array(fc.tuple(tokenArb, valueArb), { maxLength: 6 }),
    body: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 }).map((a) => Buffer.from(a)),
    ows: fc.constantFrom('', ' ', '\t', '  '),
  })
  .map((r) => ({
    ...r,
    // Headers the parser interprets are set by the generator only, so the expectation is simple.
    headers: r.headers.filter(([n]) => !['content-length', 'transfer-encoding', 'host', 'connection', 'expect'].includes(n.toLowerCase())),
  }));

function serialize(r: { method: string; target: string; versionMinor: number; headers: Array<[string, string]>; body: Buffer; ows: string }): Buffer {
  const lines = [`${r.method} ${r.target} HTTP/1.${r.versionMinor}`];
  if (r.versionMinor === 1) lines.push(`Host:${r.ows}example.test`);
  for (const [n, v] of r.headers) lines.push(`${n}:${r.ows}${v}${r.ows}`);
  if (r.body.length > 0) lines.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), r.body]);
}

const bigCutsArb = fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 30 });

describe('examples/http_parser.mjs (fast-check)', () => {
  it('parses generated pipelined requests the same however they are split, from a reused buffer too', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 5 }), bigCutsArb, (reqs, cuts) => {
        const wire = Buffer.concat(reqs.map(serialize));
        const whole = parseAll([wire]);
        expect(whole.error).toBeNull();
        expect(whole.requests.map((r) => [r.method, r.target, r.versionMinor, r.body])).toEqual(reqs.map((r) => [r.method, r.target, r.versionMinor, r.body.toString('latin1')]));
        for (let i = 0; i < reqs.length; i++) {
          const sent = reqs[i]!.headers.map(([n, v]) => [n.toLowerCase(), v]);
          const got = whole.requests[i]!.headers.filter(([n]) => n !== 'host' && n !== 'content-length');
          expect(got).toEqual(sent);
        }
        expect(parseAll(chunk(wire, cuts))).toEqual(whole);
        expect(parseAll(chunk(wire, cuts), undefined, true), 'fed as views of a reused buffer').toEqual(whole);
      }),
      params(300),
    );
  });

  it('never throws on arbitrary bytes, and the outcome does not depend on the chunking', () => {
    // Bytes near HTTP syntax, so the parser gets past the request line often.
    const piece = fc.oneof(
      fc.constantFrom('GET / HTTP/1.1\r\n', 'Host: a\r\n', '\r\n', 'Content-Length: 3\r\n', 'Content-Length: 99999999999999999\r\n', 'Transfer-Encoding: chunked\r\n', 'Expect: 100-continue\r\n', 'X: \x01\r\n', ' folded\r\n', 'POST /x HTTP/1.0\r\n', 'abc', '\r', '\n', ':', ' '),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }).map((a) => Buffer.from(a).toString('latin1')),
    );
    const limitsArb = fc.option(fc.record({ maxHeadSize: fc.integer({ min: 1, max: 200 }), maxHeaders: fc.integer({ min: 0, max: 5 }), maxBodySize: fc.integer({ min: 0, max: 50 }) }), { nil: undefined });
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), bigCutsArb, limitsArb, (pieces, cuts, limits) => {
        const wire = Buffer.from(pieces.join(''), 'latin1');
        const whole = parseAll([wire], limits);
        expect(parseAll(chunk(wire, cuts), limits)).toEqual(whole);
        // Byte by byte too: the worst case for the limits' bookkeeping.
        expect(parseAll(chunk(wire, new Array<number>(wire.length).fill(1)), limits)).toEqual(whole);
      }),
      params(400),
    );
  });

  it('holds no more than a head (plus its CRLFCRLF) while waiting for one', () => {
    fc.assert(
      fc.property(fc.array(byteArb, { maxLength: 400 }), fc.integer({ min: 1, max: 64 }), (bytes, maxHeadSize) => {
        const parser = new RequestParser({ maxHeadSize }) as ParserLike;
        for (const b of bytes) {
          parser.feed(Buffer.from([b]));
          if (parser.error !== null) break;
          // These bytes never make a complete head, so all that is held is a partial head.
          expect(parser.bufferedBytes).toBeLessThanOrEqual(maxHeadSize + 3);
        }
      }),
      params(200),
    );
  });
});
