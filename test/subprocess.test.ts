// Subprocesses and pipe transports over real processes, on every backend, with
// both child watchers (pidfd where the kernel has it, and SIGCHLD).
import { spawn as spawnNode } from 'node:child_process';
import { closeSync, existsSync, openSync, realpathSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { _setPidfdEnabled } from '../src/child_watcher.js';
import { native } from '../src/native.js';
import {
  signalNumber,
  createSubprocessExec,
  createSubprocessShell,
  DEVNULL,
  PIPE,
  ProtocolBase,
  sleep,
  STDOUT,
  waitFor,
  TimeoutError,
} from '../src/index.js';
import type { Process, SubprocessProtocol, SubprocessTransport, Transport } from '../src/index.js';
import { backends, settle, useLoop } from './helpers.js';
import { openFds } from './setup.js';
import type { Co } from './helpers.js';

const pidfdWorks = ((): boolean => {
  // Our own pid is a valid pidfd_open target where the syscall exists.
  const fd = native.pidfdOpen(process.pid);
  if (fd >= 0) native.close(fd);
  return fd >= 0;
})();
const watcherKinds = pidfdWorks ? ['pidfd', 'sigchld'] : ['sigchld'];

/** The child is reaped: no /proc entry, and waitpid says it is not ours any more. */
function expectReaped(pid: number): void {
  if (existsSync('/proc/self')) expect(existsSync(`/proc/${pid}`), `/proc/${pid} still exists`).toBe(false);
  expect(() => native.waitpid(pid)).toThrow(expect.objectContaining({ code: 'ECHILD' }));
}

describe.each(backends)('subprocesses (%s)', (backend) => {
  describe.each(watcherKinds)('child watcher: %s', (watcher) => {
    const t = useLoop(backend);
    beforeEach(() => _setPidfdEnabled(watcher === 'pidfd'));
    afterEach(() => _setPidfdEnabled(true));

    test('echo through cat: stdin and stdout pipes', () => {
      const proc = t.run(
        (function* (): Co<Process> {
          const p = yield* createSubprocessExec('cat', [], { stdin: PIPE, stdout: PIPE });
          p.stdin!.write('hello\n');
          expect((yield* p.stdout!.readLine()).toString()).toBe('hello\n');
          p.stdin!.write('world\n');
          yield* p.stdin!.drain();
          expect((yield* p.stdout!.readLine()).toString()).toBe('world\n');
          p.stdin!.close();
          expect((yield* p.stdout!.read()).length).toBe(0); // EOF once cat saw ours
          expect(yield* p.wait()).toBe(0);
          return p;
        })(),
      );
      expect(proc.returncode).toBe(0);
      expectReaped(proc.pid);
    });

    test('a child that exits with a code', () => {
      const [code, rc] = t.run(
        (function* (): Co<[number, number | null]> {
          const p = yield* createSubprocessShell('exit 3');
          const code = yield* p.wait();
          expectReaped(p.pid);
          return [code, p.returncode];
        })(),
      );
      expect(code).toBe(3);
      expect(rc).toBe(3);
    });

    test('a killed child reports minus the signal number; signals after exit are ESRCH', () => {
      const codes = t.run(
        (function* (): Co<number[]> {
          const a = yield* createSubprocessExec('sleep', ['30']);
          const b = yield* createSubprocessExec('sleep', ['30']);
          expect(a.returncode).toBe(null);
          a.kill();
          b.terminate();
          const codes = [yield* a.wait(), yield* b.wait()];
          expect(() => a.kill()).toThrow(expect.objectContaining({ code: 'ESRCH' }));
          expectReaped(a.pid);
          expectReaped(b.pid);
          return codes;
        })(),
      );
      expect(codes).toEqual([-9, -15]);
    });

    test('more output than the pipe buffer holds, while the loop keeps serving', () => {
      const [size, ticks] = t.run(
        (function* (): Co<[number, number]> {
          let ticks = 0;
          // Half, a pause (the loop must keep serving), the other half.
          const p = yield* createSubprocessShell('head -c 500000 /dev/zero; sleep 0.1; head -c 500000 /dev/zero', { stdout: PIPE });
          const ticking = t.loop.createTask(
            (function* () {
              for (;;) {
                yield* sleep(0.001);
                ticks++;
              }
            })(),
          );
          const out = yield* p.stdout!.read();
          expect(yield* p.wait()).toBe(0);
          ticking.cancel();
          yield* sleep(0);
          expect(out.every((b) => b === 0)).toBe(true);
          return [out.length, ticks];
        })(),
      );
      expect(size).toBe(1_000_000);
      expect(ticks).toBeGreaterThanOrEqual(5);
    });

    test('communicate() with input larger than the pipe buffer', () => {
      const input = Buffer.alloc(300_000);
      for (let i = 0; i < input.length; i++) input[i] = i % 251;
      const [out, err, rc] = t.run(
        (function* (): Co<[Buffer | null, Buffer | null, number | null]> {
          const p = yield* createSubprocessExec('cat', [], { stdin: PIPE, stdout: PIPE, stderr: PIPE });
          const [out, err] = yield* p.communicate(input);
          return [out, err, p.returncode];
        })(),
      );
      expect(rc).toBe(0);
      expect(err!.length).toBe(0);
      expect(out!.equals(input)).toBe(true);
    });

    test('communicate() when the child does not read its stdin', () => {
      const [out, rc] = t.run(
        (function* (): Co<[Buffer | null, number | null]> {
          const p = yield* createSubprocessShell('echo done', { stdin: PIPE, stdout: PIPE });
          const [out] = yield* p.communicate(Buffer.alloc(1_000_000));
          return [out, p.returncode];
        })(),
      );
      expect(out!.toString()).toBe('done\n');
      expect(rc).toBe(0);
    });

    test('stderr: its own pipe, or merged into stdout; DEVNULL', () => {
      t.run(
        (function* (): Co<void> {
          const split = yield* createSubprocessShell('echo out; echo err >&2', { stdout: PIPE, stderr: PIPE });
          const [out, err] = yield* split.communicate();
          expect([out!.toString(), err!.toString()]).toEqual(['out\n', 'err\n']);

          const merged = yield* createSubprocessShell('echo out; echo err >&2', { stdout: PIPE, stderr: STDOUT });
          const [both, none] = yield* merged.communicate();
          expect(both!.toString()).toBe('out\nerr\n');
          expect(none).toBe(null);

          const quiet = yield* createSubprocessShell('cat; echo err >&2', { stdin: DEVNULL, stdout: PIPE, stderr: DEVNULL });
          const [nothing] = yield* quiet.communicate();
          expect(nothing!.length).toBe(0);
          expect(quiet.returncode).toBe(0);
        })(),
      );
    });

    test('cwd and env; PATH is searched in the given env', () => {
      const dir = realpathSync(tmpdir());
      const out = t.run(
        (function* (): Co<string> {
          const p = yield* createSubprocessExec('sh', ['-c', 'pwd; echo "$FOO"; echo "${BAR-unset}"'], {
            stdout: PIPE,
            cwd: dir,
            env: { FOO: 'foo value', PATH: process.env.PATH },
          });
          const [out] = yield* p.communicate();
          return out!.toString();
        })(),
      );
      expect(out).toBe(`${dir}\nfoo value\nunset\n`);
    });

    test('a program that does not exist: ENOENT, nothing left open', () => {
      const errs = t.run(
        (function* (): Co<unknown[]> {
          const errs: unknown[] = [];
          for (const program of ['coio-no-such-program', '/nonexistent/program']) {
            try {
              yield* createSubprocessExec(program, [], { stdin: PIPE, stdout: PIPE, stderr: PIPE });
            } catch (err) {
              errs.push(err);
            }
          }
          return errs;
        })(),
      );
      expect(errs).toHaveLength(2);
      for (const err of errs) expect(err).toMatchObject({ code: 'ENOENT', syscall: 'spawn' });
    });

    test('bad options are refused before spawning', () => {
      t.run(
        (function* (): Co<void> {
          for (const [options, Err] of [
            [{ stdout: STDOUT }, RangeError],
            [{ stdin: -7 }, TypeError],
            [{ stdin: 1.5 }, TypeError],
            [{ stdin: 'pipe' }, TypeError],
          ] as const) {
            let caught: unknown;
            try {
              yield* createSubprocessExec('true', [], options as never);
            } catch (err) {
              caught = err;
            }
            expect(caught).toBeInstanceOf(Err);
          }
          let caught: unknown;
          try {
            yield* createSubprocessExec('true', [42 as unknown as string]);
          } catch (err) {
            caught = err;
          }
          expect(caught).toBeInstanceOf(TypeError);
        })(),
      );
    });

    test('wait() does not block the loop; a timeout around it works', () => {
      t.run(
        (function* (): Co<void> {
          const p = yield* createSubprocessExec('sleep', ['5']);
          let timedOut = false;
          try {
            yield* waitFor(p.wait(), 0.05);
          } catch (err) {
            timedOut = err instanceof TimeoutError;
          }
          expect(timedOut).toBe(true);
          expect(p.returncode).toBe(null);
          p.kill();
          expect(yield* p.wait()).toBe(-9);
        })(),
      );
    });

    test('the timeout pattern (communicate() cancelled, kill, wait) leaves no fd, even when a grandchild holds the pipes', () => {
      // The shell's background loop inherits stdout and stderr and outlives
      // the kill; it ends at its first write once our read ends are closed.
      t.run(
        (function* (): Co<void> {
          const before = openFds();
          for (let i = 0; i < 50; i++) {
            const p = yield* createSubprocessShell('(while echo tick; do sleep 0.05; done) & wait', { stdin: PIPE, stdout: PIPE, stderr: PIPE });
            let timedOut = false;
            try {
              yield* waitFor(p.communicate(), 0.01);
            } catch (err) {
              timedOut = err instanceof TimeoutError;
            }
            expect(timedOut).toBe(true);
            p.kill();
            expect(yield* p.wait()).toBe(-9);
          }
          yield* settle();
          expect(openFds() - before, 'fds left open by 50 finished children').toBe(0);
        })(),
      );
    });

    test('communicate() timing out after the child exited, with a grandchild holding its pipes: they are released', () => {
      t.run(
        (function* (): Co<void> {
          const before = openFds();
          for (let i = 0; i < 10; i++) {
            const p = yield* createSubprocessShell('(while echo tick; do sleep 0.05; done) &', { stdout: PIPE, stderr: PIPE });
            let timedOut = false;
            try {
              yield* waitFor(p.communicate(), 0.02);
            } catch (err) {
              timedOut = err instanceof TimeoutError;
            }
            expect(timedOut).toBe(true);
            expect(yield* p.wait()).toBe(0);
          }
          yield* settle();
          expect(openFds() - before, 'fds left open by 10 finished children').toBe(0);
        })(),
      );
    });

    test('communicate() reads to EOF: it collects what a grandchild writes after the child exited', () => {
      const [out, rc] = t.run(
        (function* (): Co<[string, number | null]> {
          const p = yield* createSubprocessShell('echo one; (sleep 0.1; echo two) &', { stdout: PIPE });
          const [out] = yield* p.communicate();
          return [out!.toString(), p.returncode];
        })(),
      );
      expect(out).toBe('one\ntwo\n');
      expect(rc).toBe(0);
    });

    test('loop.subprocessExec with a protocol: the callbacks in asyncio order', () => {
      const events: string[] = [];
      class Collect implements SubprocessProtocol {
        transport: SubprocessTransport | null = null;
        exited = t.loop.createFuture<void>();
        lost = t.loop.createFuture<void>();
        connectionMade(transport: SubprocessTransport): void {
          this.transport = transport;
          events.push('connectionMade');
        }
        pipeDataReceived(fd: number, data: Buffer): void {
          events.push(`data ${fd} ${data.toString().trim()}`);
        }
        pipeConnectionLost(fd: number, exc: Error | null): void {
          events.push(`pipe lost ${fd} ${exc === null ? 'clean' : exc.message}`);
        }
        processExited(): void {
          events.push(`exited ${this.transport!.getReturncode()}`);
          this.exited.setResult(undefined);
        }
        connectionLost(exc: Error | null): void {
          events.push(`lost ${String(exc)}`);
          this.lost.setResult(undefined);
        }
      }
      t.run(
        (function* (): Co<void> {
          const [transport, protocol] = yield* t.loop.subprocessShell(() => new Collect(), 'read x; echo "got $x"; exit 5');
          expect(events).toEqual(['connectionMade']);
          expect(transport.getPid()).toBeGreaterThan(0);
          const stdin = transport.getPipeTransport(0)!;
          (stdin as unknown as Transport).write('ping\n');
          yield* protocol.exited;
          yield* protocol.lost;
          expect(transport.getReturncode()).toBe(5);
          transport.close();
        })(),
      );
      expect(events[0]).toBe('connectionMade');
      expect(events).toContain('data 1 got ping');
      expect(events).toContain('exited 5');
      expect(events).toContain('pipe lost 1 clean');
      expect(events).toContain('pipe lost 2 clean');
      expect(events.at(-1)).toBe('lost null');
      expect(events.indexOf('data 1 got ping')).toBeLessThan(events.indexOf('pipe lost 1 clean'));
    });

    test("Node's own children still exit meanwhile (SIGCHLD is chained, never waitpid(-1))", async () => {
      const nodeChild = spawnNode('sleep', ['0.05'], { stdio: 'ignore' });
      const nodeExit = new Promise((resolve) => nodeChild.once('exit', (code) => resolve(code)));
      // Node's child exits while ours runs and is watched.
      const p = t.run(
        (function* (): Co<Process> {
          const p = yield* createSubprocessExec('sleep', ['5']);
          yield* sleep(0.3);
          return p;
        })(),
      );
      // Our SIGCHLD handler is still the installed one: libuv can only have
      // heard of its child's exit through it (the chained call).
      if (watcher === 'sigchld') expect(native.signalDisposition(signalNumber('SIGCHLD'))).toBe('coio');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((resolve) => (timer = setTimeout(resolve, 5000, 'no exit event')));
      expect(await Promise.race([nodeExit, timeout])).toBe(0);
      clearTimeout(timer);
      p.kill();
      expect(t.run(p.wait())).toBe(-9);
    });

    test('closing the loop with a running child: its watcher lets go (no pidfd left)', () => {
      // The child outlives the loop; kill and reap it by hand afterwards.
      const p = t.run(createSubprocessExec('sleep', ['30']));
      t.loop.close();
      native.kill(p.pid, 9);
      for (let i = 0; i < 1000 && native.waitpid(p.pid) === null; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      expectReaped(p.pid);
    });
  });
});

describe('native spawn functions check their arguments', () => {
  test('types, ranges, NUL bytes; failures are errno errors', () => {
    expect(() => native.spawn(1 as never, ['x'], [], null, 0, 1, 2)).toThrow(TypeError);
    expect(() => native.spawn('/bin/true', [], [], null, 0, 1, 2)).toThrow(RangeError);
    expect(() => native.spawn('/bin/true', ['a', 2 as never], [], null, 0, 1, 2)).toThrow(/argv\[1\] must be a string/);
    expect(() => native.spawn('/bin/true', ['a\0b'], [], null, 0, 1, 2)).toThrow(/null bytes/);
    expect(() => native.spawn('/bin/true', ['a'], 'A=1' as never, null, 0, 1, 2)).toThrow(TypeError);
    expect(() => native.spawn('/bin/true', ['a'], [], 5 as never, 0, 1, 2)).toThrow(TypeError);
    expect(() => native.spawn('/bin/true', ['a'], [], null, -1, 1, 2)).toThrow(RangeError);
    expect(() => native.spawn('/bin/true', ['a'], [], null, 0, 1, 999_999)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => native.spawn('/bin/true', ['a'], [], '/nonexistent-dir', 0, 1, 2)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    for (const fn of ['waitpid', 'pidfdOpen'] as const) {
      expect(() => native[fn](0)).toThrow(RangeError);
      expect(() => native[fn](-1)).toThrow(RangeError);
      expect(() => native[fn]('1' as never)).toThrow(TypeError);
    }
    expect(() => native.waitpid(1)).toThrow(expect.objectContaining({ code: 'ECHILD', syscall: 'waitpid' }));
    expect(() => native.kill(0, 0)).toThrow(RangeError); // never a process group
    expect(() => native.kill(-1, 9)).toThrow(RangeError);
    expect(() => native.kill(process.pid, -1)).toThrow(RangeError);
    expect(() => native.kill(process.pid, 0)).not.toThrow();
    expect(() => native.setBlocking(-1, true)).toThrow(RangeError);
    expect(() => native.setBlocking(0, 1 as never)).toThrow(TypeError);
    expect(() => native.setBlocking(999_999, true)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });
});

describe.each(backends)('pipe transports (%s)', (backend) => {
  const t = useLoop(backend);

  test('connectReadPipe / connectWritePipe over a pipe: data, then EOF', () => {
    const got: string[] = [];
    let eof = false;
    t.run(
      (function* (): Co<void> {
        const [r, w] = native.pipe();
        const done = t.loop.createFuture<Error | null>();
        class Reader extends ProtocolBase {
          override dataReceived(data: Buffer): void {
            got.push(data.toString());
          }
          override eofReceived(): void {
            eof = true;
          }
          override connectionLost(exc: Error | null): void {
            done.setResult(exc);
          }
        }
        const [rt] = yield* t.loop.connectReadPipe(() => new Reader(), r);
        const [wt] = yield* t.loop.connectWritePipe(() => new ProtocolBase(), w);
        expect(rt.isReading()).toBe(true);
        wt.write('abc');
        wt.write(Buffer.from('def'));
        wt.writeEof();
        expect(wt.isClosing()).toBe(true);
        expect(yield* done).toBe(null);
        expect(rt.fileno()).toBe(-1);
      })(),
    );
    expect(got.join('')).toBe('abcdef');
    expect(eof).toBe(true);
  });

  test('a write pipe whose reader closes is closed with EPIPE when data is pending', () => {
    t.run(
      (function* (): Co<void> {
        const [r, w] = native.pipe();
        const lost = t.loop.createFuture<Error | null>();
        class Writer extends ProtocolBase {
          paused = false;
          override pauseWriting(): void {
            this.paused = true;
          }
          override connectionLost(exc: Error | null): void {
            lost.setResult(exc);
          }
        }
        const [wt, proto] = yield* t.loop.connectWritePipe(() => new Writer(), w);
        wt.write(Buffer.alloc(1_000_000)); // more than the pipe takes: buffered
        expect(wt.getWriteBufferSize()).toBeGreaterThan(0);
        expect(proto.paused).toBe(true);
        native.close(r);
        const exc = yield* lost;
        expect(exc).toMatchObject({ code: 'EPIPE' });
      })(),
    );
  });

  test('refuses a regular file (the fd stays the caller\'s)', () => {
    const path = join(tmpdir(), `coio-pipe-test-${process.pid}`);
    const fd = openSync(path, 'w+');
    unlinkSync(path);
    try {
      expect(() => t.run(t.loop.connectReadPipe(() => new ProtocolBase(), fd))).toThrow(TypeError);
      expect(() => t.run(t.loop.connectWritePipe(() => new ProtocolBase(), fd))).toThrow(TypeError);
    } finally {
      closeSync(fd);
    }
  });
});
