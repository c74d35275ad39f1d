// An incremental HTTP/1.x request parser: request line, headers, and
// Content-Length bodies, for servers that read from a socket in arbitrary
// chunks (examples/http_server.mjs uses it). No I/O, no dependencies.
//
//   import { RequestParser } from './http_parser.mjs';
//   const parser = new RequestParser();
//   for (const req of parser.feed(chunk)) answer(req);   // complete requests, in order
//   if (parser.error) reject(parser.error.status);         // malformed: answer the error, then close
//
// The contract (what a fuzz test may rely on):
// - feed(data) never throws for any bytes; it returns the requests completed
//   by this chunk, in order (possibly none). It keeps no reference to `data`
//   (a view of a reused read buffer is fine): what it keeps is copied.
//   feed(data, n) returns at most n of them and keeps the rest for later
//   feeds (feed(EMPTY, n) goes on with what it kept).
// - Splitting the same bytes into chunks differently yields the same requests
//   and the same error (the limits apply to the same sizes either way).
// - On malformed input `parser.error` becomes an HttpParseError with the
//   status to answer (400, 413, 417, 431, 501, 505); the requests before the
//   error are still returned, and every later feed() returns [] (a
//   connection whose framing is lost must be closed, not resynchronised).
// - A request is complete when its head and all Content-Length bytes of its
//   body have arrived; `body` is always a Buffer (empty when there is none).
//
// Strictness, by design (RFC 9112): lines end in CRLF (a bare CR or LF is an
// error), empty lines before a request line are skipped, no whitespace
// between a header name and its colon, no obsolete line folding, header
// values without control characters, Content-Length digits only (repeated
// only with the same value), exactly one Host header in HTTP/1.1.
// Transfer-Encoding (chunked bodies) is not supported: 501.

export class HttpParseError extends Error {
  /** @param {string} message  @param {number} status  the HTTP status to answer with */
  constructor(message, status = 400) {
    super(message);
    this.name = 'HttpParseError';
    this.status = status;
  }
}

export const DEFAULT_LIMITS = Object.freeze({
  /** Request line + headers, in bytes, without the final CRLFCRLF: 431 past it. */
  maxHeadSize: 8 * 1024,
  /** Header lines: 431 past it. */
  maxHeaders: 100,
  /** Content-Length: 413 past it. */
  maxBodySize: 1024 * 1024,
});

export class HttpRequest {
  constructor(method, target, versionMinor, headers) {
    /** e.g. 'GET' (case-sensitive, as sent) */
    this.method = method;
    /** the request-target as sent: '/path?query', 'http://host/path', '*' */
    this.target = target;
    /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and later 1.x) */
    this.versionMinor = versionMinor;
    /** [name, value] pairs in order; names lower-cased, values trimmed */
    this.headers = headers;
    /** whether the connection stays open after the response (Connection header and version) */
    this.keepAlive = versionMinor >= 1;
    /** the Content-Length (0 when absent) */
    this.contentLength = 0;
    /** the client sent Expect: 100-continue */
    this.expectContinue = false;
    /** @type {Buffer} */
    this.body = EMPTY;
  }

  /** The first value of header `name` (any case), or undefined. */
  get(name) {
    const key = name.toLowerCase();
    for (const [k, v] of this.headers) if (k === key) return v;
    return undefined;
  }

  /** The target's path (no query, no scheme://authority of an absolute-form target). */
  get path() {
    let t = this.target;
    if (t.charCodeAt(0) !== 47 /* / */) {
      const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(t);
      if (m === null) return t; // '*' or authority-form
      t = t.slice(m[0].length) || '/';
    }
    const q = t.indexOf('?');
    return q === -1 ? t : t.slice(0, q);
  }
}

const EMPTY = Buffer.alloc(0);
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET_RE = /^[\x21-\x7e\x80-\xff]+$/;
const VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;
const VERSION_RE = /^HTTP\/(\d)\.(\d)$/;
const DIGITS_RE = /^\d+$/;

/**
 * Parse one request head: the request line and header lines, CRLF-separated,
 * without the final empty line (as a latin1 string: one char per byte).
 * Returns an HttpRequest with contentLength, keepAlive and expectContinue
 * set and an empty body. Throws HttpParseError.
 *
 * @param {string} head
 * @param {{maxHeaders?: number, maxBodySize?: number}} [limits]
 * @returns {HttpRequest}
 */
export function parseRequestHead(head, limits = DEFAULT_LIMITS) {
  const maxHeaders = limits.maxHeaders ?? DEFAULT_LIMITS.maxHeaders;
  const maxBodySize = limits.maxBodySize ?? DEFAULT_LIMITS.maxBodySize;
  let eol = head.indexOf('\r\n');
  const line = eol === -1 ? head : head.slice(0, eol);
  checkLine(line);
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp2 === -1 || line.indexOf(' ', sp2 + 1) !== -1) throw new HttpParseError('malformed request line');
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const versionText = line.slice(sp2 + 1);
  // HTTP/1.1, nearly every request, without the regular expression.
  const version = versionText === 'HTTP/1.1' ? null : VERSION_RE.exec(versionText);
  if (!TOKEN_RE.test(method)) throw new HttpParseError('invalid method');
  if (!TARGET_RE.test(target)) throw new HttpParseError('invalid request target');
  if (version !== null && version[1] !== '1') throw new HttpParseError('HTTP version not supported', 505);
  if (version === null && versionText !== 'HTTP/1.1') throw new HttpParseError('invalid HTTP version');

  const headers = [];
  const req = new HttpRequest(method, target, version === null ? 1 : Number(version[2]), headers);
  let contentLength = -1;
  let hosts = 0;
  let connClose = false;
  let connKeepAlive = false;
  let transferEncoding = false;
  while (eol !== -1) {
    const start = eol + 2;
    eol = head.indexOf('\r\n', start);
    const hline = eol === -1 ? head.slice(start) : head.slice(start, eol);
    checkLine(hline);
    if (headers.length >= maxHeaders) throw new HttpParseError('too many headers', 431);
    const colon = hline.indexOf(':');
    if (colon <= 0) throw new HttpParseError('malformed header line');
    const rawName = hline.slice(0, colon);
    // Also rejects obs-fold (a line starting with SP / HTAB) and "Name :".
    if (!TOKEN_RE.test(rawName)) throw new HttpParseError('invalid header name');
    const value = trimOws(hline, colon + 1);
    if (!VALUE_RE.test(value)) throw new HttpParseError('invalid header value');
    const name = rawName.toLowerCase();
    headers.push([name, value]);
    switch (name) {
      case 'content-length': {
        if (!DIGITS_RE.test(value)) throw new HttpParseError('invalid Content-Length');
        const n = value.length > 15 ? Infinity : Number(value);
        if (contentLength !== -1 && n !== contentLength) throw new HttpParseError('conflicting Content-Length headers');
        contentLength = n;
        break;
      }
      case 'transfer-encoding':
        transferEncoding = true;
        break;
      case 'host':
        hosts++;
        break;
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t === 'close') connClose = true;
          else if (t === 'keep-alive') connKeepAlive = true;
        }
        break;
      case 'expect':
        if (value.toLowerCase() !== '100-continue') throw new HttpParseError('unsupported expectation', 417);
        req.expectContinue = true;
        break;
    }
  }
  if (transferEncoding) throw new HttpParseError('Transfer-Encoding is not supported', 501);
  if (req.versionMinor >= 1 && hosts !== 1) throw new HttpParseError(hosts === 0 ? 'missing Host header' : 'several Host headers');
  if (contentLength > maxBodySize) throw new HttpParseError('request body too large', 413);
  req.contentLength = contentLength === -1 ? 0 : contentLength;
  req.keepAlive = !connClose && (req.versionMinor >= 1 || connKeepAlive);
  return req;
}

/**
 * Where the CRLFCRLF ending a head starts, at or after `from`, or -1. A
 * plain loop: heads are short (8 KiB at most, 40-odd bytes from a benchmark
 * client), and Buffer.indexOf's argument handling cost more than the search.
 */
function findHeadEnd(buf, from, len) {
  for (let i = from; i + 3 < len; i++) {
    if (buf[i + 3] === 10 && buf[i + 2] === 13 && buf[i + 1] === 10 && buf[i] === 13) return i;
  }
  return -1;
}

/** A CR or LF left inside a line is a bare one: not allowed. */
function checkLine(line) {
  if (line.indexOf('\r') !== -1 || line.indexOf('\n') !== -1) throw new HttpParseError('bare CR or LF in the request head');
}

function trimOws(s, from) {
  let a = from;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return s.slice(a, b);
}

/** Parses a stream of pipelined requests fed in arbitrary chunks. */
export class RequestParser {
  /** @param {{maxHeadSize?: number, maxHeaders?: number, maxBodySize?: number}} [limits] */
  constructor(limits = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    /** @type {HttpParseError | null} set once the input is malformed; the parser is dead then */
    this.error = null;
    /** @type {Buffer | null} bytes of an incomplete head (our own copy) */
    this.pending = null;
    /** @type {HttpRequest | null} a request whose body is still arriving */
    this.current = null;
    this.bodyGot = 0;
    this.continueDue = false;
  }

  /** Bytes held while waiting for the rest of a head or a body. */
  get bufferedBytes() {
    return (this.pending?.length ?? 0) + this.bodyGot;
  }

  /**
   * True once for each request that asked for `Expect: 100-continue` and
   * whose body has not fully arrived: the server should send
   * "HTTP/1.1 100 Continue\r\n\r\n" now (after its earlier responses).
   */
  takeContinue() {
    const due = this.continueDue;
    this.continueDue = false;
    return due;
  }

  /**
   * Feed the next bytes of the stream; returns the requests they complete.
   * With maxRequests, stops after that many: the rest is kept, unparsed,
   * and a later feed (of more bytes, or of none) goes on from there. A
   * server that must stop answering (its client does not read) stops
   * parsing this way.
   * @param {Uint8Array} data
   * @param {number} [maxRequests]
   * @returns {HttpRequest[]}
   */
  feed(data, maxRequests = Infinity) {
    const out = [];
    if (this.error !== null) return out;
    let buf;
    let owned; // buf is ours (not the caller's data, which may be a borrowed view)
    if (this.pending === null) {
      if (data.length === 0) return out;
      buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
      owned = false;
    } else {
      buf = data.length === 0 ? this.pending : Buffer.concat([this.pending, data]);
      owned = true;
      this.pending = null;
    }
    const len = buf.length;
    const maxHead = this.limits.maxHeadSize;
    let pos = 0;
    while (pos < len && out.length < maxRequests) {
      let req = this.current;
      if (req === null) {
        // Empty lines before a request line are skipped (RFC 9112 §2.2).
        while (pos + 1 < len && buf[pos] === 13 && buf[pos + 1] === 10) pos += 2;
        if (pos === len) break;
        const end = findHeadEnd(buf, pos, len);
        if (end === -1) {
          // Incomplete: keep it, unless it can no longer become a head within
          // the limit (+3: the part of the CRLFCRLF that may be here already).
          if (len - pos > maxHead + 3) this.error = new HttpParseError('request head too large', 431);
          break;
        }
        if (end - pos > maxHead) {
          this.error = new HttpParseError('request head too large', 431);
          break;
        }
        try {
          req = parseRequestHead(buf.latin1Slice(pos, end), this.limits); // toString('latin1', ...) without its argument checks
        } catch (err) {
          this.error = err instanceof HttpParseError ? err : new HttpParseError(String(err?.message ?? err));
          break;
        }
        pos = end + 4;
        if (req.contentLength === 0) {
          out.push(req);
          continue;
        }
        const avail = len - pos;
        if (avail >= req.contentLength) {
          // The whole body is here (the common case): one copy.
          req.body = Buffer.from(buf.subarray(pos, pos + req.contentLength));
          pos += req.contentLength;
          out.push(req);
          continue;
        }
        req.body = Buffer.allocUnsafe(req.contentLength);
        this.current = req;
        this.bodyGot = 0;
        if (req.expectContinue) this.continueDue = true;
      }
      // Body bytes of the current request.
      const n = Math.min(req.contentLength - this.bodyGot, len - pos);
      buf.copy(req.body, this.bodyGot, pos, pos + n);
      this.bodyGot += n;
      pos += n;
      if (this.bodyGot === req.contentLength) {
        this.current = null;
        this.bodyGot = 0;
        this.continueDue = false;
        out.push(req);
      }
    }
    if (this.error !== null) {
      this.pending = null;
      this.current = null;
      this.bodyGot = 0;
      this.continueDue = false;
    } else if (pos < len) {
      this.pending = owned ? buf.subarray(pos) : Buffer.from(buf.subarray(pos)); // a copy: data may be a borrowed view
    }
    return out;
  }
}
