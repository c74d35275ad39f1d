// Subprocesses (asyncio's base_subprocess.py, unix_events.py's
// _UnixSubprocessTransport and subprocess.py).
//
// Two levels, as in asyncio:
// - loop.subprocessExec / subprocessShell(protocolFactory, ...): a
//   SubprocessTransport (pid, returncode, signals, one pipe transport per
//   piped fd) and a SubprocessProtocol (pipeDataReceived, processExited, ...).
// - createSubprocessExec / createSubprocessShell: a Process with stdin as a
//   StreamWriter and stdout / stderr as StreamReaders, wait(), communicate().
//
// The child is spawned by the addon (posix_spawn), its pipes are pipe
// transports (pipe_transport.ts), and its exit is seen by the loop's child
// watcher (child_watcher.ts: a pidfd, or SIGCHLD): nothing blocks the loop,
// and nothing depends on Node's own event loop.

import { accessSync, constants as fsConstants, closeSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { childWatcher } from './child_watcher.js';
import { gather } from './combinators.js';
import { _getRunningLoopOrThrow } from './events.js';
import type { Signal, StdioOption, SubprocessOptions } from './events.js';
import type { BaseEventLoop } from './base_events.js';
import type { Future } from './futures.js';
import { native } from './native.js';
import { connectReadPipe, connectWritePipe } from './pipe_transport.js';
import type { ReadPipeTransport, WritePipeTransport } from './pipe_transport.js';
import type { SubprocessProtocol } from './protocols.js';
import { signalNumber } from './signals.js';
import { DEFAULT_LIMIT, StreamReader, StreamReaderProtocol, StreamWriter } from './streams.js';
import type { Coroutine } from './coroutines.js';
import type { SubprocessTransport as SubprocessTransportContract } from './transports.js';

export type { StdioOption, SubprocessOptions, SubprocessProtocol };

/** Make a pipe to the child (Python's subprocess.PIPE). */
export const PIPE = -1;
/** stderr only: send it where stdout goes (subprocess.STDOUT). */
export const STDOUT = -2;
/** Connect to /dev/null (subprocess.DEVNULL). */
export const DEVNULL = -3;

/** Options of createSubprocessExec / createSubprocessShell (stdio defaults to 'inherit' there; PIPE makes a stream). */
export interface ProcessOptions extends SubprocessOptions {
  /** The StreamReader buffer limit for stdout and stderr (default 64 KiB). */
  limit?: number;
}

// ---- spawning -------------------------------------------------------------------

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

function checkStdio(value: StdioOption, name: 'stdin' | 'stdout' | 'stderr'): void {
  if (value === null || value === undefined || value === 'inherit' || value === PIPE || value === DEVNULL) return;
  if (value === STDOUT) {
    if (name === 'stderr') return;
    throw new RangeError(`STDOUT can only be used for stderr, not ${name}`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`${name} must be PIPE, DEVNULL, ${name === 'stderr' ? 'STDOUT, ' : ''}'inherit', null or an fd, got ${String(value)}`);
  }
}

interface Spawned {
  pid: number;
  /** Our ends of the pipes: [stdin's write end, stdout's read end, stderr's read end]. */
  pipes: [number | null, number | null, number | null];
}

/** Spawn argv[0] with the stdio plumbing; the child's ends of the pipes are closed here. */
function spawnChild(argv: string[], options: SubprocessOptions): Spawned {
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

// ---- the transport ------------------------------------------------------------------

type PipeTransport = ReadPipeTransport | WritePipeTransport;

/** Forwards a pipe transport's events to the subprocess transport (asyncio's *SubprocessPipeProto). */
class PipeProto {
  /** Set once connected. */
  pipe: PipeTransport | null = null;
  disconnected = false;

  constructor(
    private readonly proc: SubprocessTransport,
    readonly fd: number,
  ) {}

  dataReceived(data: Buffer): void {
    this.proc._pipeDataReceived(this.fd, data);
  }

  connectionLost(exc: Error | null): void {
    this.disconnected = true;
    this.proc._pipeConnectionLost(this.fd, exc);
  }

  pauseWriting(): void {
    this.proc._protocolCall('pauseWriting');
  }

  resumeWriting(): void {
    this.proc._protocolCall('resumeWriting');
  }
}

/** A running child and its pipes (asyncio's SubprocessTransport). */
export class SubprocessTransport implements SubprocessTransportContract {
  private returncode: number | null = null;
  private readonly pipes = new Map<number, PipeProto>();
  private exitWaiters: Array<Future<number>> = [];
  /** Protocol calls made before connectionMade, replayed after it (asyncio's _pending_calls). */
  private pendingCalls: Array<() => void> | null = [];
  private closed = false;
  private finished = false;

  /** @internal Use loop.subprocessExec / subprocessShell. */
  constructor(
    private readonly loop: BaseEventLoop,
    private protocol: SubprocessProtocol,
    private readonly pid: number,
  ) {}

  /** The child's process id. */
  getPid(): number {
    return this.pid;
  }

  /** The exit status, -N if signal N killed it, null while it runs. */
  getReturncode(): number | null {
    return this.returncode;
  }

  /** The transport of pipe fd (0, 1 or 2), or null if that fd is not piped. */
  getPipeTransport(fd: number): PipeTransport | null {
    return this.pipes.get(fd)?.pipe ?? null;
  }

  /** The protocol the callbacks go to. */
  getProtocol(): SubprocessProtocol {
    return this.protocol;
  }

  /** Send the callbacks to another protocol from now on. */
  setProtocol(protocol: SubprocessProtocol): void {
    this.protocol = protocol;
  }

  /** True once close() was called. */
  isClosing(): boolean {
    return this.closed;
  }

  /**
   * Send a signal (a name or number). Throws an ESRCH error (asyncio's
   * ProcessLookupError) once the child has exited: its pid may be reused.
   */
  sendSignal(sig: Signal): void {
    const signum = signalNumber(sig);
    if (this.returncode !== null) throw native.errorFromErrno(native.errno.ESRCH!, 'kill');
    native.kill(this.pid, signum);
  }

  /** sendSignal('SIGTERM'); throws as sendSignal. */
  terminate(): void {
    this.sendSignal('SIGTERM');
  }

  /** sendSignal('SIGKILL'); throws as sendSignal. */
  kill(): void {
    this.sendSignal('SIGKILL');
  }

  /** Close the pipes, and kill the child if it still runs (it is reaped when it exits). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const proto of this.pipes.values()) proto.pipe?.close();
    if (this.returncode === null) {
      try {
        native.kill(this.pid, signalNumber('SIGKILL'));
      } catch {
        // Exited already (ESRCH), not reaped yet: the watcher will.
      }
    }
  }

  /** @internal The returncode, once the child has exited. */
  *_wait(): Coroutine<number> {
    if (this.returncode !== null) return this.returncode;
    const waiter = this.loop.createFuture<number>();
    this.exitWaiters.push(waiter);
    return yield* waiter;
  }

  /** @internal Connect the pipes, then connectionMade (asyncio's _connect_pipes). */
  *_connectPipes(fds: Spawned['pipes']): Coroutine<void> {
    const [stdin, stdout, stderr] = fds;
    // Until each pipe is connected, it owns nothing: close the rest on failure.
    const left = new Set(fds.filter((fd): fd is number => fd !== null));
    try {
      if (stdin !== null) {
        const proto = new PipeProto(this, 0);
        this.pipes.set(0, proto);
        left.delete(stdin);
        [proto.pipe] = yield* connectWritePipe(this.loop, () => proto, stdin);
      }
      for (const [fd, pipeFd] of [[1, stdout], [2, stderr]] as const) {
        if (pipeFd === null) continue;
        const proto = new PipeProto(this, fd);
        this.pipes.set(fd, proto);
        left.delete(pipeFd);
        [proto.pipe] = yield* connectReadPipe(this.loop, () => proto, pipeFd);
      }
    } finally {
      for (const fd of left) native.close(fd);
    }
    this.loop.callSoon(() => this.protocol.connectionMade?.(this));
    const pending = this.pendingCalls!;
    this.pendingCalls = null;
    for (const call of pending) this.loop.callSoon(call);
  }

  /** @internal */
  _protocolCall(method: 'pauseWriting' | 'resumeWriting' | 'processExited'): void {
    this.call(() => this.protocol[method]?.());
  }

  /** @internal */
  _pipeDataReceived(fd: number, data: Buffer): void {
    this.call(() => this.protocol.pipeDataReceived?.(fd, data));
  }

  /** @internal */
  _pipeConnectionLost(fd: number, exc: Error | null): void {
    this.call(() => this.protocol.pipeConnectionLost?.(fd, exc));
    this.tryFinish();
  }

  /** @internal The child watcher saw the child exit. */
  _processExited(returncode: number): void {
    this.returncode = returncode;
    this._protocolCall('processExited');
    this.tryFinish();
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    for (const w of waiters) if (!w.done()) w.setResult(returncode);
  }

  private call(fn: () => void): void {
    if (this.pendingCalls !== null) this.pendingCalls.push(fn);
    else this.loop.callSoon(fn);
  }

  private tryFinish(): void {
    if (this.finished || this.returncode === null) return;
    for (const proto of this.pipes.values()) if (!proto.disconnected) return;
    this.finished = true;
    this.call(() => this.protocol.connectionLost?.(null));
  }

  /** `<SubprocessTransport pid=N running>` or `... returncode=N>`. */
  toString(): string {
    return `<SubprocessTransport pid=${this.pid} ${this.returncode === null ? 'running' : `returncode=${this.returncode}`}>`;
  }
}

/**
 * Spawn argv with protocolFactory() as its protocol (asyncio's
 * loop.subprocess_exec); stdio defaults to PIPE here. Resolves once the
 * pipes are connected and connectionMade has been scheduled.
 */
export function* subprocessExec<P extends SubprocessProtocol>(
  loop: BaseEventLoop,
  protocolFactory: () => P,
  program: string,
  args: readonly string[],
  options: SubprocessOptions = {},
): Coroutine<[SubprocessTransport, P]> {
  if (typeof program !== 'string') throw new TypeError(`program must be a string, got ${typeof program}`);
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new TypeError('args must be an array of strings');
  const opts: SubprocessOptions = { stdin: PIPE, stdout: PIPE, stderr: PIPE, ...options };
  checkStdio(opts.stdin, 'stdin');
  checkStdio(opts.stdout, 'stdout');
  checkStdio(opts.stderr, 'stderr');
  loop._checkClosed();
  const protocol = protocolFactory();
  const spawned = spawnChild([program, ...args], opts);
  const transport = new SubprocessTransport(loop, protocol, spawned.pid);
  childWatcher(loop).add(spawned.pid, (returncode) => transport._processExited(returncode));
  try {
    yield* transport._connectPipes(spawned.pipes);
  } catch (err) {
    transport.close();
    yield* transport._wait();
    throw err;
  }
  // Let the connectionMade just scheduled run before the caller goes on.
  yield;
  return [transport, protocol];
}

/** subprocessExec of `/bin/sh -c cmd` (asyncio's loop.subprocess_shell). */
export function subprocessShell<P extends SubprocessProtocol>(loop: BaseEventLoop, protocolFactory: () => P, cmd: string, options: SubprocessOptions = {}): Coroutine<[SubprocessTransport, P]> {
  if (typeof cmd !== 'string') throw new TypeError(`cmd must be a string, got ${typeof cmd}`);
  return subprocessExec(loop, protocolFactory, '/bin/sh', ['-c', cmd], options);
}

// ---- Process: the streams level --------------------------------------------------

/**
 * The most a pipe can hold unless root raised the limit (Linux's default
 * /proc/sys/fs/pipe-max-size): what an exited child's pipe is drained of at
 * most, however fast a grandchild still writes into it.
 */
const PIPE_DRAIN_MAX = 1024 * 1024;

/** Feeds a Process's streams (asyncio's SubprocessStreamProtocol). */
class SubprocessStreamProtocol implements SubprocessProtocol {
  stdin: StreamWriter<WritePipeTransport> | null = null;
  stdout: StreamReader | null = null;
  stderr: StreamReader | null = null;
  private transport: SubprocessTransport | null = null;
  private exited = false;
  private readonly openPipes = new Set<number>();
  /** A communicate() was cancelled and none was called since: see abandonPipes(). */
  private abandoned = false;
  /** stdin's flow control and close waiting: the stream protocol's, with no reader. */
  private readonly stdinFlow: StreamReaderProtocol;

  constructor(
    private readonly loop: BaseEventLoop,
    private readonly limit: number,
  ) {
    this.stdinFlow = new StreamReaderProtocol(loop, null);
  }

  connectionMade(transport: SubprocessTransport): void {
    this.transport = transport;
    for (const fd of [1, 2] as const) {
      const pipe = transport.getPipeTransport(fd) as ReadPipeTransport | null;
      if (pipe === null) continue;
      const reader = new StreamReader(this.loop, this.limit);
      reader.setTransport(pipe);
      if (fd === 1) this.stdout = reader;
      else this.stderr = reader;
      this.openPipes.add(fd);
    }
    const stdin = transport.getPipeTransport(0) as WritePipeTransport | null;
    if (stdin !== null) this.stdin = new StreamWriter(stdin, this.stdinFlow, null, this.loop);
  }

  pipeDataReceived(fd: number, data: Buffer): void {
    (fd === 1 ? this.stdout : fd === 2 ? this.stderr : null)?.feedData(data);
  }

  pipeConnectionLost(fd: number, exc: Error | null): void {
    if (fd === 0) {
      this.stdin?.close();
      this.stdinFlow.connectionLost(exc);
      return;
    }
    const reader = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
    if (reader !== null) {
      if (exc === null) reader.feedEof();
      else reader.setException(exc);
    }
    this.openPipes.delete(fd);
    this.maybeCloseTransport();
  }

  processExited(): void {
    this.exited = true;
    if (this.abandoned) this.releasePipes();
    this.maybeCloseTransport();
  }

  /**
   * A communicate() ended without finishing (cancelled by a timeout, or failed). Nobody
   * collects the output any more, so once the child has exited (now, or when
   * it does), its pipes are drained into their streams and closed. Else they
   * stay open as long as anyone holds their write ends: a grandchild
   * (`sh -c 'cmd &'`, or the command of a shell that was killed) keeps our
   * fds for as long as it lives, and a pipe paused behind a full stream
   * nobody reads never sees its EOF. A child's pipes are otherwise read to
   * their EOF, as asyncio's are: communicate() collects what grandchildren
   * write, and wait() then stdout.read() gets everything.
   */
  abandonPipes(): void {
    this.abandoned = true;
    if (this.exited) this.releasePipes();
  }

  /** @internal communicate() was called (again): it reads the pipes to their EOF. */
  collect(): void {
    this.abandoned = false;
  }

  private releasePipes(): void {
    // Everything the child wrote is in its pipes by now: reading what they
    // hold loses none of it. A pipe a read is in progress on keeps going.
    for (const fd of this.openPipes) {
      const reader = fd === 1 ? this.stdout : this.stderr;
      if (reader === null || reader._readPending()) continue;
      (this.transport?.getPipeTransport(fd) as ReadPipeTransport | null)?._drainAndClose(PIPE_DRAIN_MAX);
    }
  }

  pauseWriting(): void {
    this.stdinFlow.pauseWriting();
  }

  resumeWriting(): void {
    this.stdinFlow.resumeWriting();
  }

  private maybeCloseTransport(): void {
    if (this.openPipes.size > 0 || !this.exited || this.transport === null) return;
    this.transport.close();
    this.transport = null;
  }
}

/** A child process with streams (asyncio.subprocess.Process). */
export class Process {
  /** The child's stdin, when it is PIPE. */
  readonly stdin: StreamWriter<WritePipeTransport> | null;
  /** The child's stdout, when it is PIPE. */
  readonly stdout: StreamReader | null;
  /** The child's stderr, when it is PIPE. */
  readonly stderr: StreamReader | null;
  /** The child's process id. */
  readonly pid: number;

  /** @internal Use createSubprocessExec / createSubprocessShell. */
  constructor(
    private readonly transport: SubprocessTransport,
    private readonly protocol: SubprocessStreamProtocol,
  ) {
    this.stdin = protocol.stdin;
    this.stdout = protocol.stdout;
    this.stderr = protocol.stderr;
    this.pid = transport.getPid();
  }

  /** The exit status, -N if signal N killed it, null while it runs. */
  get returncode(): number | null {
    return this.transport.getReturncode();
  }

  /** Wait until the child exits; its returncode. Throws only CancelledError (the child keeps running). */
  *wait(): Coroutine<number> {
    return yield* this.transport._wait();
  }

  /** Send a signal (name or number); an ESRCH error (ProcessLookupError) once it has exited. */
  sendSignal(sig: Signal): void {
    this.transport.sendSignal(sig);
  }

  /** SIGTERM; an ESRCH error once the child has exited (as sendSignal). */
  terminate(): void {
    this.transport.terminate();
  }

  /** SIGKILL; an ESRCH error once the child has exited (as sendSignal). */
  kill(): void {
    this.transport.kill();
  }

  /**
   * Write input (if any) to stdin and close it, read stdout and stderr to
   * EOF, wait for the child to exit: [stdout, stderr] (null for those not
   * piped). A child that stops reading its stdin early is not an error.
   * @throws TypeError if input is given but stdin is not a pipe; CancelledError
   *   (the child keeps running: kill it if it must stop; once it has exited,
   *   its pipes are closed, even if a grandchild still holds them, and what
   *   they held stays readable from stdout / stderr).
   */
  *communicate(input?: Uint8Array | string | null): Coroutine<[Buffer | null, Buffer | null]> {
    if (input !== undefined && input !== null && this.stdin === null) throw new TypeError('communicate(input): stdin is not a pipe (use stdin: PIPE)');
    this.protocol.collect();
    let output: [unknown, Buffer | null, Buffer | null] | null = null;
    try {
      output = yield* gather(this.feedStdin(input), this.readStream(1), this.readStream(2));
    } finally {
      if (output === null) this.protocol.abandonPipes();
    }
    yield* this.wait();
    return [output[1], output[2]];
  }

  private *feedStdin(input: Uint8Array | string | null | undefined): Coroutine<void> {
    const stdin = this.stdin;
    if (stdin === null) return;
    try {
      if (input !== undefined && input !== null) stdin.write(input);
      yield* stdin.drain();
    } catch (err) {
      // The child closed its stdin (or exited): what it did not read is dropped, as asyncio does.
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if (code !== 'EPIPE' && code !== 'ECONNRESET') throw err;
    }
    stdin.close();
  }

  private *readStream(fd: 1 | 2): Coroutine<Buffer | null> {
    const stream = fd === 1 ? this.stdout : this.stderr;
    if (stream === null) return null;
    const output = yield* stream.read();
    this.transport.getPipeTransport(fd)?.close();
    return output;
  }

  /** `<Process pid>`. */
  toString(): string {
    return `<Process ${this.pid}>`;
  }
}

function* createProcess(argv0: string, args: readonly string[], shell: boolean, options: ProcessOptions): Coroutine<Process> {
  const loop = _getRunningLoopOrThrow();
  const { limit = DEFAULT_LIMIT, ...rest } = options;
  const opts: SubprocessOptions = { stdin: null, stdout: null, stderr: null, ...rest };
  const factory = () => new SubprocessStreamProtocol(loop, limit);
  const [transport, protocol] = shell ? yield* subprocessShell(loop, factory, argv0, opts) : yield* subprocessExec(loop, factory, argv0, args, opts);
  return new Process(transport, protocol);
}

/**
 * Start `program` with `args` on the running loop (asyncio's
 * create_subprocess_exec). stdio defaults to 'inherit'; PATH is searched
 * when program has no slash (an error with code 'ENOENT' if not found).
 *
 *     const proc = yield* createSubprocessExec('cat', [], { stdin: PIPE, stdout: PIPE });
 *     const [out] = yield* proc.communicate('hello');
 *
 * @throws an Error with code (ENOENT, EACCES, ...) if the program cannot be
 *   started; TypeError for bad options; RuntimeError if no loop is running.
 */
export function createSubprocessExec(program: string, args: readonly string[] = [], options: ProcessOptions = {}): Coroutine<Process> {
  return createProcess(program, args, false, options);
}

/**
 * Run `cmd` with /bin/sh -c on the running loop (asyncio's create_subprocess_shell).
 * @throws as createSubprocessExec.
 */
export function createSubprocessShell(cmd: string, options: ProcessOptions = {}): Coroutine<Process> {
  return createProcess(cmd, [], true, options);
}
