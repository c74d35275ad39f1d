// Child processes of the harness: spawning, the startup handshake of the
// servers, /proc readings, and the guarantee that nothing is left running.
//
// Every child is spawned detached (its own process group), so killing the
// group (-pid) also reaches whatever a wrapper (taskset, timeout) started.
// The groups are killed in finally blocks, and once more, synchronously,
// from the process 'exit' hook and the signal handlers: a crash or a ^C of
// the harness leaves no server behind. Servers are also started under
// `timeout` (a lifetime cap for the case the harness is SIGKILLed) and our
// own servers exit when their stdin (a pipe from the harness) closes.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';

/** @type {Set<import('node:child_process').ChildProcess>} */
const live = new Set();

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {}
  }
}

/** Synchronous last resort: SIGKILL every live group. */
export function killAllNow() {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}

let hooked = false;
function installExitHooks() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping servers\n`);
      killAllNow();
      process.exit(130);
    });
  }
}

/**
 * Spawn a tracked child in its own process group, stdin/stdout/stderr piped.
 * @param {string[]} argv
 * @param {{env?: NodeJS.ProcessEnv, cwd?: string}} [opts]
 */
export function spawnTracked(argv, opts = {}) {
  installExitHooks();
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  live.add(child);
  child.on('exit', () => live.delete(child));
  child.on('error', () => live.delete(child));
  child.stdin.on('error', () => {}); // EPIPE when the child is gone
  return child;
}

/** SIGTERM the group, wait up to `graceMs`, then SIGKILL. Resolves with the exit code/signal. */
export async function stopChild(child, graceMs = 2000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Lines of a readable stream, as an async queue with a per-call timeout. */
export function lineReader(stream) {
  const rl = createInterface({ input: stream });
  const queue = [];
  const waiters = [];
  let closed = false;
  rl.on('line', (line) => {
    const w = waiters.shift();
    if (w) w.resolve(line);
    else queue.push(line);
  });
  rl.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w.resolve(null);
  });
  return {
    /** Next line, or null at EOF; rejects after timeoutMs. */
    next(timeoutMs) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        const w = {
          resolve: (v) => {
            clearTimeout(t);
            resolve(v);
          },
        };
        const t = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`no output within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    rest: () => queue.splice(0),
  };
}

/** Collect a stream's text (bounded) for error messages. */
export function collect(stream, limit = 64 * 1024) {
  const out = { text: '' };
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    if (out.text.length < limit) out.text += d;
  });
  return out;
}

// ---- /proc --------------------------------------------------------------

let clkTck = 0;
/** Clock ticks per second, as `getconf CLK_TCK` says (USER_HZ; 100 on Linux). */
export function clockTicks() {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime+stime of a process in seconds (all its threads), or null. */
export function processCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return null;
  }
}

/** Resident set size in bytes (VmRSS), or null. */
export function rssBytes(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Number of open fds of a process, or -1. */
export function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** Poll fdCount(pid) until pred(count) holds; resolves {ok, count, ms}. */
export async function waitFds(pid, pred, timeoutMs) {
  const t0 = Date.now();
  for (;;) {
    const n = fdCount(pid);
    if (n >= 0 && pred(n)) return { ok: true, count: n, ms: Date.now() - t0 };
    if (n < 0 || Date.now() - t0 > timeoutMs) return { ok: false, count: n, ms: Date.now() - t0 };
    await sleep(n > 2000 ? 50 : 10);
  }
}

export const hasProc = () => existsSync('/proc/self/stat');

function cpuTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - v[4], total };
}

/** Cores busy machine-wide over the next `ms` milliseconds. */
export async function machineBusyCores(ms = 100) {
  const a = cpuTicks();
  await sleep(ms);
  const b = cpuTicks();
  const dt = b.total - a.total;
  return dt > 0 ? ((b.busy - a.busy) / dt) * (os.availableParallelism?.() ?? os.cpus().length) : 0;
}
