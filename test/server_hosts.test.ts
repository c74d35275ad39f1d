// createServer / startServer with a list of hosts (asyncio's sequence of
// hosts): one listening socket per address, all on one port, on every backend.
import { describe, expect, it } from 'vitest';
import { openConnection, startServer } from '../src/index.js';
import type { StreamReader, StreamWriter } from '../src/index.js';
import { thrownBy } from './core_helpers.js';
import { backends, loopbackHosts, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

function* hello(_r: StreamReader, w: StreamWriter): Co<void> {
  w.write('hi\n');
  w.close();
}

describe.each(backends)('a list of hosts on %s', (backend) => {
  const t = useLoop(backend);

  it('listens on every host of the list, on the same port, and each answers', () => {
    t.run(
      (function* (): Co<void> {
        const hosts = [...loopbackHosts, 'localhost'];
        const server = yield* t.loop.createServer(() => ({ connectionMade: (tr: { write(d: string): void; close(): void }) => (tr.write('hi\n'), tr.close()) }) as never, hosts, 0);
        const addrs = server.addresses();
        const ports = new Set(addrs.map((a) => a.port));
        expect(ports.size).toBe(1);
        const listened = new Set(addrs.map((a) => a.address));
        for (const h of loopbackHosts) expect(listened.has(h)).toBe(true);
        const port = [...ports][0]!;
        for (const h of loopbackHosts) {
          const [r, w] = yield* openConnection(h, port);
          expect(String(yield* r.readLine())).toBe('hi\n');
          w.close();
          yield* w.waitClosed();
        }
        server.close();
        yield* server.waitClosed();
      })(),
    );
  });

  it('startServer takes the list too', () => {
    t.run(
      (function* (): Co<void> {
        const server = yield* startServer(hello, ['127.0.0.1'], 0);
        const [r, w] = yield* openConnection('127.0.0.1', server.addresses()[0]!.port);
        expect(String(yield* r.readLine())).toBe('hi\n');
        w.close();
        yield* w.waitClosed();
        server.close();
        yield* server.waitClosed();
      })(),
    );
  });

  it('bad lists: an empty one (RangeError), a non-string host (TypeError)', () => {
    t.run(
      (function* (): Co<void> {
        expect(yield* thrownBy(t.loop.createServer(() => ({}) as never, [], 0))).toBeInstanceOf(RangeError);
        expect(yield* thrownBy(t.loop.createServer(() => ({}) as never, ['127.0.0.1', 5 as never], 0))).toBeInstanceOf(TypeError);
      })(),
    );
  });
});
