// Shared by the tests that run a server out of fds (test/faults.test.ts, the
// library's server; test/examples_net.test.ts, the examples): the child's
// RLIMIT_NOFILE is lowered with prlimit(1) while it runs, and its CPU time
// read from /proc to check it does not spin.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';

/** prlimit(1) is there (util-linux) and this is Linux (/proc). */
export const canLimitFds = process.platform === 'linux' && spawnSync('prlimit', ['--version']).status === 0;

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** user + system CPU seconds of a process, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

/** The fd numbers a process has open (from /proc/<pid>/fd). */
export function openFds(pid: number): Set<number> {
  return new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
}

/** The lowest limit under which exactly `free` fd numbers are unused, given the open ones. */
export function limitWithFree(open: Set<number>, free: number): number {
  let unused = 0;
  for (let n = 0; ; n++) {
    if (!open.has(n)) unused++;
    if (unused === free) return n + 1;
  }
}

/** Lower a running process's fd limit (soft and hard) so that `free` fds remain; returns the limit. */
export function leaveFreeFds(pid: number, open: Set<number>, free: number): number {
  const limit = limitWithFree(open, free);
  const pl = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`], { encoding: 'utf8' });
  if (pl.status !== 0) throw new Error(`prlimit failed: ${pl.stderr}`);
  return limit;
}

/**
 * Open `total` connections to an echo server on 127.0.0.1:port, each sending
 * "hello <i>\n" once connected; `answered` gets i when that line comes back
 * whole. Resolves when every connection is established (the kernel completes
 * handshakes into the listen backlog even while the server is out of fds).
 */
export async function connectHelloClients(port: number, total: number, clients: net.Socket[], answered: Set<number>): Promise<void> {
  await Promise.all(
    Array.from(
      { length: total },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.write(`hello ${i}\n`);
            resolve();
          });
          let got = '';
          s.setEncoding('utf8');
          s.on('data', (d: string) => {
            got += d;
            if (got === `hello ${i}\n`) answered.add(i);
          });
          s.on('error', reject);
          clients[i] = s;
        }),
    ),
  );
}

/**
 * The value of `count` once it has not changed for `quietMs` (at most
 * `maxMs`): a connection accepted just before the server ran out of fds may
 * still have its echo on the way, and a loaded machine delays it.
 */
export async function settledCount(count: () => number, quietMs = 500, maxMs = 10_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let value = count();
  let since = Date.now();
  while (Date.now() - since < quietMs && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    if (count() !== value) {
      value = count();
      since = Date.now();
    }
  }
  return value;
}
