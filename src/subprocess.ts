// Subprocesses at the streams level (asyncio's subprocess.py):
// createSubprocessExec / createSubprocessShell give a Process with stdin as
// a StreamWriter and stdout / stderr as StreamReaders, wait() and
// communicate(). Built on the transport level (base_subprocess.ts), which
// is built on the spawning (spawn.ts); the child is started by the addon
// (posix_spawn) and nothing depends on Node's own event loop.

import { gather } from './combinators.js';
import type { Coroutine, Co } from './coroutines.js';
import { _getRunningLoopOrThrow } from './events.js';
import type { Signal, StdioOption, SubprocessOptions } from './events.js';
import type { LoopCore } from './events.js';
import type { ReadPipeTransport, WritePipeTransport } from './pipe_transport.js';
import type { SubprocessProtocol } from './protocols.js';
import { DEFAULT_LIMIT, StreamReader, StreamReaderProtocol, StreamWriter } from './streams.js';
import { SubprocessTransport, subprocessExec, subprocessShell } from './base_subprocess.js';
import { DEVNULL, PIPE, STDOUT } from './spawn.js';

export { DEVNULL, PIPE, STDOUT, SubprocessTransport };
export type { StdioOption, SubprocessOptions, SubprocessProtocol };

/** Options of createSubprocessExec / createSubprocessShell (stdio defaults to 'inherit' there; PIPE makes a stream). */
export interface ProcessOptions extends SubprocessOptions {
  /** The StreamReader buffer limit for stdout and stderr (default 64 KiB). */
  limit?: number;
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
    private readonly loop: LoopCore,
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

/**
 * What a Process's stream is, given the option it was started with: the
 * stream for PIPE, null for anything else, either when the type does not say.
 */
export type PipedStream<Option, S> = [Option] extends [typeof PIPE] ? S : -1 extends Option ? S | null : null;

/** The Process that options O start: `{ stdout: PIPE }` makes `proc.stdout` a StreamReader, never null. */
export type ProcessFor<O extends ProcessOptions> = Process<
  PipedStream<OptionOf<O, 'stdin'>, StreamWriter<WritePipeTransport>>,
  PipedStream<OptionOf<O, 'stdout'>, StreamReader>,
  PipedStream<OptionOf<O, 'stderr'>, StreamReader>
>;

/** An option's type in O: undefined when O does not have it. */
type OptionOf<O, K extends string> = K extends keyof O ? O[K] : undefined;

/**
 * A child process with streams (asyncio.subprocess.Process). The type
 * parameters are its streams' types, narrowed by createSubprocessExec /
 * Shell from the options given (ProcessFor).
 */
export class Process<
  In extends StreamWriter<WritePipeTransport> | null = StreamWriter<WritePipeTransport> | null,
  Out extends StreamReader | null = StreamReader | null,
  Err extends StreamReader | null = StreamReader | null,
> {
  /** The child's stdin, when it is PIPE. */
  readonly stdin: In;
  /** The child's stdout, when it is PIPE. */
  readonly stdout: Out;
  /** The child's stderr, when it is PIPE. */
  readonly stderr: Err;
  /** The child's process id. */
  readonly pid: number;

  /** @internal Use createSubprocessExec / createSubprocessShell. */
  constructor(
    private readonly transport: SubprocessTransport,
    private readonly protocol: SubprocessStreamProtocol,
  ) {
    // null exactly when the option was not PIPE (createProcess), as the types say.
    this.stdin = protocol.stdin as In;
    this.stdout = protocol.stdout as Out;
    this.stderr = protocol.stderr as Err;
    this.pid = transport.getPid();
  }

  /** The exit status, -N if signal N killed it, null while it runs. */
  get returncode(): number | null {
    return this.transport.getReturncode();
  }

  /** Wait until the child exits; its returncode. Throws only CancelledError (the child keeps running). */
  wait(): Co<number>;
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
  communicate(input?: Uint8Array | string | null): Co<[Buffer | null, Buffer | null]>;
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

/** @internal The coroutine of createSubprocessExec / Shell (exported so awaitables.ts makes it awaitable). */
export function createProcess<O extends ProcessOptions>(argv0: string, args: readonly string[], shell: boolean, options: O): Co<ProcessFor<O>>;
export function* createProcess(argv0: string, args: readonly string[], shell: boolean, options: ProcessOptions): Coroutine<Process> {
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
export function createSubprocessExec<const O extends ProcessOptions = Record<never, never>>(program: string, args: readonly string[] = [], options: O = {} as O): Co<ProcessFor<O>> {
  return createProcess(program, args, false, options);
}

/**
 * Run `cmd` with /bin/sh -c on the running loop (asyncio's create_subprocess_shell).
 * @throws as createSubprocessExec.
 */
export function createSubprocessShell<const O extends ProcessOptions = Record<never, never>>(cmd: string, options: O = {} as O): Co<ProcessFor<O>> {
  return createProcess(cmd, [], true, options);
}
