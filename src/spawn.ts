// Starting a child (the part of asyncio's unix_events.py that calls
// subprocess.Popen): the stdio vocabulary (PIPE, STDOUT, DEVNULL), PATH
// search as Python's os.get_exec_path, the environment as strings, and the
// addon's posix_spawn (native/spawn.cc) with the pipes it makes.

import { accessSync, constants as fsConstants, closeSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { StdioOption, SubprocessOptions } from './events.js';
import { native } from './native.js';

/** Make a pipe to the child (Python's subprocess.PIPE). */
export const PIPE = -1;
/** stderr only: send it where stdout goes (subprocess.STDOUT). */
export const STDOUT = -2;
/** Connect to /dev/null (subprocess.DEVNULL). */
export const DEVNULL = -3;

/** The directories of PATH, as Python's os.get_exec_path (default /bin:/usr/bin). */
function execPath(env: Record<string, string | undefined>): string[] {
  return (env.PATH ?? '/bin:/usr/bin').split(':');
}

/** program itself if it contains a slash, else the first executable file named program on PATH. */
function findProgram(program: string, env: Record<string, string | undefined>): string {
  if (program.includes('/')) return program;
  for (const dir of execPath(env)) {
    const candidate = join(dir === '' ? '.' : dir, program);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  throw native.errorFromErrno(native.errno.ENOENT!, 'spawn', program);
}

function envStrings(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key.includes('=')) throw new TypeError(`env: a variable name cannot contain '=': ${JSON.stringify(key)}`);
    out.push(`${key}=${String(value)}`);
  }
  return out;
}

export function checkStdio(value: StdioOption, name: 'stdin' | 'stdout' | 'stderr'): void {
  if (value === null || value === undefined || value === 'inherit' || value === PIPE || value === DEVNULL) return;
  if (value === STDOUT) {
    if (name === 'stderr') return;
    throw new RangeError(`STDOUT can only be used for stderr, not ${name}`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`${name} must be PIPE, DEVNULL, ${name === 'stderr' ? 'STDOUT, ' : ''}'inherit', null or an fd, got ${String(value)}`);
  }
}

export interface Spawned {
  pid: number;
  /** Our ends of the pipes: [stdin's write end, stdout's read end, stderr's read end]. */
  pipes: [number | null, number | null, number | null];
}

/** Spawn argv[0] with the stdio plumbing; the child's ends of the pipes are closed here. */
export function spawnChild(argv: string[], options: SubprocessOptions): Spawned {
  const env = options.env ?? process.env;
  if (typeof env !== 'object' || env === null) throw new TypeError('env must be an object');
  if (options.cwd !== undefined && typeof options.cwd !== 'string') throw new TypeError('cwd must be a string');
  const path = findProgram(argv[0]!, env);
  const envp = envStrings(env);

  const childSide: number[] = []; // closed after the spawn, whatever happens
  const ours: Spawned['pipes'] = [null, null, null];
  let devnull = -1;
  const target = (value: StdioOption, fd: 0 | 1 | 2): number => {
    if (value === null || value === undefined || value === 'inherit') return fd;
    if (value === DEVNULL) {
      if (devnull < 0) devnull = openSync('/dev/null', 'r+'); // close-on-exec, like every fd Node opens
      return devnull;
    }
    if (value === PIPE) {
      const [r, w] = native.pipe();
      // The child's end blocks, as programs expect; ours stays non-blocking.
      const [mine, theirs] = fd === 0 ? [w, r] : [r, w];
      childSide.push(theirs);
      ours[fd] = mine;
      native.setBlocking(theirs, true);
      return theirs;
    }
    return value;
  };
  try {
    const stdin = target(options.stdin, 0);
    const stdout = target(options.stdout, 1);
    const stderr = options.stderr === STDOUT ? stdout : target(options.stderr, 2);
    const pid = native.spawn(path, argv, envp, options.cwd ?? null, stdin, stdout, stderr);
    return { pid, pipes: ours };
  } catch (err) {
    for (const fd of ours) if (fd !== null) native.close(fd);
    throw err;
  } finally {
    for (const fd of childSide) native.close(fd);
    if (devnull >= 0) closeSync(devnull);
  }
}
