// The transport level of subprocesses (asyncio's base_subprocess.py, and
// unix_events.py's _UnixSubprocessTransport): loop.subprocessExec /
// subprocessShell give a SubprocessTransport (pid, returncode, signals, one
// pipe transport per piped fd) and call a SubprocessProtocol
// (pipeDataReceived, processExited, ...). The child's pipes are pipe
// transports (pipe_transport.ts), and its exit is seen by the loop's child
// watcher (child_watcher.ts: a pidfd, or SIGCHLD): nothing blocks the loop.

import type { LoopCore } from './events.js';
import { childWatcher } from './child_watcher.js';
import type { Coroutine, Co } from './coroutines.js';
import type { Signal, SubprocessOptions } from './events.js';
import type { Future } from './futures.js';
import { native } from './native.js';
import { connectReadPipe, connectWritePipe } from './pipe_transport.js';
import type { ReadPipeTransport, WritePipeTransport } from './pipe_transport.js';
import type { SubprocessProtocol } from './protocols.js';
import { signalNumber } from './signals.js';
import { PIPE, checkStdio, spawnChild } from './spawn.js';
import type { Spawned } from './spawn.js';
import type { SubprocessTransport as SubprocessTransportContract } from './transports.js';

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
    private readonly loop: LoopCore,
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
export function subprocessExec<P extends SubprocessProtocol>(
  loop: LoopCore,
  protocolFactory: () => P,
  program: string,
  args: readonly string[],
  options?: SubprocessOptions,
): Co<[SubprocessTransport, P]>;
export function* subprocessExec<P extends SubprocessProtocol>(
  loop: LoopCore,
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
export function subprocessShell<P extends SubprocessProtocol>(loop: LoopCore, protocolFactory: () => P, cmd: string, options: SubprocessOptions = {}): Co<[SubprocessTransport, P]> {
  if (typeof cmd !== 'string') throw new TypeError(`cmd must be a string, got ${typeof cmd}`);
  return subprocessExec(loop, protocolFactory, '/bin/sh', ['-c', cmd], options);
}
