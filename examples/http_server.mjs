// An HTTP/1.1 server on coio, at the protocol level (the fast path: the
// protocol parses straight from the loop's read buffer and answers every
// request a read completed with one write).
//
//   node examples/http_server.mjs [port] [host]    serve (default 8080; 0 picks a free port); prints
//                                                  "listening on http://HOST:PORT"
//   node examples/http_server.mjs demo             serve on a free port, make a few requests with a coio
//                                                  streams client, print them, exit
//   node examples/http_server.mjs [port] [host] --files DIR
//                                                  also serve the files of DIR: GET /file/NAME
//   node examples/http_server.mjs [port] [host] --tls [--cert CERT.pem --key KEY.pem]
//                                                  HTTPS: "listening on https://HOST:PORT". Without
//                                                  --cert/--key it makes a throwaway self-signed
//                                                  certificate for localhost / 127.0.0.1 / ::1 (with the
//                                                  openssl command, in a temp dir it prints and removes
//                                                  on exit): curl --cacert DIR/cert.pem https://127.0.0.1:PORT/
//
//   curl http://127.0.0.1:8080/                    Hello, World!
//   curl -d 'some body' http://127.0.0.1:8080/echo the body back
//   curl http://127.0.0.1:8080/bytes/1000          1000 bytes
//   curl http://127.0.0.1:8080/file/NAME           DIR/NAME (with --files DIR), by loop.sendfile:
//                                                  sendfile(2) over plain TCP, the file read and
//                                                  written through TLS; /file/NAME?copy reads it
//                                                  into Buffers and writes them (the comparison)
//   wrk -t1 -c10 -d3s http://127.0.0.1:8080/
//
// HTTP: keep-alive (the HTTP/1.1 default; `Connection: close` honoured;
// HTTP/1.0 closes unless it asks for keep-alive), Content-Length request
// bodies, pipelined requests answered in order, `Expect: 100-continue`,
// HEAD, 400 (or 413 / 431 / 501 / 505) on malformed requests, then close.
// Every response has a Content-Length. The parser is examples/http_parser.mjs.
// Bounded per connection whatever the client does: a client that pipelines
// requests without reading the responses stops being parsed (and read) while
// the write buffer is over its high-water mark, and large bodies are sent
// from the shared buffer, not copied; a connection silent for IDLE_TIMEOUT
// seconds (nothing received, nothing sent) is closed, or aborted if its
// client stopped reading.
//
// Stopping: Ctrl-C or SIGTERM shut it down cleanly (stop listening, close
// the connections once their pending responses are sent, abort those still
// open after SHUTDOWN_TIMEOUT seconds: a client that does not read must not
// hold the shutdown for ever; exit 0); the server runs in guest mode
// (runGuest), so the handlers are Node's own process.once() listeners
// (untilSignal in _common.mjs). A second Ctrl-C ends a hung shutdown.
//
// Files: a response may carry `file: { fd, size }` instead of a body (see
// fileHandler): the head is written, then loop.sendfile sends the file (in
// pieces of FILE_PIECE bytes, so the idle check sees progress), or, for
// `?copy`, the protocol reads it into Buffers and writes them as the write
// buffer drains; requests pipelined behind it wait until it is sent.
//
// Reuse: `new HttpProtocol(handler)` serves any handler(req) -> response
// ({ status, body | file, contentType?, headers? }); examples/reuseport_workers.mjs
// imports it. A constant response (Object.freeze'd, with a string body)
// is serialized once a second and its bytes reused, as HELLO's are.
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CancelledError, PROTOCOL_TLS_SERVER, SSLContext, getRunningLoop, openConnection, runGuest } from 'coio';
import { untilSignal } from './_common.mjs';
import { RequestParser } from './http_parser.mjs';

const STATUS_TEXT = {
  100: 'Continue',
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');
const EMPTY = Buffer.alloc(0);
/** Responses up to this size go out as one Buffer (head and body concatenated). */
const COALESCE_LIMIT = 64 * 1024;
const MAX_BYTES = 64 * 1024 * 1024;
/** Seconds a shutdown waits for pending responses before it aborts their connections. */
const SHUTDOWN_TIMEOUT = 5;
/** Seconds of silence (nothing received, nothing sent) after which a connection is closed. */
export const IDLE_TIMEOUT = 30;
/** A file goes out in loop.sendfile calls of at most this many bytes: each one counts as progress for the idle check. */
const FILE_PIECE = 4 * 1024 * 1024;
/** ?copy reads the file in chunks of this size. */
const COPY_CHUNK = 256 * 1024;

// The Date header, formatted once per second.
let dateSecond = -1;
let dateValue = '';
function httpDate() {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

// ---- routes ------------------------------------------------------------

// Frozen: a response that cannot change is serialized once a second, not per request (see serialize).
const HELLO = Object.freeze({ status: 200, body: 'Hello, World!\n' });
let byteSource = Buffer.alloc(0);

/** The example's routes: `/`, `/echo` (POST), `/bytes/N`. */
export function defaultHandler(req) {
  const path = req.path;
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (path === '/') return get ? HELLO : notAllowed('GET, HEAD');
  if (path === '/echo') {
    if (req.method !== 'POST') return notAllowed('POST');
    return { status: 200, body: req.body, contentType: req.get('content-type') ?? 'application/octet-stream' };
  }
  if (path.startsWith('/bytes/')) {
    if (!get) return notAllowed('GET, HEAD');
    const arg = path.slice(7);
    const n = /^\d{1,9}$/.test(arg) ? Number(arg) : -1;
    if (n < 0 || n > MAX_BYTES) return { status: 400, body: `N must be an integer in 0..${MAX_BYTES}\n` };
    if (byteSource.length < n) byteSource = Buffer.alloc(Math.max(n, 2 * byteSource.length), 'abcdefghijklmnopqrstuvwxyz');
    return { status: 200, body: byteSource.subarray(0, n), contentType: 'application/octet-stream' };
  }
  return { status: 404, body: 'Not Found\n' };
}

/**
 * A handler serving the files of `dir` at GET /file/NAME (NAME: letters,
 * digits, '.', '_', '-'; no path), the rest by `next`. The response carries
 * the open file (`file: { fd, size }`): the protocol sends it and closes it.
 * `/file/NAME?copy` asks for the read-and-write path instead of sendfile.
 */
export function fileHandler(dir, next = defaultHandler) {
  return (req) => {
    if (!req.path.startsWith('/file/')) return next(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed('GET, HEAD');
    const name = req.path.slice(6);
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) return { status: 404, body: 'Not Found\n' };
    let fd;
    try {
      fd = openSync(join(dir, name), 'r');
    } catch {
      return { status: 404, body: 'Not Found\n' };
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return { status: 404, body: 'Not Found\n' };
    }
    return { status: 200, file: { fd, size: st.size }, copy: req.target.endsWith('?copy'), contentType: 'application/octet-stream' };
  };
}

function notAllowed(allow) {
  return { status: 405, body: 'Method Not Allowed\n', headers: { Allow: allow } };
}

// ---- the protocol ------------------------------------------------------

/**
 * Serialize a response: a Buffer (or [head, body] for big bodies, so the body
 * is not copied). HEAD requests get the headers only.
 *
 * A response that cannot change (a frozen object with a string body and
 * frozen or no headers, as HELLO) is serialized once per second (the Date
 * header changes) and its bytes are reused: a constant route costs no string
 * building, encoding or allocation per request.
 */
function serialize(res, keepAlive, isHead) {
  if (!isHead && Object.isFrozen(res) && typeof res.body === 'string' && (res.headers === undefined || Object.isFrozen(res.headers))) {
    const date = httpDate();
    let bytes = rendered.get(res);
    if (bytes === undefined || bytes.date !== date) rendered.set(res, (bytes = { date, keepAlive: null, close: null }));
    return keepAlive ? (bytes.keepAlive ??= render(res, true, false)) : (bytes.close ??= render(res, false, false));
  }
  return render(res, keepAlive, isHead);
}

/** Frozen response -> its bytes for the current Date: { date, keepAlive, close }. */
const rendered = new WeakMap();

function render(res, keepAlive, isHead) {
  const status = res.status;
  const body = res.file !== undefined ? EMPTY : typeof res.body === 'string' ? Buffer.from(res.body) : (res.body ?? Buffer.alloc(0));
  let head =
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n` +
    `Date: ${httpDate()}\r\n` +
    `Content-Type: ${res.contentType ?? 'text/plain; charset=utf-8'}\r\n` +
    `Content-Length: ${res.file !== undefined ? res.file.size : body.length}\r\n`;
  if (res.headers !== undefined) for (const [k, v] of Object.entries(res.headers)) head += `${k}: ${v}\r\n`;
  head += keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n';
  if (isHead || body.length === 0) return Buffer.from(head, 'latin1');
  if (body.length + head.length <= COALESCE_LIMIT) {
    const out = Buffer.allocUnsafe(head.length + body.length);
    out.latin1Write(head, 0);
    body.copy(out, head.length);
    return out;
  }
  return [Buffer.from(head, 'latin1'), body];
}

export class HttpProtocol {
  // dataReceived gets a view of the loop's read buffer: the parser copies
  // only what it keeps (bodies, a partial head, requests not parsed yet).
  borrowsData = true;

  /**
   * @param {(req: import('./http_parser.mjs').HttpRequest) => object} [handler]
   * @param {{ idleTimeout?: number }} [options] idleTimeout: seconds (0 or Infinity: none)
   */
  constructor(handler = defaultHandler, { idleTimeout = IDLE_TIMEOUT } = {}) {
    this.handler = handler;
    this.transport = null;
    this.parser = new RequestParser();
    this.done = false; // a response said Connection: close
    this.writingPaused = false;
    this.idleTimeout = idleTimeout;
    this.idleTimer = null;
    this.active = false; // something arrived since the last idle check
    this.lastBuffered = 0; // the write buffer's size at the last idle check
    this.file = null; // the file being sent: { fd, size, pos, keepAlive, copy }
  }

  connectionMade(transport) {
    this.transport = transport;
    if (this.idleTimeout > 0 && this.idleTimeout !== Infinity) {
      this.idleTimer = getRunningLoop().callLater(this.idleTimeout, idleCheck, this);
    }
  }

  dataReceived(data) {
    this.active = true;
    if (!this.done) this.answer(data);
  }

  /**
   * Parse and answer the requests in `data` (and those the parser kept), in
   * order, coalescing responses into few writes. Stops parsing as soon as
   * the transport pauses writing (its buffer went over the high-water mark:
   * the client does not read as fast as it asks): the parser keeps the rest,
   * unparsed, and resumeWriting goes on from there. So a client that
   * pipelines requests without reading the responses gets at most one
   * response beyond the write buffer's limits, not one per request.
   */
  answer(data) {
    const parser = this.parser;
    let out = [];
    let size = 0;
    for (let input = data; !this.writingPaused && this.file === null; input = EMPTY) {
      const [req] = parser.feed(input, 1);
      if (req === undefined) break;
      let res;
      try {
        res = this.handler(req);
      } catch (err) {
        console.error('handler failed:', err);
        res = { status: 500, body: 'Internal Server Error\n' };
        req.keepAlive = false;
      }
      const isHead = req.method === 'HEAD';
      const bytes = serialize(res, req.keepAlive, isHead);
      if (res.file !== undefined) {
        if (isHead) {
          closeSync(res.file.fd);
        } else {
          // The head goes out with what came before it, then the file.
          out.push(bytes);
          this.flush(out, size + bytes.length);
          out = [];
          size = 0;
          this.sendFile(res.file, res.copy === true, req.keepAlive);
          break;
        }
      }
      if (Array.isArray(bytes)) {
        out.push(...bytes);
        size += bytes[0].length + bytes[1].length;
      } else {
        out.push(bytes);
        size += bytes.length;
      }
      if (!req.keepAlive) {
        this.done = true;
        break;
      }
      if (size >= COALESCE_LIMIT) {
        this.flush(out, size); // may pause writing, which ends the loop
        out = [];
        size = 0;
      }
    }
    if (this.file !== null) return; // fileSent() goes on from here
    if (!this.done && !this.writingPaused && parser.error !== null) {
      const { status, message } = parser.error;
      const bytes = serialize({ status, body: `${status} ${STATUS_TEXT[status] ?? 'Error'}: ${message}\n` }, false, false);
      out.push(bytes);
      size += bytes.length;
      this.done = true;
    }
    if (!this.done && !this.writingPaused && parser.takeContinue()) {
      out.push(CONTINUE);
      size += CONTINUE.length;
    }
    this.flush(out, size);
    if (this.done) this.transport.close(); // after the buffered responses are sent
  }

  flush(out, size) {
    if (out.length === 1) this.transport.write(out[0]);
    else if (out.length > 1) {
      if (size <= COALESCE_LIMIT) this.transport.write(Buffer.concat(out, size));
      else this.transport.writelines(out);
    }
  }

  /** Send an open file after its head: by loop.sendfile, or (copy) read and written as the write buffer drains. */
  sendFile(file, copy, keepAlive) {
    this.file = { ...file, pos: 0, keepAlive, copy };
    // Requests behind this one stay in the kernel until the file is out.
    this.transport.pauseReading();
    if (copy) this.pumpFile();
    else getRunningLoop().createTask(sendFileTask(this, this.file));
  }

  /** ?copy: read and write chunks until the transport pauses writing; resumeWriting goes on. */
  pumpFile() {
    const f = this.file;
    let buf = null;
    while (!this.writingPaused && f.pos < f.size && this.transport !== null) {
      buf ??= Buffer.allocUnsafe(COPY_CHUNK);
      const n = readSync(f.fd, buf, 0, Math.min(COPY_CHUNK, f.size - f.pos), f.pos);
      if (n === 0) return this.fileFailed(); // the file shrank: the response cannot be completed
      this.transport.write(n === buf.length ? buf : buf.subarray(0, n));
      // A write the kernel did not take whole is kept by reference: the next chunk needs a new buffer.
      if (this.transport.getWriteBufferSize() !== 0) buf = null;
      f.pos += n;
      this.active = true;
    }
    if (f.pos >= f.size) this.fileSent();
  }

  /** The file is out: close it, then answer the requests pipelined behind it. */
  fileSent() {
    const f = this.file;
    this.file = null;
    closeSync(f.fd);
    if (this.transport === null) return;
    if (!f.keepAlive) {
      this.done = true;
      this.transport.close();
    } else if (!this.writingPaused) {
      this.answer(EMPTY);
      if (!this.writingPaused && !this.done && !this.transport.isClosing()) this.transport.resumeReading();
    }
  }

  /** The file could not be sent whole: the response is cut, so the connection must end. */
  fileFailed() {
    const f = this.file;
    this.file = null;
    closeSync(f.fd);
    this.done = true;
    this.transport?.abort();
  }

  eofReceived() {
    // The client closed its side: finish what we owe, then close (returning
    // nothing closes the transport once its buffer is flushed).
  }

  // Back-pressure: a client that pipelines requests but doesn't read the
  // responses makes us stop parsing and reading until our write buffer
  // drains below its low-water mark.
  pauseWriting() {
    this.writingPaused = true;
    this.transport.pauseReading();
  }

  resumeWriting() {
    this.writingPaused = false;
    if (this.file !== null) {
      if (this.file.copy) this.pumpFile();
      if (this.file !== null) return; // still sending: the requests behind it wait
    }
    if (!this.done) this.answer(EMPTY); // the requests the parser kept
    if (!this.writingPaused && this.transport !== null && !this.transport.isClosing()) this.transport.resumeReading();
  }

  connectionLost() {
    this.transport = null;
    this.idleTimer?.cancel();
    this.idleTimer = null;
    // A file being copied is closed here; sendFileTask closes its own when its sendfile fails.
    if (this.file !== null && this.file.copy) {
      closeSync(this.file.fd);
      this.file = null;
    }
  }
}

/**
 * Send p's file with loop.sendfile, in pieces (each counts as activity for
 * the idle check), then go on with the connection.
 */
function* sendFileTask(p, f) {
  const loop = getRunningLoop();
  try {
    while (f.pos < f.size) {
      const n = yield* loop.sendfile(p.transport, f.fd, f.pos, Math.min(FILE_PIECE, f.size - f.pos));
      if (n === 0) break; // the file shrank
      f.pos += n;
      p.active = true;
    }
  } catch (err) {
    if (err instanceof CancelledError) {
      // The loop is ending: the file is ours to close, the cancellation goes on.
      if (p.file === f) p.file = null;
      closeSync(f.fd);
      throw err;
    }
    // The client went away (or the transport was closed under us): the connection is over.
  }
  if (p.transport === null || p.file !== f) {
    closeSync(f.fd);
    return;
  }
  if (f.pos < f.size) p.fileFailed();
  else p.fileSent();
}

/**
 * The idle timeout, checked every idleTimeout seconds: a connection on which
 * nothing arrived and nothing was sent for a whole period is closed (so an
 * idle one goes after one to two periods). If responses are still buffered,
 * the client is not reading them: it is aborted, since closing would wait
 * for them for ever.
 */
function idleCheck(p) {
  const t = p.transport;
  p.idleTimer = null;
  if (t === null) return;
  if (p.file !== null && !p.active) return void t.abort(); // a file that stopped moving: the client does not read
  const buffered = t.getWriteBufferSize();
  if (p.active || (buffered > 0 && buffered !== p.lastBuffered)) {
    p.active = false;
    p.lastBuffered = buffered;
    p.idleTimer = getRunningLoop().callLater(p.idleTimeout, idleCheck, p);
  } else if (buffered > 0) {
    t.abort();
  } else {
    t.close();
  }
}

/**
 * Listen on host:port with `handler` (HTTPS when given an `ssl` SSLContext);
 * returns the Server. idleTimeout: see HttpProtocol.
 */
export function* startHttpServer(host, port, { handler, files, reusePort = false, backlog = 1024, ssl, idleTimeout = IDLE_TIMEOUT } = {}) {
  handler ??= files === undefined ? defaultHandler : fileHandler(files);
  const options = ssl === undefined ? { reusePort, backlog } : { reusePort, backlog, ssl };
  return yield* getRunningLoop().createServer(() => new HttpProtocol(handler, { idleTimeout }), host, port, options);
}

/**
 * Stop listening; close every connection once its pending responses are
 * sent; abort those still open after `timeout` seconds (a client that does
 * not read would otherwise hold the shutdown forever).
 */
export function* stopHttpServer(server, timeout = SHUTDOWN_TIMEOUT) {
  yield* server.shutdown(timeout);
}

// ---- demo: a tiny client on coio streams -------------------------------

/** Read one response: [status line, headers, body]. */
function* readResponse(reader) {
  const head = (yield* reader.readUntil('\r\n\r\n')).toString('latin1');
  const [statusLine, ...lines] = head.slice(0, -4).split('\r\n');
  const length = Number(/^content-length:\s*(\d+)/im.exec(lines.join('\n'))?.[1] ?? 0);
  const body = yield* reader.readExactly(length);
  return [statusLine, lines, body.toString()];
}

function* demo() {
  // The files route serves this directory: the examples themselves.
  const server = yield* startHttpServer('127.0.0.1', 0, { files: dirname(fileURLToPath(import.meta.url)) });
  const { port } = server.sockets[0].getsockname();
  console.log(`listening on http://127.0.0.1:${port}`);
  const [reader, writer] = yield* openConnection('127.0.0.1', port);
  const host = `Host: 127.0.0.1:${port}\r\n`;
  const show = ([status, , body]) => `${status} | ${JSON.stringify(body.length > 40 ? body.slice(0, 26) + `... (${body.length} bytes)` : body)}`;

  console.log('> GET / (keep-alive, twice on one connection)');
  for (let i = 0; i < 2; i++) {
    writer.write(`GET / HTTP/1.1\r\n${host}\r\n`);
    console.log('<', show(yield* readResponse(reader)));
  }
  console.log('> 3 pipelined requests in one write');
  writer.write(`GET /bytes/5 HTTP/1.1\r\n${host}\r\nPOST /echo HTTP/1.1\r\n${host}Content-Length: 11\r\n\r\nhello, echoGET /bytes/100 HTTP/1.1\r\n${host}\r\n`);
  for (let i = 0; i < 3; i++) console.log('<', show(yield* readResponse(reader)));
  console.log('> a file by loop.sendfile, then the same file read and written (?copy), pipelined');
  writer.write(`GET /file/http_parser.mjs HTTP/1.1\r\n${host}\r\nGET /file/http_parser.mjs?copy HTTP/1.1\r\n${host}\r\n`);
  const [a, b] = [yield* readResponse(reader), yield* readResponse(reader)];
  console.log('<', show(a));
  console.log('<', show(b), a[2] === b[2] ? '(the same bytes)' : '(DIFFERENT bytes)');
  console.log('> a malformed request');
  writer.write('GET /\r\n\r\n');
  console.log('<', show(yield* readResponse(reader)));
  const rest = yield* reader.read(); // the server closes after a 400
  console.log(`connection closed by the server (${rest.length} more bytes)`);
  writer.close();
  yield* writer.waitClosed();
  yield* stopHttpServer(server);
  console.log('demo done');
}

function* serve(port, host, ssl, files) {
  const server = yield* startHttpServer(host, port, { ssl, files });
  const { port: actual } = server.sockets[0].getsockname();
  console.log(`listening on ${ssl ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actual}`);
  const sig = yield* untilSignal(); // the server accepts connections meanwhile
  console.log(`${sig}: shutting down`);
  yield* stopHttpServer(server);
}

function isMain() {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

/** A self-signed certificate for localhost, 127.0.0.1 and ::1, made by the openssl command. */
function throwawayCert() {
  const dir = mkdtempSync(join(tmpdir(), 'coio-https-'));
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not make a certificate with the openssl command (${err.code ?? err.message}): pass --cert and --key`);
  }
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  console.log(`no --cert/--key: made a throwaway self-signed certificate, ${cert} (removed on exit)`);
  return { cert, key };
}

if (isMain()) {
  const usage = 'usage: node examples/http_server.mjs [port [host] [--files DIR] [--tls [--cert CERT.pem --key KEY.pem]] | demo]';
  const positional = [];
  const flags = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tls') flags.tls = true;
    else if ((argv[i] === '--cert' || argv[i] === '--key' || argv[i] === '--files') && i + 1 < argv.length) flags[argv[i].slice(2)] = argv[++i];
    else positional.push(argv[i]);
  }
  const [arg, hostArg] = positional;
  if (arg === 'demo' && !flags.tls) await runGuest(demo);
  else if ((arg === undefined || /^\d+$/.test(arg)) && positional.length <= 2 && !flags.cert === !flags.key && (flags.tls || !flags.cert)) {
    let ssl;
    if (flags.tls) {
      const { cert, key } = flags.cert ? flags : throwawayCert();
      ssl = new SSLContext(PROTOCOL_TLS_SERVER);
      ssl.loadCertChain(cert, key);
    }
    await runGuest(serve(Number(arg ?? 8080), hostArg ?? '127.0.0.1', ssl, flags.files));
  } else {
    console.error(usage);
    process.exit(2);
  }
}
