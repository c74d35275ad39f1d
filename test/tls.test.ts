// TLS (ssl.ts, sslproto.ts, native/tls.cc) against real peers: coio with
// itself, `openssl s_client` / `s_server` and Node's own tls in child
// processes (run by coio's subprocess support, so the loop under test drives
// them), on every backend. Certificates are made at test time (tls_certs.ts).
import { afterAll, describe, expect, test } from 'vitest';
import {
  CERT_NONE,
  PROTOCOL_TLS_CLIENT,
  PROTOCOL_TLS_SERVER,
  SSLCertVerificationError,
  SSLContext,
  SSLError,
  createSubprocessExec,
  openConnection,
  startServer,
  PIPE,
  DEVNULL,
} from '../src/index.js';
import type { ExceptionContext, Process, Server, StreamReader, StreamWriter } from '../src/index.js';
import { backends, runGuarded, useLoop } from './helpers.js';
import type { Co } from './helpers.js';
import { makeCerts } from './tls_certs.js';

const certs = makeCerts();
afterAll(() => certs.remove());

function serverContext(pair = certs.server): SSLContext {
  const ctx = new SSLContext(PROTOCOL_TLS_SERVER);
  ctx.loadCertChain(pair.cert, pair.key);
  return ctx;
}

function clientContext(): SSLContext {
  const ctx = new SSLContext(PROTOCOL_TLS_CLIENT);
  ctx.loadVerifyLocations({ cafile: certs.ca.cert });
  return ctx;
}

function portOf(server: Server): number {
  return (server.addresses()[0] as { port: number }).port;
}

/** An echo handler: lines back until EOF. */
function* echo(reader: StreamReader, writer: StreamWriter): Co<void> {
  try {
    for (;;) {
      const data = yield* reader.read(65536);
      if (data.length === 0) break;
      writer.write(data);
      yield* writer.drain();
    }
  } catch {
    // a broken connection ends the handler
  } finally {
    writer.close();
  }
}

/** Read from a child's stdout until it matches re (or EOF). */
function* readUntilMatch(p: Process, re: RegExp): Co<string> {
  let out = '';
  while (!re.test(out)) {
    const chunk = yield* p.stdout!.read(65536);
    if (chunk.length === 0) break;
    out += chunk.toString();
  }
  return out;
}

function* finish(p: Process): Co<number> {
  if (p.returncode === null) {
    try {
      p.kill();
    } catch {
      // already gone
    }
  }
  return yield* p.wait();
}

/** Node's tls in a child process: the script gets PORT, CA, CERT, KEY in its environment. */
function nodeChild(script: string, env: Record<string, string>): Co<Process> {
  return createSubprocessExec(process.execPath, ['-e', script], { stdin: PIPE, stdout: PIPE, stderr: DEVNULL, env: { ...process.env, ...env } as Record<string, string> });
}

describe.each(backends)('TLS on %s', (backend) => {
  const ctx = useLoop(backend);
  const run = <T>(coro: Co<T>): T => runGuarded(ctx.loop, coro, 60);

  test('coio server and client over streams: data both ways, extra info, close_notify', () => {
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext() });
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          w.write('hello\n');
          expect(String(yield* r.readLine())).toBe('hello\n');
          const obj = w.getExtraInfo('sslObject')!;
          expect(obj.version()).toBe('TLSv1.3');
          expect(w.getExtraInfo('cipher')![1]).toBe('TLSv1.3');
          expect(w.getExtraInfo('compression')).toBeNull();
          expect(w.getExtraInfo('sslContext')).toBeInstanceOf(SSLContext);
          const cert = w.getExtraInfo('peercert') as { subject: unknown; subjectAltName: unknown };
          expect(cert.subject).toEqual([[['commonName', 'localhost']]]);
          expect(cert.subjectAltName).toContainEqual(['DNS', 'localhost']);
          expect(w.getExtraInfo('peername')).toMatchObject({ address: '127.0.0.1' });
          expect(w.canWriteEof()).toBe(false);
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('coio server against openssl s_client (TLS 1.2 and 1.3)', () => {
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext() });
        try {
          for (const version of ['-tls1_2', '-tls1_3']) {
            const p = yield* createSubprocessExec(
              'openssl',
              ['s_client', '-connect', `127.0.0.1:${portOf(server)}`, '-CAfile', certs.ca.cert, '-verify_return_error', '-servername', 'localhost', '-verify_hostname', 'localhost', version, '-quiet'],
              { stdin: PIPE, stdout: PIPE, stderr: DEVNULL },
            );
            p.stdin!.write('ping from s_client\n');
            const out = yield* readUntilMatch(p, /ping from s_client\n/);
            expect(out).toBe('ping from s_client\n');
            p.stdin!.close();
            yield* finish(p);
          }
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test("coio server against Node's tls.connect in a child", () => {
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: serverContext() });
        try {
          const p = yield* nodeChild(
            `const tls = require('tls'), fs = require('fs');
             const s = tls.connect({ port: +process.env.PORT, host: '127.0.0.1', servername: 'localhost', ca: fs.readFileSync(process.env.CA) }, () => {
               s.write('from node\\n');
             });
             let got = '';
             s.on('data', (d) => { got += d; if (got.endsWith('\\n')) { console.log(JSON.stringify({ got, proto: s.getProtocol(), authorized: s.authorized })); s.end(); } });
             s.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });`,
            { PORT: String(portOf(server)), CA: certs.ca.cert },
          );
          const out = yield* readUntilMatch(p, /\n/);
          expect(JSON.parse(out)).toEqual({ got: 'from node\n', proto: 'TLSv1.3', authorized: true });
          expect(yield* p.wait()).toBe(0);
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test("coio client against Node's tls.createServer and openssl s_server", () => {
    run(
      (function* () {
        const p = yield* nodeChild(
          `const tls = require('tls'), fs = require('fs');
           const srv = tls.createServer({ key: fs.readFileSync(process.env.KEY), cert: fs.readFileSync(process.env.CERT), ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
             s.on('data', (d) => s.write('node says ' + d));
             s.on('error', () => {});
           });
           srv.listen(0, '127.0.0.1', () => console.log('port ' + srv.address().port));`,
          { KEY: certs.server.key, CERT: certs.server.cert },
        );
        try {
          const port = Number(/port (\d+)/.exec(yield* readUntilMatch(p, /port \d+\n/))![1]);
          const cctx = clientContext();
          cctx.setAlpnProtocols(['http/1.1']);
          const [r, w] = yield* openConnection('127.0.0.1', port, { ssl: cctx, serverHostname: 'localhost' });
          expect(w.getExtraInfo('alpnProtocol')).toBe('http/1.1');
          w.write('hi\n');
          expect(String(yield* r.readLine())).toBe('node says hi\n');
          w.close();
          yield* w.waitClosed();
        } finally {
          yield* finish(p);
        }
        // openssl s_server, TLS 1.2 only.
        const s = yield* createSubprocessExec(
          'openssl',
          ['s_server', '-accept', '0', '-naccept', '1', '-cert', certs.server.cert, '-key', certs.server.key, '-tls1_2', '-rev'],
          { stdin: PIPE, stdout: PIPE, stderr: PIPE },
        );
        try {
          const banner = yield* readUntilMatch(s, /ACCEPT/);
          let port = Number(/ACCEPT\s+.*?:(\d+)/.exec(banner)?.[1] ?? NaN);
          if (Number.isNaN(port)) port = Number(/(\d+)\s*$/.exec(banner.trim())![1]);
          const [r, w] = yield* openConnection('127.0.0.1', port, { ssl: clientContext(), serverHostname: 'localhost' });
          expect(w.getExtraInfo('sslObject')!.version()).toBe('TLSv1.2');
          w.write('abc\n');
          // -rev answers each line reversed.
          const line = String(yield* r.readLine());
          expect(line.trim()).toBe('cba');
          w.close();
          yield* w.waitClosed();
        } finally {
          yield* finish(s);
        }
      })(),
    );
  });

  test('verification failures carry Node-style codes; the server logs and keeps serving', () => {
    const errors: ExceptionContext[] = [];
    ctx.loop.setExceptionHandler((_l, c) => void errors.push(c));
    run(
      (function* () {
        const cases: Array<[ReturnType<typeof serverContext>, string, string]> = [
          [serverContext(certs.server), 'wrong.host', 'ERR_TLS_CERT_ALTNAME_INVALID'],
          [serverContext(certs.selfSigned), 'localhost', 'DEPTH_ZERO_SELF_SIGNED_CERT'],
          [serverContext(certs.expired), 'localhost', 'CERT_HAS_EXPIRED'],
          [serverContext(certs.untrusted), 'localhost', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
          [serverContext(certs.untrustedChain), 'localhost', 'SELF_SIGNED_CERT_IN_CHAIN'],
        ];
        for (const [sctx, host, code] of cases) {
          const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: sctx });
          try {
            let err: unknown;
            try {
              yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: host });
            } catch (e) {
              err = e;
            }
            expect(err).toBeInstanceOf(SSLCertVerificationError);
            expect(err).toBeInstanceOf(SSLError);
            expect((err as SSLCertVerificationError).code).toBe(code);
            expect((err as SSLCertVerificationError).reason).toBe('CERTIFICATE_VERIFY_FAILED');
            expect((err as SSLCertVerificationError).library).toBe('SSL');
            expect((err as SSLCertVerificationError).verifyCode).toBeGreaterThan(0);
            expect((err as SSLCertVerificationError).verifyMessage.length).toBeGreaterThan(0);
            // The server goes on serving.
            const cctx = clientContext();
            cctx.checkHostname = false;
            cctx.verifyMode = CERT_NONE;
            const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: cctx });
            w.write('still here\n');
            expect(String(yield* r.readLine())).toBe('still here\n');
            w.close();
            yield* w.waitClosed();
          } finally {
            server.close();
            yield* server.waitClosed();
          }
        }
      })(),
    );
    // The server saw each failed handshake (the client's alert) and said so.
    expect(errors.length).toBeGreaterThanOrEqual(5);
    for (const e of errors) expect(e.message).toMatch(/SSL handshake failed/);
  });
});
