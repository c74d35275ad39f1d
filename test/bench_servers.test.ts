// The bench's coio echo servers, checked for what the bench cannot see:
// that each connection gets its own bytes back, in order. The ping-pong
// client (bench/client/pingpong.c) counts bytes, not content (comparing
// every 100 KiB message would load the client, which must not saturate
// before the server does), so a server that echoed another connection's
// bytes measured as well as a correct one. It happened: the BufferedProtocol
// echo, whose one getBuffer() buffer serves every connection, sent later
// reads' bytes on the io_uring proactor transports until writes of views of
// that buffer were copied.
//
// Each server runs as the bench runs it (a child process on the built
// package, dist/), on every backend available here, served by Node's own
// `net` clients: several connections at once, a large message each (many
// reads, sends that wait) and then small ones.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist, root } from './dist.js';
import { backends } from './helpers.js';

beforeAll(ensureDist, 240_000);

/** name -> [file, flags]: the coio rows of bench/run.mjs's main section. */
const SERVERS: Array<[string, string, string[]]> = [
  ['protocol (borrowed view)', 'coio_protocol.mjs', []],
  ['protocol (copy)', 'coio_protocol.mjs', ['--copy']],
  ['BufferedProtocol (one buffer for all connections)', 'coio_protocol.mjs', ['--buffered']],
  ['streams', 'coio_streams.mjs', []],
  ['streams (readInto)', 'coio_streams.mjs', ['--into']],
  ['sock* coroutines', 'coio_sock.mjs', []],
];

interface Server {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
}

function startServer(file: string, flags: string[], backend: string): Promise<Server> {
  const child = spawn(process.execPath, [join(root, 'bench', 'servers', file), '--backend', backend, '--port', '0', ...flags], {
    cwd: root,
    // stdin stays open: the servers end when it reaches EOF (the harness gone).
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no PORT line in 15 s\nstdout: ${out}\nstderr: ${err}`));
    }, 15_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^PORT (\d+)$/m.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

/** Send each message in turn on one connection, waiting for its echo; resolves with what came back. */
function echoes(port: number, messages: Buffer[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const back: Buffer[] = [];
    let chunks: Buffer[] = [];
    let have = 0;
    let i = 0;
    const next = (): void => {
      if (i === messages.length) {
        sock.end();
        return;
      }
      sock.write(messages[i]!);
    };
    sock.setNoDelay(true);
    sock.on('connect', next);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      while (i < messages.length && have >= messages[i]!.length) {
        const all = Buffer.concat(chunks);
        const n = messages[i]!.length;
        back.push(all.subarray(0, n));
        chunks = [all.subarray(n)];
        have -= n;
        i++;
        next();
      }
    });
    sock.on('error', reject);
    sock.on('close', () => (i === messages.length ? resolve(back) : reject(new Error(`closed after ${i} of ${messages.length} echoes`))));
  });
}

describe.each(backends)('the bench echo servers on %s', (backend) => {
  it.each(SERVERS)('%s: each of 4 connections gets its own bytes back, large and small messages', async (_name, file, flags) => {
    const server = await startServer(file, flags, backend);
    try {
      // Distinct per connection: one connection's bytes in another's echo show.
      const plans = [0, 1, 2, 3].map(() => [randomBytes(300 * 1024), randomBytes(100 * 1024), ...[0, 1, 2, 3, 4].map(() => randomBytes(1024))]);
      const results = await Promise.all(plans.map((messages) => echoes(server.port, messages)));
      results.forEach((back, c) => back.forEach((b, k) => expect(b.equals(plans[c]![k]!), `connection ${c}, message ${k}`).toBe(true)));
    } finally {
      server.child.stdin!.end();
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
      await server.exited;
      clearTimeout(timer);
    }
  }, 30_000);
});
