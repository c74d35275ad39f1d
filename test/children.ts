// Child `node` processes for the documentation tests (examples, README
// snippets): started from the repository root, so 'coio' resolves to the
// package itself (dist/). Every child is killed when its test is done.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { root } from './dist.js';

export interface Child {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process has exited and its pipes are closed. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `node ...args` in the repository root. */
export function startNode(args: string[]): Child {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, closed };
}

/** Kill the child if it still runs, and wait until it and its pipes are gone. */
export async function stopNode(c: Child): Promise<void> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await c.closed;
}

export interface NodeResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout split into lines, the last (empty) one dropped. */
  lines: string[];
}

/** Run `node ...args` to completion; killed after timeoutMs (then code is null). */
export async function runNode(args: string[], timeoutMs = 30_000): Promise<NodeResult> {
  const c = startNode(args);
  const timer = setTimeout(() => c.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code, signal } = await c.closed;
    const stdout = c.stdout();
    return { code, signal, stdout, stderr: c.stderr(), lines: stdout === '' ? [] : stdout.replace(/\n$/, '').split('\n') };
  } finally {
    clearTimeout(timer);
    await stopNode(c);
  }
}

/** Wait until stdout matches re (failing if the child exits first or timeoutMs passes). */
export async function waitForStdout(c: Child, re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(c.stdout());
    if (m !== null) return m;
    if (c.child.exitCode !== null || c.child.signalCode !== null) {
      throw new Error(`the process exited (${c.child.exitCode ?? c.child.signalCode}) before printing ${re}\nstdout: ${c.stdout()}\nstderr: ${c.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}\nstdout: ${c.stdout()}\nstderr: ${c.stderr()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
