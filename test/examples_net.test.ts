// The networking examples (examples/*.mjs), each run as a child process the
// way a user runs it, its output checked; servers are driven from this
// process with Node's own net / http clients (and curl / wrk when
// installed). Every child is killed at the end of its test; every socket is
// closed (test/setup.ts counts this process's fds).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canLimitFds, connectHelloClients, settledCount, cpuSeconds, leaveFreeFds, openFds } from './emfile.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = (name: string): string => join(root, 'examples', name);

// ---- building dist (the examples import the package 'coio', i.e. dist/) ----

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  const built = [join(root, 'dist/esm/index.js'), join(root, 'dist/cjs/index.js')];
  const srcTime = newestMtime(join(root, 'src'));
  if (built.some((f) => !existsSync(f) || statSync(f).mtimeMs < srcTime)) {
    // What `npm run build:ts` runs.
    try {
      execFileSync(process.execPath, [join(root, 'scripts/build-ts.mjs')], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`building dist/ (npm run build:ts) failed; the examples import it:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
}, 180_000);

// ---- child processes -------------------------------------------------------

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves when the process has exited and its stdio pipes are closed. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, out: () => out, err: () => err, closed };
}

/** Kill the process if it still runs; wait until it and its pipes are gone. */
async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.closed;
}

/** SIGTERM: the servers shut down cleanly and exit 0 (SIGKILL after 5 s). */
async function terminate(p: Proc): Promise<number | null> {
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  try {
    return (await p.closed).code;
  } finally {
    clearTimeout(timer);
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Wait for a line matching re on stdout (failing early if the process exits). */
async function waitForOutput(p: Proc, re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  let m: RegExpMatchArray | null = null;
  await until(
    () => {
      m = re.exec(p.out());
      if (m === null && (p.child.exitCode !== null || p.child.signalCode !== null)) {
        throw new Error(`process exited (${p.child.exitCode ?? p.child.signalCode}) before printing ${re}; stdout: ${p.out()} stderr: ${p.err()}`);
      }
      return m !== null;
    },
    `${re} in the output`,
    timeoutMs,
  );
  return m!;
}

/** Run an example to completion (killed after timeoutMs). */
async function runExample(args: string[], timeoutMs = 15_000): Promise<{ code: number | null; out: string; err: string }> {
  const p = start(args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code } = await p.closed;
    return { code, out: p.out(), err: p.err() };
  } finally {
    clearTimeout(timer);
    await stop(p);
  }
}

/** Start a server example and parse its port from the line it prints. */
async function startServer(args: string[], re: RegExp): Promise<[Proc, number]> {
  const p = start(args);
  try {
    const m = await waitForOutput(p, re);
    return [p, Number(m[1])];
  } catch (err) {
    await stop(p);
    throw err;
  }
}

function hasTool(name: string): boolean {
  return spawnSync(name, ['--version'], { stdio: 'ignore' }).error === undefined;
}

// ---- raw sockets -------------------------------------------------------------

/** A TCP client collecting everything it receives (as bytes, and split into lines). */
class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private joined: Buffer | null = null;
  private readonly lineList: string[] = [];
  private partial = '';
  ended = false;
  closed = false;
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.joined = null;
      const parts = (this.partial + d.toString('latin1')).split('\n');
      this.partial = parts.pop()!;
      for (const line of parts) this.lineList.push(line);
    });
    this.socket.on('end', () => (this.ended = true));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => {});
  }
  get data(): Buffer {
    return (this.joined ??= Buffer.concat(this.chunks));
  }
  text(): string {
    return this.data.toString();
  }
  /** The complete lines received so far (a live array: don't modify it). */
  lines(): readonly string[] {
    return this.lineList;
  }
  async close(): Promise<void> {
    if (!this.closed) {
      this.socket.destroy();
      await until(() => this.closed, 'the socket to close');
    }
  }
}

interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Split complete HTTP responses (with Content-Length) off the front of buf. */
function parseResponses(buf: Buffer, isHead = false): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end === -1) return out;
    const [statusLine, ...lines] = buf.toString('latin1', pos, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine!)?.[1]);
    const length = isHead || status === 100 ? 0 : Number(headers['content-length']);
    if (!Number.isInteger(length)) throw new Error(`response without Content-Length: ${statusLine}`);
    if (buf.length < end + 4 + length) return out;
    out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + length) });
    pos = end + 4 + length;
  }
}

// ---- the echo examples ------------------------------------------------------

describe.each(['echo_sock.mjs', 'echo_protocol.mjs', 'echo_streams.mjs'])('%s', (file) => {
  it('demo: server and client in one process, prints the exchange, exits 0', async () => {
    const { code, out, err } = await runExample([example(file)]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/listening on 127\.0\.0\.1:\d+/);
    expect(out).toMatch(/client: sent "hello", got "hello"/);
    expect(out).toMatch(/\(1000000 bytes\), got .*\(1000000 bytes\)/);
    expect(out).toMatch(/demo done\n$/);
  });

  it('server mode serves clients until killed; client mode prints the echo', async () => {
    const [server, port] = await startServer([example(file), 'server', '0'], /listening on 127\.0\.0\.1:(\d+)/);
    const raw = new RawClient(port);
    try {
      const client = await runExample([example(file), 'client', '127.0.0.1', String(port), 'hello from the client']);
      expect(client.code).toBe(0);
      expect(client.out).toBe('hello from the client\n');
      // 'localhost' goes through loop.getaddrinfo.
      const viaName = await runExample([example(file), 'client', 'localhost', String(port), 'by name']);
      expect(viaName.out).toBe('by name\n');
      // A Node client: several writes, then half-close; every byte comes back.
      const payload = randomBytes(300_000);
      raw.socket.write(payload.subarray(0, 1000));
      raw.socket.end(payload.subarray(1000));
      await until(() => raw.ended, 'the echo of 300 kB');
      expect(raw.data.equals(payload)).toBe(true);
      expect(server.child.exitCode).toBeNull(); // still serving
      // SIGTERM (coio's loop.addSignalHandler): a clean shutdown, exit 0.
      expect(await terminate(server)).toBe(0);
      expect(server.out()).toMatch(/SIGTERM: shutting down\n$/);
      expect(server.err()).toBe('');
    } finally {
      await raw.close();
      await stop(server);
    }
  });
});

// A burst of clients beyond the server's fd limit: the server must keep
// listening, not spin while out of fds, and serve everyone once fds free up
// (as the library's servers do: test/faults.test.ts). echo_sock.mjs's accept
// loop died on the first EMFILE and left the accepted connections open.
describe.skipIf(!canLimitFds).each(['echo_sock.mjs', 'echo_protocol.mjs', 'echo_streams.mjs'])('%s out of fds', (file) => {
  it('keeps serving once fds free up, does not spin while out of them, leaves no fd behind', async () => {
    const [server, port] = await startServer([example(file), 'server', '0'], /listening on 127\.0\.0\.1:(\d+)/);
    const clients: net.Socket[] = [];
    try {
      const pid = server.child.pid!;
      const baseline = openFds(pid);
      const free = 6;
      leaveFreeFds(pid, baseline, free);
      const total = free + 12;
      const answered = new Set<number>();
      await connectHelloClients(port, total, clients, answered);
      await until(() => answered.size >= free - 1, 'the connections that fit to be answered', 20_000);
      await until(() => server.err().includes('EMFILE'), 'the server to report EMFILE', 20_000);
      const answeredBefore = await settledCount(() => answered.size);
      expect(answeredBefore).toBeLessThan(total);
      // Out of fds with connections pending: no spinning, nothing more served.
      const cpu0 = cpuSeconds(pid);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 1200));
      const wall = (Date.now() - t0) / 1000;
      expect(cpuSeconds(pid) - cpu0, `CPU seconds used in ${wall.toFixed(2)} s out of fds`).toBeLessThan(0.25 * wall);
      expect(answered.size).toBe(answeredBefore);
      // Clients that got their echo leave: the server takes the rest.
      const ended = new Set<number>();
      await until(
        () => {
          for (const i of answered) {
            if (!ended.has(i)) {
              ended.add(i);
              clients[i]!.end();
            }
          }
          return answered.size === total;
        },
        'every connection to be answered once fds free up',
        60_000,
      );
      for (const s of clients) s.end();
      // Every connection closed by the server once its client left: back to the fds it had.
      await until(() => openFds(pid).size <= baseline.size, `the server's fds back to ${baseline.size}`, 20_000);
      expect(server.child.exitCode).toBeNull();
      expect(await terminate(server)).toBe(0);
    } finally {
      for (const s of clients) s?.destroy();
      await stop(server);
    }
  }, 120_000);
});

describe.each(['echo_sock.mjs', 'echo_protocol.mjs', 'echo_streams.mjs'])('%s client', (file) => {
  it('reports a refused connection on stderr and exits 1', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const { code, out, err } = await runExample([example(file), 'client', '127.0.0.1', String(port), 'x']);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(`echo client: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });
});

// ---- the HTTP server ----------------------------------------------------------

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: net.Socket;
}

function request(port: number, options: http.RequestOptions & { body?: Buffer | string }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const { body, ...opts } = options;
    const req = http.request({ host: '127.0.0.1', port, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), socket: req.socket! }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.headers && (opts.headers as Record<string, string>).expect === '100-continue') {
      req.on('continue', () => req.end(body));
    } else {
      req.end(body);
    }
  });
}

/** The resident set size of a process, MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

describe.skipIf(process.platform !== 'linux')('http_server.mjs against a client that does not read', () => {
  const PIPELINED = 24;
  const bigRequests = (port: number): string => `GET /bytes/67108864 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`.repeat(PIPELINED);

  it(`${PIPELINED} pipelined GET /bytes/67108864, never read: the server's memory stays bounded, and SIGTERM still completes`, async () => {
    const [server, port] = await startServer([example('http_server.mjs'), '0'], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const c = new RawClient(port);
    try {
      c.socket.pause(); // never read: the responses pile up in the server
      await until(() => server.child.pid !== undefined, 'the pid');
      const pid = server.child.pid!;
      const rss0 = rssMiB(pid);
      c.socket.write(bigRequests(port));
      let peak = rss0;
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 50));
        peak = Math.max(peak, rssMiB(pid));
      }
      // One 64 MiB body is shared by every response (sent by reference);
      // unfixed, each pipelined response copied it: 24 x 64 MiB, 1.6 GB.
      expect(peak - rss0).toBeLessThan(200);
      // Shutdown with a client that does not read: aborted at the deadline.
      server.child.kill('SIGTERM');
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
      const t0 = Date.now();
      const { code } = await server.closed;
      clearTimeout(timer);
      expect(code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      await c.close();
      await stop(server);
    }
  }, 60_000);

  it('the idle timeout closes a silent connection, and aborts one whose client stopped reading', async () => {
    const [server, port] = await startServer([join(root, 'test/fixtures/http_limits.mjs'), '0.3'], /listening on (\d+)/);
    const silent = new RawClient(port);
    const stalled = new RawClient(port);
    const busy = new RawClient(port);
    try {
      stalled.socket.pause();
      stalled.socket.write(bigRequests(port));
      const t0 = Date.now();
      // A client that keeps asking stays connected meanwhile.
      let answered = 0;
      for (let i = 0; i < 12; i++) {
        busy.socket.write(`GET / HTTP/1.1\r\nHost: x\r\n\r\n`);
        await until(() => parseResponses(busy.data).length === i + 1, 'a response');
        answered++;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(busy.ended).toBe(false); // 1.2 s, four idle periods: never silent for one
      await until(() => silent.ended, 'the silent connection to be closed', 10_000);
      expect(Date.now() - t0).toBeLessThan(5_000);
      // The stalled one was aborted meanwhile (a paused socket learns of it
      // only when it reads again): it ends at once, far short of 24 x 64 MiB.
      stalled.socket.resume();
      await until(() => stalled.closed, 'the stalled connection to be reset', 5_000);
      expect(stalled.data.length).toBeLessThan(PIPELINED * 64 * 1024 * 1024);
      expect(silent.data.length).toBe(0);
      expect(answered).toBe(12);
      expect(await terminateWithin(server, 15_000)).toBe(0);
    } finally {
      await silent.close();
      await stalled.close();
      await busy.close();
      await stop(server);
    }
  }, 60_000);
});

async function terminateWithin(p: Proc, ms: number): Promise<number | null> {
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  try {
    return (await p.closed).code;
  } finally {
    clearTimeout(timer);
  }
}

describe('http_server.mjs --files DIR', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coio-examples-files-'));
  const big = randomBytes(5 * 1024 * 1024 + 3);
  writeFileSync(join(dir, 'big.bin'), big);
  writeFileSync(join(dir, 'empty.txt'), '');
  let server: Proc;
  let port: number;
  beforeAll(async () => {
    [server, port] = await startServer([example('http_server.mjs'), '0', '127.0.0.1', '--files', dir], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
    return async () => {
      await stop(server);
      rmSync(dir, { recursive: true, force: true });
    };
  });

  it('GET /file/NAME (loop.sendfile) and /file/NAME?copy give the file, on one keep-alive connection; HEAD, empty files, 404s', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<net.Socket>();
      for (const path of ['/file/big.bin', '/file/big.bin?copy', '/file/big.bin']) {
        const r = await request(port, { path, agent });
        expect(r.status).toBe(200);
        expect(r.headers['content-length']).toBe(String(big.length));
        expect(r.body.equals(big)).toBe(true);
        sockets.add(r.socket);
      }
      // Requests after a file on the same connection are answered (reading resumed).
      const hello = await request(port, { path: '/', agent });
      expect(hello.body.toString()).toBe('Hello, World!\n');
      sockets.add(hello.socket);
      expect(sockets.size).toBe(1);
      const head = await request(port, { path: '/file/big.bin', method: 'HEAD', agent });
      expect(head.headers['content-length']).toBe(String(big.length));
      expect(head.body.length).toBe(0);
      const empty = await request(port, { path: '/file/empty.txt', agent });
      expect([empty.status, empty.body.length]).toEqual([200, 0]);
      for (const path of ['/file/nope', '/file/..%2Fetc%2Fpasswd', '/file/.hidden', '/file/']) {
        expect((await request(port, { path, agent })).status).toBe(404);
      }
    } finally {
      agent.destroy();
    }
  });

  it('pipelined: a file between two requests comes out in order, then the connection closes when asked', async () => {
    const c = new RawClient(port);
    try {
      c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /file/big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /file/big.bin?copy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await until(() => c.ended, 'the server to close after the last response');
      const rs = parseResponses(c.data);
      expect(rs).toHaveLength(3);
      expect(rs[0]!.body.toString()).toBe('Hello, World!\n');
      expect(rs[1]!.body.equals(big)).toBe(true);
      expect(rs[2]!.body.equals(big)).toBe(true);
    } finally {
      await c.close();
    }
  });
});

describe('http_server.mjs', () => {
  it('demo: keep-alive, pipelined requests and a 400, then exits 0', async () => {
    const { code, out, err } = await runExample([example('http_server.mjs'), 'demo']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(out.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(7);
    expect(out).toContain('"hello, echo"');
    expect(out).toContain('(the same bytes)');
    expect(out).toContain('HTTP/1.1 400 Bad Request');
    expect(out).toMatch(/demo done\n$/);
  });

  it('a frozen response (GET /) is serialized once a second and reused: the Date follows the clock, close gets its own bytes', () => {
    // HttpProtocol driven directly, with a stand-in transport and clock, in a child (the example imports dist/).
    const script = `
      import { HttpProtocol } from ${JSON.stringify(example('http_server.mjs'))};
      let now = Date.UTC(2030, 0, 1, 0, 0, 0, 100);
      Date.now = () => now;
      const writes = [];
      const transport = { write: (b) => writes.push(b), writelines() {}, close() {}, pauseReading() {}, resumeReading() {},
        isClosing: () => false, getWriteBufferSize: () => 0 };
      const p = new HttpProtocol(undefined, { idleTimeout: 0 });
      p.connectionMade(transport);
      const get = Buffer.from('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
      p.dataReceived(get);
      p.dataReceived(get);
      now += 1000;
      p.dataReceived(get);
      p.dataReceived(Buffer.from('GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
      console.log(JSON.stringify({ same: writes[0] === writes[1], texts: writes.map((b) => Buffer.from(b).toString('latin1')) }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const { same, texts } = JSON.parse(r.stdout) as { same: boolean; texts: string[] };
    expect(same).toBe(true);
    expect(texts).toHaveLength(4);
    expect(texts[0]).toContain('Date: Tue, 01 Jan 2030 00:00:00 GMT\r\n');
    expect(texts[2]).toContain('Date: Tue, 01 Jan 2030 00:00:01 GMT\r\n');
    expect(texts[2]).toContain('Connection: keep-alive\r\n');
    expect(texts[3]).toContain('Date: Tue, 01 Jan 2030 00:00:01 GMT\r\n');
    expect(texts[3]).toContain('Connection: close\r\n');
    for (const t of texts) expect(t).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 14\r\n[^]*\r\n\r\nHello, World!\n$/);
  });

  describe('served on port 0', () => {
    let server: Proc;
    let port: number;

    beforeAll(async () => {
      [server, port] = await startServer([example('http_server.mjs'), '0'], /listening on http:\/\/127\.0\.0\.1:(\d+)/);
      return () => stop(server);
    });

    afterAll(async () => {
      // A keep-alive connection is open: SIGTERM closes it and exits 0.
      const idle = new RawClient(port);
      try {
        idle.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await until(() => parseResponses(idle.data).length === 1, 'a response');
        expect(await terminate(server)).toBe(0);
        await until(() => idle.ended, 'the server to close the idle connection');
        expect(server.out()).toMatch(/SIGTERM: shutting down\n$/);
      } finally {
        await idle.close();
      }
    });

    it('keep-alive: several requests from a keep-alive agent share one socket', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const sockets = new Set<net.Socket>();
        for (let i = 0; i < 5; i++) {
          const res = await request(port, { path: '/', agent });
          expect(res.status).toBe(200);
          expect(res.headers['content-length']).toBe('14');
          expect(res.headers['connection']).toBe('keep-alive');
          expect(res.body.toString()).toBe('Hello, World!\n');
          sockets.add(res.socket);
        }
        expect(sockets.size).toBe(1);
        // Other routes on the same connection.
        const bytes = await request(port, { path: '/bytes/100000', agent });
        expect(bytes.body.length).toBe(100_000);
        expect(bytes.headers['content-length']).toBe('100000');
        sockets.add(bytes.socket);
        const missing = await request(port, { path: '/nope', agent });
        expect(missing.status).toBe(404);
        const wrongMethod = await request(port, { path: '/echo', agent });
        expect(wrongMethod.status).toBe(405);
        expect(wrongMethod.headers['allow']).toBe('POST');
        sockets.add(wrongMethod.socket);
        expect(sockets.size).toBe(1);
      } finally {
        agent.destroy();
      }
    });

    it('POST /echo returns the body (small, large, with Expect: 100-continue)', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const small = await request(port, { method: 'POST', path: '/echo', agent, body: 'hello body', headers: { 'content-type': 'text/x-test' } });
        expect(small.status).toBe(200);
        expect(small.body.toString()).toBe('hello body');
        expect(small.headers['content-type']).toBe('text/x-test');
        const payload = randomBytes(500_000);
        const large = await request(port, { method: 'POST', path: '/echo', agent, body: payload });
        expect(large.body.equals(payload)).toBe(true);
        const cont = await request(port, { method: 'POST', path: '/echo', agent, body: payload.subarray(0, 5000), headers: { expect: '100-continue', 'content-length': '5000' } });
        expect(cont.status).toBe(200);
        expect(cont.body.equals(payload.subarray(0, 5000))).toBe(true);
      } finally {
        agent.destroy();
      }
    });

    it('3 pipelined requests in one write are answered in order', async () => {
      const c = new RawClient(port);
      try {
        const host = `Host: 127.0.0.1:${port}\r\n`;
        c.socket.write(
          `GET /bytes/3 HTTP/1.1\r\n${host}\r\n` + `POST /echo HTTP/1.1\r\n${host}Content-Length: 6\r\n\r\nsecond` + `GET / HTTP/1.1\r\n${host}\r\n`,
        );
        await until(() => parseResponses(c.data).length === 3, '3 responses');
        const [a, b, d] = parseResponses(c.data);
        expect([a!.status, a!.body.toString()]).toEqual([200, 'abc']);
        expect([b!.status, b!.body.toString()]).toEqual([200, 'second']);
        expect([d!.status, d!.body.toString()]).toEqual([200, 'Hello, World!\n']);
        expect(c.ended).toBe(false); // keep-alive
        // A request split across many writes.
        const before = c.data.length;
        for (const piece of ['GE', 'T /byt', 'es/2 HTTP/1.1\r', `\n${host}`, '\r', '\n']) {
          c.socket.write(piece);
          await new Promise((r) => setTimeout(r, 2));
        }
        await until(() => parseResponses(c.data.subarray(before)).length === 1, 'the split request');
        expect(parseResponses(c.data.subarray(before))[0]!.body.toString()).toBe('ab');
      } finally {
        await c.close();
      }
    });

    it.each([
      ['no version', 'GET /\r\n\r\n'],
      ['garbage', 'HELLO\r\n\r\n'],
      ['a header without a colon', 'GET / HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n'],
      ['a space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
      ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n'],
      ['a bad Content-Length', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n'],
      ['a bare LF', 'GET / HTTP/1.1\nHost: x\r\n\r\n'],
    ])('a malformed request (%s) gets 400 and the connection is closed', async (_what, raw) => {
      const c = new RawClient(port);
      try {
        c.socket.write(raw);
        await until(() => c.ended, 'the server to close');
        const [res, ...more] = parseResponses(c.data);
        expect(res!.status).toBe(400);
        expect(res!.headers['connection']).toBe('close');
        expect(more).toEqual([]);
      } finally {
        await c.close();
      }
    });

    it('a valid request before a malformed one is still answered, in order', async () => {
      const c = new RawClient(port);
      try {
        c.socket.write('GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await until(() => c.ended, 'the server to close');
        expect(parseResponses(c.data).map((r) => r.status)).toEqual([200, 400]);
      } finally {
        await c.close();
      }
    });

    it('Connection: close and HTTP/1.0 close after the response; HTTP/1.0 keep-alive stays open', async () => {
      for (const [raw, closes] of [
        ['GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', true],
        ['GET / HTTP/1.0\r\n\r\n', true],
        ['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', false],
      ] as const) {
        const c = new RawClient(port);
        try {
          c.socket.write(raw);
          await until(() => parseResponses(c.data).length >= 1, 'a response');
          if (closes) await until(() => c.ended, 'the server to close');
          else await new Promise((r) => setTimeout(r, 50));
          const responses = parseResponses(c.data);
          expect(responses).toHaveLength(1); // nothing after a close
          expect(responses[0]!.headers['connection']).toBe(closes ? 'close' : 'keep-alive');
          expect(c.ended).toBe(closes);
        } finally {
          await c.close();
        }
      }
    });

    it.skipIf(!hasTool('curl'))('curl can fetch / (skipped when curl is not installed)', () => {
      const r = spawnSync('curl', ['-s', '--max-time', '5', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('Hello, World!\n');
      const echoed = spawnSync('curl', ['-s', '--max-time', '5', '-d', 'curl body', `http://127.0.0.1:${port}/echo`], { encoding: 'utf8', timeout: 10_000 });
      expect(echoed.stdout).toBe('curl body');
    });

    it.skipIf(!hasTool('wrk'))('wrk -t1 -c10 -d1s: requests served, no socket errors (skipped when wrk is not installed)', () => {
      const r = spawnSync('wrk', ['-t1', '-c10', '-d1s', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, r.stderr).toBe(0);
      const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? 0);
      expect(requests, r.stdout).toBeGreaterThan(0);
      expect(r.stdout).not.toMatch(/Socket errors/);
      expect(r.stdout).not.toMatch(/Non-2xx/);
      console.log(`wrk against examples/http_server.mjs: ${/Requests\/sec:\s*([\d.]+)/.exec(r.stdout)?.[1]} requests/s`);
    });
  });

  if (!hasTool('curl')) console.log('curl is not installed: the curl test is skipped (apt-get install -y curl)');
  if (!hasTool('wrk')) console.log('wrk is not installed: the wrk test is skipped (apt-get install -y wrk)');
});

// ---- TLS: the HTTPS mode of the HTTP server, the TLS echo client -----------------

/**
 * A test CA and a certificate it signed for localhost / 127.0.0.1 / ::1, made with
 * the openssl command into a temp dir (removed by the returned cleanup).
 */
function makeCerts(): { dir: string; ca: string; cert: string; key: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'coio-examples-tls-'));
  const f = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=coio examples test CA');
  openssl('req', ...ec, '-keyout', f('key.pem'), '-out', f('leaf.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n');
  openssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('cert.pem'), '-days', '1', '-extfile', f('leaf.ext'));
  return { dir, ca: f('ca.pem'), cert: f('cert.pem'), key: f('key.pem'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function curl(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('curl', ['-sS', '--max-time', '5', ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!hasTool('openssl'))('TLS examples (skipped without the openssl command)', () => {
  let certs: ReturnType<typeof makeCerts>;
  beforeAll(() => {
    certs = makeCerts();
    return () => certs.cleanup();
  });

  describe.skipIf(!hasTool('curl'))('http_server.mjs --tls --files DIR', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coio-examples-tls-files-'));
    const big = randomBytes(3 * 1024 * 1024 + 1);
    writeFileSync(join(dir, 'big.bin'), big);
    let server: Proc;
    let port: number;
    beforeAll(async () => {
      [server, port] = await startServer(
        [example('http_server.mjs'), '0', '127.0.0.1', '--files', dir, '--tls', '--cert', certs.cert, '--key', certs.key],
        /listening on https:\/\/127\.0\.0\.1:(\d+)/,
      );
      return async () => {
        await stop(server);
        rmSync(dir, { recursive: true, force: true });
      };
    });

    it('GET /file/NAME over TLS (loop.sendfile reads and writes through the TLS transport): the exact bytes', () => {
      for (const path of ['/file/big.bin', '/file/big.bin?copy']) {
        const r = spawnSync('curl', ['-sS', '--max-time', '10', '--cacert', certs.ca, `https://127.0.0.1:${port}${path}`], { timeout: 20_000, maxBuffer: 16 * 1024 * 1024 });
        expect(r.stderr.toString()).toBe('');
        expect(r.status).toBe(0);
        expect(r.stdout.equals(big)).toBe(true);
      }
    });
  });

  describe('http_server.mjs --tls --cert --key', () => {
    let server: Proc;
    let port: number;
    beforeAll(async () => {
      [server, port] = await startServer(
        [example('http_server.mjs'), '0', '--tls', '--cert', certs.cert, '--key', certs.key],
        /listening on https:\/\/127\.0\.0\.1:(\d+)/,
      );
      return () => stop(server);
    });

    it.skipIf(!hasTool('curl'))('curl --cacert fetches / and POSTs to /echo; without the CA curl refuses the certificate', () => {
      const r = curl(['--cacert', certs.ca, `https://127.0.0.1:${port}/`]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('Hello, World!\n');
      const byName = curl(['--cacert', certs.ca, '--resolve', `localhost:${port}:127.0.0.1`, '-d', 'over TLS', `https://localhost:${port}/echo`]);
      expect(byName.stdout).toBe('over TLS');
      const untrusted = curl([`https://127.0.0.1:${port}/`]);
      expect(untrusted.status).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
    });

    it("Node's https client: keep-alive requests on one TLS socket, a 1 MB body intact", async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(certs.ca) });
      try {
        const get = (path: string): Promise<{ status: number; body: Buffer; socket: unknown; protocol: string | null }> =>
          new Promise((resolve, reject) => {
            const req = https.get({ host: '127.0.0.1', port, path, agent }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve({
                status: res.statusCode!, body: Buffer.concat(chunks), socket: req.socket, protocol: (req.socket as import('node:tls').TLSSocket).getProtocol(),
              }));
              res.on('error', reject);
            });
            req.on('error', reject);
          });
        const a = await get('/');
        const b = await get('/bytes/1000000');
        expect(a.status).toBe(200);
        expect(a.body.toString()).toBe('Hello, World!\n');
        expect(b.body.length).toBe(1_000_000);
        expect(b.body.equals(Buffer.alloc(1_000_000, 'abcdefghijklmnopqrstuvwxyz'))).toBe(true);
        expect(b.socket).toBe(a.socket); // keep-alive over the one TLS connection
        expect(a.protocol).toMatch(/^TLSv1\.[23]$/);
      } finally {
        agent.destroy();
      }
    });

    it('SIGTERM: a clean shutdown, exit 0 (the handshake curl refused was one connection lost, nothing more)', async () => {
      expect(server.child.exitCode).toBeNull();
      expect(await terminate(server)).toBe(0);
      expect(server.out()).toMatch(/SIGTERM: shutting down\n$/);
    });
  });

  it.skipIf(!hasTool('curl'))('http_server.mjs --tls alone makes a throwaway certificate, says where, removes it on exit', async () => {
    const [server, port] = await startServer([example('http_server.mjs'), '0', '--tls'], /listening on https:\/\/127\.0\.0\.1:(\d+)/);
    try {
      const certPath = /throwaway self-signed certificate, (\S+cert\.pem)/.exec(server.out())?.[1];
      expect(certPath, server.out()).toBeDefined();
      const r = curl(['--cacert', certPath!, `https://127.0.0.1:${port}/`]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('Hello, World!\n');
      expect(await terminate(server)).toBe(0);
      expect(existsSync(certPath!)).toBe(false);
    } finally {
      await stop(server);
    }
  });

  describe('tls_echo_client.mjs against a Node tls echo server (a child process)', () => {
    let server: Proc;
    let port: number;
    beforeAll(async () => {
      const script =
        "const fs=require('fs'),tls=require('tls');" +
        `const s=tls.createServer({key:fs.readFileSync(${JSON.stringify(certs.key)}),cert:fs.readFileSync(${JSON.stringify(certs.cert)})},` +
        "c=>{c.on('error',()=>{});c.pipe(c);});s.on('tlsClientError',()=>{});" +
        "s.listen(0,'127.0.0.1',()=>console.log('tls echo on '+s.address().port));";
      [server, port] = await startServer(['-e', script], /tls echo on (\d+)/);
      return () => stop(server);
    });

    it('verifies the server against --ca and prints the echo (by IP address, and by name with --servername)', async () => {
      const msg = 'hello over TLS';
      const byIp = await runExample([example('tls_echo_client.mjs'), '127.0.0.1', String(port), msg, '--ca', certs.ca]);
      expect(byIp.err).toBe('');
      expect(byIp.code).toBe(0);
      expect(byIp.out).toMatch(/^TLSv1\.3 TLS_\w+, certificate verified for 127\.0\.0\.1\nhello over TLS\n$/);
      const byName = await runExample([example('tls_echo_client.mjs'), '127.0.0.1', String(port), 'named', '--ca', certs.ca, '--servername', 'localhost']);
      expect(byName.err).toBe('');
      expect(byName.out).toMatch(/certificate verified for localhost\nnamed\n$/);
    });

    it("fails the handshake with the verification error's code: unknown CA, wrong host name", async () => {
      const noCa = await runExample([example('tls_echo_client.mjs'), '127.0.0.1', String(port), 'x']);
      expect(noCa.code).toBe(1);
      expect(noCa.out).toBe('');
      expect(noCa.err).toMatch(/^tls echo client: UNABLE_TO_GET_ISSUER_CERT_LOCALLY: /);
      const wrongName = await runExample([example('tls_echo_client.mjs'), '127.0.0.1', String(port), 'x', '--ca', certs.ca, '--servername', 'example.com']);
      expect(wrongName.code).toBe(1);
      expect(wrongName.err).toMatch(/^tls echo client: ERR_TLS_CERT_ALTNAME_INVALID: /);
      expect(server.child.exitCode).toBeNull(); // the server kept serving
    });
  });
});

// ---- the chat server ----------------------------------------------------------

describe('chat_server.mjs', () => {
  it('demo: three bots chat, exits 0', async () => {
    const { code, out, err } = await runExample([example('chat_server.mjs'), 'demo']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('bob: hello alice');
    expect(out).not.toContain('alice: hi all'); // alice's own lines are not sent back to her
    expect(out).toMatch(/demo done\n$/);
  });

  it('5 clients: each message reaches the 4 others, never its sender; join, nick and leave notices', async () => {
    const [server, port] = await startServer([example('chat_server.mjs'), '0'], /chat server listening on 127\.0\.0\.1:(\d+)/);
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const c = new RawClient(port);
        clients.push(c);
        await until(() => c.lines().some((l) => l.startsWith('* welcome, you are ')), `client ${i}'s welcome`);
        c.socket.write(`/nick user${i}\n`);
        await until(() => c.lines().includes(`* you are now known as user${i}`), `client ${i}'s nick`);
      }
      // Everyone saw the later ones join and rename.
      for (let i = 0; i < 5; i++) {
        for (let j = i + 1; j < 5; j++) {
          await until(() => clients[i]!.lines().includes(`* guest${j + 1} is now known as user${j}`), `client ${i} to see user${j}'s nick`);
        }
      }
      const marks = clients.map((c) => c.lines().length);
      for (let i = 0; i < 5; i++) clients[i]!.socket.write(`hello from ${i}\nsecond line from ${i}\n`);
      for (let i = 0; i < 5; i++) {
        await until(() => clients[i]!.lines().length - marks[i]! >= 8, `client ${i} to get the 4 others' 8 lines`);
      }
      await new Promise((r) => setTimeout(r, 50)); // anything extra would have arrived by now
      for (let i = 0; i < 5; i++) {
        const got = clients[i]!.lines().slice(marks[i]!);
        const expected = [0, 1, 2, 3, 4].filter((j) => j !== i).flatMap((j) => [`user${j}: hello from ${j}`, `user${j}: second line from ${j}`]);
        expect([...got].sort()).toEqual(expected.sort());
        // Per sender, lines arrive in the order sent.
        for (const j of [0, 1, 2, 3, 4].filter((j) => j !== i)) {
          const mine = clients[i]!.lines().filter((l) => l.startsWith(`user${j}: `));
          expect(mine).toEqual([`user${j}: hello from ${j}`, `user${j}: second line from ${j}`]);
        }
      }
      // /quit, and a client that just disconnects: the others hear both leave.
      clients[0]!.socket.write('/quit\n');
      await until(() => clients[0]!.ended, 'the server to close the /quit client');
      expect(clients[0]!.lines().at(-1)).toBe('* bye');
      await clients[1]!.close();
      for (let i = 2; i < 5; i++) {
        await until(() => clients[i]!.lines().includes('* user0 left') && clients[i]!.lines().includes('* user1 left'), `client ${i} to see the leaves`);
      }
      clients[2]!.socket.write('/who\n');
      await until(() => clients[2]!.lines().some((l) => l.startsWith('* here: ')), 'the /who answer');
      expect(clients[2]!.lines().find((l) => l.startsWith('* here: '))!.split(': ')[1]!.split(', ').sort()).toEqual(['user2', 'user3', 'user4']);
      // SIGTERM: everyone still there is told, then disconnected; exit 0.
      expect(await terminate(server)).toBe(0);
      for (let i = 2; i < 5; i++) {
        await until(() => clients[i]!.ended, `client ${i} to be disconnected`);
        expect(clients[i]!.lines().at(-1)).toBe('* the server is shutting down');
      }
    } finally {
      for (const c of clients) await c.close();
      await stop(server);
    }
  });

  it('a client that never reads is disconnected at the buffer bound; the others keep getting everything', async () => {
    const [server, port] = await startServer([example('chat_server.mjs'), '0', '--max-buffer', String(1 << 20)], /listening on 127\.0\.0\.1:(\d+)/);
    const slow = new RawClient(port);
    const fast = new RawClient(port);
    const watcher = new RawClient(port);
    try {
      await until(() => watcher.lines().some((l) => l.startsWith('* welcome')), 'the watcher to join');
      await until(() => /you are guest\d+/.test(slow.text()) && /you are guest\d+/.test(fast.text()), 'the welcomes');
      const slowName = /you are (guest\d+)/.exec(slow.text())![1]!;
      const fastName = /you are (guest\d+)/.exec(fast.text())![1]!;
      slow.socket.pause(); // reads nothing from now on
      // 16 MB of chat in 64 kB batches, each sent once the watcher has the
      // previous one: the watcher keeps up (a burst bigger than what the
      // kernel absorbs would get a reader cut off however fast it reads),
      // the slow client's backlog grows past the kernel buffers + 1 MiB.
      const line = 'x'.repeat(999) + '\n';
      const expected = `${fastName}: ${'x'.repeat(999)}`;
      const batch = 64;
      const total = 16_000;
      let seen = 0;
      let scanned = 0;
      const count = (): number => {
        const lines = watcher.lines();
        for (; scanned < lines.length; scanned++) if (lines[scanned] === expected) seen++;
        return seen;
      };
      for (let sent = 0; sent < total; sent += batch) {
        fast.socket.write(line.repeat(batch));
        await until(() => count() === sent + batch, `the watcher to get line ${sent + batch}`);
        if (watcher.lines().includes(`* ${slowName} left (too slow)`) && sent >= 2000) break;
      }
      expect(watcher.lines()).toContain(`* ${slowName} left (too slow)`);
      expect(watcher.lines()).not.toContain(`* ${fastName} left (too slow)`);
      expect(watcher.ended).toBe(false);
      // The server closed the slow connection: reading again, it finds the end (or a reset).
      slow.socket.resume();
      await until(() => slow.ended || slow.closed, 'the slow client to see its connection closed');
    } finally {
      for (const c of [slow, fast, watcher]) await c.close();
      await stop(server);
    }
  }, 30_000);
});

// ---- SO_REUSEPORT workers --------------------------------------------------------

describe('reuseport_workers.mjs', () => {
  function alive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  it('demo with 2 workers: 50 connections answered by worker pids; the workers are stopped', async () => {
    const { code, out, err } = await runExample([example('reuseport_workers.mjs'), 'demo', '2', '50'], 30_000);
    expect(err).toBe('');
    expect(code).toBe(0);
    const workerPids = /2 workers, pids (\d+) (\d+)/.exec(out)!.slice(1).map(Number);
    const answered = /pids answered: ([\d ]+)/.exec(out)![1]!.trim().split(' ').map(Number);
    expect(answered.length).toBeGreaterThanOrEqual(1);
    for (const pid of answered) expect(workerPids).toContain(pid);
    const counts = [...out.matchAll(/pid (\d+): (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0);
    expect(counts).toBe(50);
    if (answered.length < 2) console.log(`reuseport: all 50 connections hashed to one worker (${answered[0]}); the kernel's choice, not a failure`);
    for (const pid of workerPids) expect(alive(pid), `worker ${pid} still running`).toBe(false);
  });

  it('serve mode: prints the port and pids; the workers answer over HTTP; SIGTERM stops them all', async () => {
    const [parent, port] = await startServer([example('reuseport_workers.mjs'), '2', '0'], /port (\d+): 2 workers/);
    let workerPids: number[] = [];
    try {
      workerPids = /pids (\d+) (\d+)/.exec(parent.out())!.slice(1).map(Number);
      await waitForOutput(parent, /listening on http:\/\/127\.0\.0\.1:\d+/);
      const res = await request(port, { path: '/', agent: false });
      expect(res.status).toBe(200);
      expect(workerPids).toContain(Number(/hello from worker (\d+)/.exec(res.body.toString())![1]));
      parent.child.kill('SIGTERM');
      const { code } = await parent.closed;
      expect(code).toBe(0);
      for (const pid of workerPids) expect(alive(pid), `worker ${pid} still running`).toBe(false);
    } finally {
      await stop(parent);
      for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
