// createConnection with several addresses: Happy Eyeballs (happyEyeballsDelay,
// interleave), every attempt's error (allErrors), local addresses by name,
// on every backend, against real loopback listeners.
import { describe, expect, it } from 'vitest';
import { AF_INET, AF_INET6, CancelledError, ExceptionGroup, SOCK_STREAM, Socket, TimeoutError, createTask, sleep, waitFor } from '../src/index.js';
import type { AddrInfo, EventLoop, Protocol, Transport } from '../src/index.js';
import { interleaveAddrinfos } from '../src/connections.js';
import { thrownBy } from './core_helpers.js';
import { backends, hasIPv6, loopbackHosts, stallingListener, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

class Client implements Protocol {
  transport!: Transport;
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  dataReceived(): void {}
  connectionLost(): void {}
}

const familyOf = (host: string): number => (host.includes(':') ? AF_INET6 : AF_INET);
const info = (host: string, port: number): AddrInfo => ({ family: familyOf(host), type: SOCK_STREAM, host, port });

/** A listener that accepts (the kernel completes the handshake; nobody needs to call accept). */
function listening(host: string): { port: number; sock: Socket } {
  const sock = new Socket(familyOf(host), SOCK_STREAM);
  sock.bind([host, 0]);
  sock.listen(16);
  return { port: (sock.getsockname() as { port: number }).port, sock };
}

/** A port with nothing listening: connects are refused. */
function refusedPort(host: string): number {
  const s = new Socket(familyOf(host), SOCK_STREAM);
  s.bind([host, 0]);
  const port = (s.getsockname() as { port: number }).port;
  s.close();
  return port;
}

/** Make the loop resolve every name to `infos` (createConnection resolves through loop.getaddrinfo, as asyncio). */
function resolveTo(loop: EventLoop, infos: AddrInfo[]): void {
  (loop as unknown as { getaddrinfo: () => Co<AddrInfo[]> }).getaddrinfo = function* () {
    return infos.map((i) => ({ ...i }));
  };
}

describe('interleaveAddrinfos', () => {
  const a6 = info('::1', 1), b6 = info('::2', 1), c6 = info('::3', 1);
  const a4 = info('127.0.0.1', 1), b4 = info('127.0.0.2', 1);
  it('alternates the families, the first family first', () => {
    expect(interleaveAddrinfos([a6, b6, c6, a4, b4])).toEqual([a6, a4, b6, b4, c6]);
  });
  it('takes firstFamilyCount of the first family before alternating', () => {
    expect(interleaveAddrinfos([a6, b6, c6, a4, b4], 2)).toEqual([a6, b6, a4, c6, b4]);
  });
});

describe.each(backends)('Happy Eyeballs on %s', (backend) => {
  const t = useLoop(backend);

  it.each(loopbackHosts)('a stalled first address (%s) costs happyEyeballsDelay, then the second connects', (stallHost) => {
    t.run(
      (function* (): Co<void> {
        const stall = yield* stallingListener(t.loop, stallHost);
        const good = listening('127.0.0.1');
        try {
          resolveTo(t.loop, [info(stallHost, stall.port), info('127.0.0.1', good.port)]);
          const t0 = t.loop.time();
          const [tr] = yield* t.loop.createConnection(() => new Client(), 'example.test', 0, { happyEyeballsDelay: 0.05 });
          const took = t.loop.time() - t0;
          expect((tr.getExtraInfo('peername') as { port: number }).port).toBe(good.port);
          expect(took).toBeGreaterThanOrEqual(0.049);
          expect(took).toBeLessThan(0.9); // below the kernel's first SYN retry (1 s)
          console.log(`[happy eyeballs ${backend}] stalled ${stallHost} first: connected in ${(took * 1000).toFixed(1)} ms with happyEyeballsDelay 0.05`);
          tr.close();
        } finally {
          stall.close();
          good.sock.close();
        }
      })(),
    );
  });

  it('without the delay, the same pair is still not connected after 1.5 s', () => {
    t.run(
      (function* (): Co<void> {
        const stall = yield* stallingListener(t.loop, '127.0.0.1');
        const good = listening('127.0.0.1');
        try {
          resolveTo(t.loop, [info('127.0.0.1', stall.port), info('127.0.0.1', good.port)]);
          const t0 = t.loop.time();
          const err = yield* thrownBy(waitFor(t.loop.createConnection(() => new Client(), 'example.test', 0), 1.5));
          expect(err).toBeInstanceOf(TimeoutError);
          console.log(`[happy eyeballs ${backend}] without the delay: not connected after ${((t.loop.time() - t0) * 1000).toFixed(0)} ms (timed out)`);
        } finally {
          stall.close();
          good.sock.close();
        }
      })(),
    );
  });

  it('a first address that fails at once starts the next at once, not after the delay', () => {
    t.run(
      (function* (): Co<void> {
        const good = listening('127.0.0.1');
        try {
          resolveTo(t.loop, [info('127.0.0.1', refusedPort('127.0.0.1')), info('127.0.0.1', good.port)]);
          const t0 = t.loop.time();
          const [tr] = yield* t.loop.createConnection(() => new Client(), 'example.test', 0, { happyEyeballsDelay: 5 });
          expect(t.loop.time() - t0).toBeLessThan(1);
          expect((tr.getExtraInfo('peername') as { port: number }).port).toBe(good.port);
          tr.close();
        } finally {
          good.sock.close();
        }
      })(),
    );
  });

  for (const delay of [null, 0.01]) {
    it(`cancelled while an attempt stalls (happyEyeballsDelay ${delay}): CancelledError, no next address, every attempt socket closed`, () => {
      t.run(
        (function* (): Co<void> {
          const a = yield* stallingListener(t.loop, '127.0.0.1');
          const b = yield* stallingListener(t.loop, '127.0.0.1');
          const good = listening('127.0.0.1');
          try {
            // Without a delay a cancellation must end the call, not move on to the (good) next address.
            resolveTo(t.loop, delay === null ? [info('127.0.0.1', a.port), info('127.0.0.1', good.port)] : [info('127.0.0.1', a.port), info('127.0.0.1', b.port), info('127.0.0.1', good.port)]);
            const task = createTask(t.loop.createConnection(() => new Client(), 'example.test', 0, { happyEyeballsDelay: delay === null ? null : 1 }));
            yield* sleep(0.05);
            task.cancel();
            const err = yield* thrownBy(waitFor(task, 1));
            expect(err).toBeInstanceOf(CancelledError);
          } finally {
            a.close();
            b.close();
            good.sock.close();
          }
          // The file's fd check (test/setup.ts) sees any attempt socket left open.
        })(),
      );
    });
  }

  for (const delay of [null, 0.01]) {
    it(`every address refused (happyEyeballsDelay ${delay}): allErrors gives an ExceptionGroup of them all, else one error`, () => {
      t.run(
        (function* (): Co<void> {
          const infos = [info('127.0.0.1', refusedPort('127.0.0.1')), info('127.0.0.1', refusedPort('127.0.0.1'))];
          resolveTo(t.loop, infos);
          const all = yield* thrownBy(t.loop.createConnection(() => new Client(), 'example.test', 0, { happyEyeballsDelay: delay, allErrors: true }));
          expect(all).toBeInstanceOf(ExceptionGroup);
          const group = all as ExceptionGroup;
          expect(group.exceptions).toHaveLength(2);
          for (const e of group.exceptions) expect((e as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
          const one = yield* thrownBy(t.loop.createConnection(() => new Client(), 'example.test', 0, { happyEyeballsDelay: delay }));
          expect(one).not.toBeInstanceOf(ExceptionGroup);
          expect((one as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
        })(),
      );
    });
  }

  it('localAddr may be a host name (resolved, then bound)', () => {
    t.run(
      (function* (): Co<void> {
        const good = listening('127.0.0.1');
        try {
          const [tr] = yield* t.loop.createConnection(() => new Client(), '127.0.0.1', good.port, { localAddr: ['localhost', 0], family: AF_INET });
          expect((tr.getExtraInfo('sockname') as unknown as { address: string }).address).toBe('127.0.0.1');
          tr.close();
        } finally {
          good.sock.close();
        }
      })(),
    );
  });

  it('bad happyEyeballsDelay and interleave: RangeError, nothing opened', () => {
    t.run(
      (function* (): Co<void> {
        for (const options of [{ happyEyeballsDelay: -1 }, { happyEyeballsDelay: Number.NaN }, { interleave: 1.5 }, { interleave: -1 }]) {
          const err = yield* thrownBy(t.loop.createConnection(() => new Client(), '127.0.0.1', 9, options));
          expect(err).toBeInstanceOf(RangeError);
        }
      })(),
    );
  });

  it.skipIf(!hasIPv6)('with both families and a delay, interleave 1 tries the other family second', () => {
    t.run(
      (function* (): Co<void> {
        const stall6 = yield* stallingListener(t.loop, '::1');
        const stall6b = yield* stallingListener(t.loop, '::1');
        const good4 = listening('127.0.0.1');
        try {
          // getaddrinfo's order: both IPv6 first. Interleaved: ::1, 127.0.0.1, ::1.
          resolveTo(t.loop, [info('::1', stall6.port), info('::1', stall6b.port), info('127.0.0.1', good4.port)]);
          const t0 = t.loop.time();
          const [tr] = yield* t.loop.createConnection(() => new Client(), 'example.test', 0, { happyEyeballsDelay: 0.05 });
          const took = t.loop.time() - t0;
          expect((tr.getExtraInfo('peername') as { port: number }).port).toBe(good4.port);
          expect(took).toBeLessThan(0.095); // one delay, not two
          tr.close();
        } finally {
          stall6.close();
          stall6b.close();
          good4.sock.close();
        }
      })(),
    );
  });
});
