// keepAlive on createConnection and createServer (SO_KEEPALIVE, and the
// timing options where the OS has them), on every backend over real sockets.
import { describe, expect, it } from 'vitest';
import type { Protocol, Socket, Transport } from '../src/index.js';
import { sleep } from '../src/index.js';
import { thrownBy } from './core_helpers.js';
import { backends, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

class Keep implements Protocol {
  transport!: Transport;
  constructor(private readonly made?: (t: Transport) => void) {}
  connectionMade(t: Transport): void {
    this.transport = t;
    this.made?.(t);
  }
  dataReceived(): void {}
  connectionLost(): void {}
}

const sockOf = (t: Transport): Socket => t.getExtraInfo('socket') as Socket;
const linux = process.platform === 'linux';

describe.each(backends)('keepAlive on %s', (backend) => {
  const t = useLoop(backend);

  it('createConnection({ keepAlive }) and createServer({ keepAlive }): SO_KEEPALIVE (and its timing) on both ends', () => {
    t.run(
      (function* (): Co<void> {
        const accepted: Transport[] = [];
        const timing = { idle: 30, interval: 5, count: 4 };
        const server = yield* t.loop.createServer(() => new Keep((tr) => accepted.push(tr)), '127.0.0.1', 0, { keepAlive: timing });
        const port = (server.addresses()[0] as { port: number }).port;
        const [plain] = yield* t.loop.createConnection(() => new Keep(), '127.0.0.1', port);
        const [kept] = yield* t.loop.createConnection(() => new Keep(), '127.0.0.1', port, { keepAlive: true });
        for (let i = 0; i < 200 && accepted.length < 2; i++) yield* sleep(0.005);
        expect(sockOf(plain).getsockopt('SO_KEEPALIVE')).toBe(0);
        expect(sockOf(kept).getsockopt('SO_KEEPALIVE')).not.toBe(0);
        for (const tr of accepted) {
          const s = sockOf(tr);
          expect(s.getsockopt('SO_KEEPALIVE')).not.toBe(0);
          if (linux) {
            expect(s.getsockopt('TCP_KEEPIDLE')).toBe(30);
            expect(s.getsockopt('TCP_KEEPINTVL')).toBe(5);
            expect(s.getsockopt('TCP_KEEPCNT')).toBe(4);
          }
        }
        plain.close();
        kept.close();
        server.close();
        yield* server.waitClosed();
      })(),
    );
  });

  it('bad keepAlive: TypeError / RangeError before anything is opened', () => {
    t.run(
      (function* (): Co<void> {
        expect(yield* thrownBy(t.loop.createServer(() => new Keep(), '127.0.0.1', 0, { keepAlive: 'yes' as never }))).toBeInstanceOf(TypeError);
        expect(yield* thrownBy(t.loop.createServer(() => new Keep(), '127.0.0.1', 0, { keepAlive: { idle: 0 } }))).toBeInstanceOf(RangeError);
        expect(yield* thrownBy(t.loop.createConnection(() => new Keep(), '127.0.0.1', 9, { keepAlive: { count: 1.5 } }))).toBeInstanceOf(RangeError);
      })(),
    );
  });
});
