// Writes over TLS bigger than one record (16 KiB), made outside any callback
// of the TLS protocol: a coroutine's writer.write(), a call from callSoon.
// OpenSSL's partial-write mode returns after each record; the SSL protocol
// must encrypt to the end of the write then and there, not leave the rest
// until the next bytes come in from the peer (an echo would wait forever).
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { CERT_NONE, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER, SSLContext, openConnection, startServer, waitFor } from '../src/index.js';
import { backends, runGuarded, useLoop, streamEcho } from './helpers.js';
import type { Co } from './helpers.js';
import { makeCerts } from './tls_certs.js';

const certs = makeCerts();
afterAll(() => certs.remove());

function contexts(): [SSLContext, SSLContext] {
  const server = new SSLContext(PROTOCOL_TLS_SERVER);
  server.loadCertChain(certs.server.cert, certs.server.key);
  const client = new SSLContext(PROTOCOL_TLS_CLIENT);
  client.checkHostname = false;
  client.verifyMode = CERT_NONE;
  return [server, client];
}


const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe.each(backends)('TLS writes of several records on %s', (backend) => {
  const ctx = useLoop(backend);
  const run = <T>(coro: Co<T>): T => runGuarded(ctx.loop, coro, 60);

  test.each([16 * 1024 + 1, 40_000, 100 * 1024, 1024 * 1024])('%i bytes through a streams echo come back whole', (size) => {
    run(
      (function* () {
        const [serverCtx, clientCtx] = contexts();
        const server = yield* startServer(streamEcho, '127.0.0.1', 0, { ssl: serverCtx });
        try {
          const port = (server.addresses()[0] as { port: number }).port;
          const [r, w] = yield* openConnection('127.0.0.1', port, { ssl: clientCtx });
          const payload = randomBytes(size);
          // One write from this coroutine, then nothing more is sent: without the fix
          // only the first record goes out (both ways), and the read times out.
          w.write(payload);
          const back = yield* waitFor(r.readExactly(size), 10);
          expect(sha(back)).toBe(sha(payload));
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          server.closeClients();
          yield* server.waitClosed();
        }
      })(),
    );
  });
});
