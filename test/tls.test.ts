// TLS (ssl.ts, sslproto.ts, native/tls.cc) against real peers: coio with
// itself, `openssl s_client` / `s_server` and Node's own tls in child
// processes (run by coio's subprocess support, so the loop under test drives
// them), on every backend. Certificates are made at test time (tls_certs.ts).
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  AlertDescription,
  CERT_NONE,
  CERT_OPTIONAL,
  CERT_REQUIRED,
  TLSVersion,
  createDefaultContext,
  PROTOCOL_TLS_CLIENT,
  PROTOCOL_TLS_SERVER,
  SSLCertVerificationError,
  SSLContext,
  SSLError,
  createSubprocessExec,
  ProtocolBase,
  openConnection,
  openUnixConnection,
  startServer,
  startUnixServer,
  PIPE,
  DEVNULL,
} from '../src/index.js';
import type { ExceptionContext, Transport } from '../src/index.js';
import { backends, runGuarded, tempDir, useLoop } from './helpers.js';
import type { Co } from './helpers.js';

import { certs, clientContext, echo, finish, nodeChild, portOf, readUntilMatch, serverContext } from './tls_helpers.js';

const dir = tempDir();

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

  test('readInto over TLS: 1 MiB both ways intact, the server and the client each reusing one buffer', () => {
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
    run(
      (function* () {
        const server = yield* startServer(
          function* (reader, writer) {
            let buf = Buffer.allocUnsafe(50 * 1024);
            for (;;) {
              const n = yield* reader.readInto(buf);
              if (n === 0) break;
              writer.write(buf.subarray(0, n));
              yield* writer.drain();
              if (writer.transport.getWriteBufferSize() > 0) buf = Buffer.allocUnsafe(buf.length);
            }
            writer.close();
          },
          '127.0.0.1',
          0,
          { ssl: serverContext() },
        );
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          w.write(data);
          const back = Buffer.alloc(data.length);
          const buf = Buffer.alloc(30 * 1024);
          let got = 0;
          while (got < data.length) {
            const n = yield* r.readInto(buf);
            expect(n).toBeGreaterThan(0);
            buf.copy(back, got, 0, n);
            got += n;
          }
          expect(back.equals(data)).toBe(true);
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

  test('ALPN: the server picks by its own preference; none in common means none', () => {
    run(
      (function* () {
        const sctx = serverContext();
        sctx.setAlpnProtocols(['h2', 'http/1.1']);
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: sctx });
        try {
          for (const [offer, want] of [
            [['http/1.1', 'h2'], 'h2'],
            [['http/1.1'], 'http/1.1'],
            [['spdy/1'], null],
          ] as Array<[string[], string | null]>) {
            const cctx = clientContext();
            cctx.setAlpnProtocols(offer);
            const [, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: cctx, serverHostname: 'localhost' });
            expect(w.getExtraInfo('alpnProtocol')).toBe(want);
            expect(w.getExtraInfo('sslObject')!.selectedAlpnProtocol()).toBe(want);
            w.close();
            yield* w.waitClosed();
          }
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('SNI: the callback chooses the certificate by the name the client asks for', () => {
    const seen: Array<string | null> = [];
    run(
      (function* () {
        const sctx = serverContext();
        const other = serverContext(certs.other);
        sctx.sniCallback = (obj, name) => {
          seen.push(name);
          if (name === 'other.test') obj.context = other;
        };
        let serverSideName: string | null = 'unset';
        const server = yield* startServer(
          function* (r, w) {
            serverSideName = w.getExtraInfo('sslObject')!.serverName();
            yield* echo(r, w);
          },
          '127.0.0.1',
          0,
          { ssl: sctx },
        );
        try {
          for (const host of ['other.test', 'localhost']) {
            const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: host });
            const cert = w.getExtraInfo('peercert') as { subject: unknown };
            expect(cert.subject).toEqual([[['commonName', host]]]);
            w.write('x\n');
            expect(String(yield* r.readLine())).toBe('x\n');
            expect(serverSideName).toBe(host);
            w.close();
            yield* w.waitClosed();
          }
          // No SNI (an IP address as the host name): the callback hears null, the default certificate answers.
          const [, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext() });
          expect((w.getExtraInfo('peercert') as { subject: unknown }).subject).toEqual([[['commonName', 'localhost']]]);
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
    expect(seen).toEqual(['other.test', 'localhost', null]);
  });

  test('SNI: a callback that returns an alert refuses the handshake, and the client hears that alert', () => {
    const errors: ExceptionContext[] = [];
    ctx.loop.setExceptionHandler((_l, c) => void errors.push(c));
    run(
      (function* () {
        const sctx = serverContext();
        sctx.sniCallback = (_obj, name) => (name === 'localhost' ? undefined : AlertDescription.ALERT_DESCRIPTION_UNRECOGNIZED_NAME);
        let served = 0;
        const server = yield* startServer(
          function* (r, w) {
            served++;
            yield* echo(r, w);
          },
          '127.0.0.1',
          0,
          { ssl: sctx },
        );
        try {
          // A coio client: the handshake fails with the alert's name.
          const refused: unknown = yield* (function* () {
            try {
              yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'nobody.test' });
              return null;
            } catch (err) {
              return err;
            }
          })();
          expect(refused).toBeInstanceOf(SSLError);
          expect(String((refused as Error).message)).toMatch(/unrecognized name/i);
          // Node's tls in a child: the same alert, by Node's code for it.
          const p = yield* nodeChild(
            `const tls = require('tls'), fs = require('fs');
             const s = tls.connect({ port: +process.env.PORT, host: '127.0.0.1', servername: 'nobody.test', ca: fs.readFileSync(process.env.CA) }, () => { console.log('connected'); s.end(); });
             s.on('error', (e) => { console.log('error ' + e.code); });`,
            { PORT: String(portOf(server)), CA: certs.ca.cert },
          );
          expect(yield* readUntilMatch(p, /\n/)).toBe('error ERR_SSL_TLSV1_UNRECOGNIZED_NAME\n');
          expect(yield* p.wait()).toBe(0);
          // The name it accepts still works on the same server.
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
          w.write('ok\n');
          expect(String(yield* r.readLine())).toBe('ok\n');
          w.close();
          yield* w.waitClosed();
          expect(served).toBe(1);
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
    // The server reports each refused handshake, naming the alert it sent.
    const refusals = errors.filter((e) => /UNRECOGNIZED_NAME/.test(String((e.exception as Error | undefined)?.message)));
    expect(refusals.length).toBe(2);
  });

  test('SNI: a callback that returns something that is not an alert fails that handshake with a RangeError', () => {
    const errors: ExceptionContext[] = [];
    ctx.loop.setExceptionHandler((_l, c) => void errors.push(c));
    run(
      (function* () {
        const sctx = serverContext();
        sctx.sniCallback = () => 4096;
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: sctx });
        try {
          const failed: unknown = yield* (function* () {
            try {
              yield* openConnection('127.0.0.1', portOf(server), { ssl: clientContext(), serverHostname: 'localhost' });
              return null;
            } catch (err) {
              return err;
            }
          })();
          expect(failed).toBeInstanceOf(Error);
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
    expect(errors.some((e) => e.exception instanceof RangeError && /4096/.test((e.exception as Error).message))).toBe(true);
  });

  test('mutual TLS: a client certificate is required, checked, and refused when missing or untrusted', () => {
    const errors: ExceptionContext[] = [];
    ctx.loop.setExceptionHandler((_l, c) => void errors.push(c));
    run(
      (function* () {
        const sctx = serverContext();
        sctx.verifyMode = CERT_REQUIRED;
        sctx.loadVerifyLocations({ cafile: certs.ca.cert });
        let clientSubject: unknown;
        const server = yield* startServer(
          function* (r, w) {
            clientSubject = (w.getExtraInfo('peercert') as { subject: unknown }).subject;
            yield* echo(r, w);
          },
          '127.0.0.1',
          0,
          { ssl: sctx },
        );
        try {
          const good = clientContext();
          good.loadCertChain(certs.client.cert, certs.client.key);
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: good, serverHostname: 'localhost' });
          w.write('authenticated\n');
          expect(String(yield* r.readLine())).toBe('authenticated\n');
          expect(clientSubject).toEqual([[['commonName', 'coio client']]]);
          w.close();
          yield* w.waitClosed();

          // TLS 1.3: the client finishes its handshake first and hears the refusal on its first read.
          for (const pair of [null, certs.badClient]) {
            const cctx = clientContext();
            if (pair !== null) cctx.loadCertChain(pair.cert, pair.key);
            let err: unknown;
            try {
              const [r2, w2] = yield* openConnection('127.0.0.1', portOf(server), { ssl: cctx, serverHostname: 'localhost' });
              w2.write('let me in\n');
              yield* r2.read(100);
            } catch (e) {
              err = e;
            }
            expect(err).toBeInstanceOf(SSLError);
            expect((err as SSLError).code).toBe(pair === null ? 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' : 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
          }
          // TLS 1.2: the refusal ends the client's handshake.
          const old = clientContext();
          old.maximumVersion = TLSVersion.TLSv1_2;
          let err: unknown;
          try {
            yield* openConnection('127.0.0.1', portOf(server), { ssl: old, serverHostname: 'localhost' });
          } catch (e) {
            err = e;
          }
          expect((err as SSLError).code).toBe('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
    const codes = errors.map((e) => (e.exception as SSLError).code);
    expect(codes).toEqual(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE']);
    expect(errors[1]!.message).toBe('SSL handshake failed on verifying the certificate');
  });

  test("ssl: Node's tls options as a plain object, on both sides, and ssl: true", () => {
    ctx.loop.setExceptionHandler(() => {}); // the server's side of the refused ssl: true handshake
    run(
      (function* () {
        const server = yield* startServer(echo, '127.0.0.1', 0, { ssl: { key: certs.server.keyPem, cert: Buffer.from(certs.server.certPem), ALPNProtocols: ['http/1.1'] } });
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(server), { ssl: { ca: certs.ca.certPem, servername: 'localhost', ALPNProtocols: ['http/1.1'] } });
          expect(w.getExtraInfo('alpnProtocol')).toBe('http/1.1');
          w.write('node options\n');
          expect(String(yield* r.readLine())).toBe('node options\n');
          w.close();
          yield* w.waitClosed();
          // rejectUnauthorized: false skips verification.
          const [, w2] = yield* openConnection('127.0.0.1', portOf(server), { ssl: { rejectUnauthorized: false }, serverHostname: 'whatever' });
          expect(w2.getExtraInfo('peercert')).toEqual({});
          expect(w2.getExtraInfo('sslObject')!.getpeercert(true)).toBeInstanceOf(Buffer);
          w2.close();
          yield* w2.waitClosed();
          // ssl: true is createDefaultContext(): Node's roots do not include our test CA.
          let err: unknown;
          try {
            yield* openConnection('127.0.0.1', portOf(server), { ssl: true, serverHostname: 'localhost' });
          } catch (e) {
            err = e;
          }
          expect((err as SSLCertVerificationError).code).toBe('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });

  test('TLS over Unix sockets, and a protocol-level server with borrowed data', () => {
    run(
      (function* () {
        const path = join(dir, `tls-${backend}.sock`);
        const server = yield* startUnixServer(echo, path, { ssl: serverContext() });
        try {
          const [r, w] = yield* openUnixConnection(path, { ssl: clientContext(), serverHostname: 'localhost' });
          w.write('over unix\n');
          expect(String(yield* r.readLine())).toBe('over unix\n');
          w.close();
          yield* w.waitClosed();
        } finally {
          server.close();
          yield* server.waitClosed();
        }
        class Echo extends ProtocolBase {
          readonly borrowsData = true;
          t: Transport | null = null;
          override connectionMade(t: Transport): void {
            this.t = t;
          }
          override dataReceived(d: Buffer): void {
            this.t!.write(d);
          }
        }
        const proto = yield* ctx.loop.createServer(() => new Echo(), '127.0.0.1', 0, { ssl: serverContext() });
        try {
          const [r, w] = yield* openConnection('127.0.0.1', portOf(proto), { ssl: clientContext(), serverHostname: 'localhost' });
          w.write('borrowed\n');
          expect(String(yield* r.readLine())).toBe('borrowed\n');
          w.close();
          yield* w.waitClosed();
        } finally {
          proto.close();
          yield* proto.waitClosed();
        }
      })(),
    );
  });

  test('curl --cacert fetches from a coio HTTPS server (HTTP/1.1 over ALPN)', () => {
    run(
      (function* () {
        const sctx = serverContext();
        sctx.setAlpnProtocols(['http/1.1']);
        const server = yield* startServer(
          function* (r, w) {
            yield* r.readUntil('\r\n\r\n');
            const body = `hello ${w.getExtraInfo('sslObject')!.version()} ${w.getExtraInfo('alpnProtocol')}\n`;
            w.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
            w.close();
          },
          '127.0.0.1',
          0,
          { ssl: sctx },
        );
        try {
          const port = portOf(server);
          const p = yield* createSubprocessExec('curl', ['-sS', '--cacert', certs.ca.cert, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/`], {
            stdout: PIPE,
            stderr: DEVNULL,
          });
          const [out] = yield* p.communicate();
          expect(String(out)).toBe('hello TLSv1.3 http/1.1\n');
          expect(p.returncode).toBe(0);
        } finally {
          server.close();
          yield* server.waitClosed();
        }
      })(),
    );
  });
});

describe('SSLContext', () => {
  test('client defaults verify; server defaults do not; verifyMode and checkHostname go together', () => {
    const c = new SSLContext(PROTOCOL_TLS_CLIENT);
    expect([c.verifyMode, c.checkHostname, c.protocol]).toEqual([CERT_REQUIRED, true, PROTOCOL_TLS_CLIENT]);
    expect(() => (c.verifyMode = CERT_NONE)).toThrow(RangeError);
    c.checkHostname = false;
    c.verifyMode = CERT_NONE;
    c.checkHostname = true;
    expect(c.verifyMode).toBe(CERT_REQUIRED);
    const s = new SSLContext(PROTOCOL_TLS_SERVER);
    expect([s.verifyMode, s.checkHostname]).toEqual([CERT_NONE, false]);
    s.verifyMode = CERT_OPTIONAL;
    expect(s.verifyMode).toBe(CERT_OPTIONAL);
    expect(() => new SSLContext(3)).toThrow(RangeError);
    expect(() => (c.sniCallback = () => {})).toThrow(RangeError);
  });

  test('versions, ALPN and cipher settings are checked', () => {
    const c = new SSLContext(PROTOCOL_TLS_CLIENT);
    expect(c.minimumVersion).toBe(TLSVersion.TLSv1_2);
    expect(c.maximumVersion).toBe(TLSVersion.MAXIMUM_SUPPORTED);
    c.minimumVersion = 'TLSv1.3';
    expect(c.minimumVersion).toBe(TLSVersion.TLSv1_3);
    expect(() => (c.maximumVersion = 'SSLv3' as never)).toThrow(TypeError);
    expect(() => c.setAlpnProtocols([''])).toThrow(RangeError);
    expect(() => c.setAlpnProtocols(['x'.repeat(256)])).toThrow(RangeError);
    expect(() => c.setCiphers('NOT-A-CIPHER')).toThrow(SSLError);
    c.setCiphers('ECDHE+AESGCM');
    expect(c.getCiphers().some((x) => x.name.includes('GCM'))).toBe(true);
  });

  test('certificates: bad PEM, a mismatched key, encrypted keys, CA data', () => {
    const s = new SSLContext(PROTOCOL_TLS_SERVER);
    let err: unknown;
    try {
      s._loadCertChainData('not a certificate', certs.server.keyPem);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SSLError);
    expect((err as SSLError).library).toBe('PEM');
    expect(() => s.loadCertChain(certs.server.cert, certs.other.key)).toThrow(SSLError);
    expect(() => s.loadCertChain(certs.server.cert, certs.encryptedKey, 'wrong')).toThrow(SSLError);
    expect(() => s.loadCertChain(certs.server.cert, certs.encryptedKey)).toThrow(SSLError);
    s.loadCertChain(certs.server.cert, certs.encryptedKey, () => 'secret');
    expect(() => s.loadCertChain('/nonexistent.pem')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => s.loadVerifyLocations({})).toThrow(TypeError);
    expect(() => s.loadVerifyLocations({ cadata: 'garbage' })).toThrow(SSLError);
    s.loadVerifyLocations({ cadata: certs.ca.certPem });
    expect(s.certStoreStats().x509).toBe(1);
    const def = createDefaultContext();
    expect(def.certStoreStats().x509).toBeGreaterThan(100);
    expect(def.checkHostname).toBe(true);
  });
});
