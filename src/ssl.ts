// TLS configuration and errors (Python's ssl module, camelCased): SSLContext,
// createDefaultContext, SSLObject, SSLError and SSLCertVerificationError.
//
// The engine is the OpenSSL that Node carries, reached through a small
// addon of its own (native/tls.cc, coio_tls.node) loaded on the first TLS
// call: a Node without a reachable OpenSSL gets a clear error there, and
// everything else in coio keeps working. The addon is a thin SSL object
// over memory BIOs; every decision (verification policy, SNI, ALPN choice
// of the client, flow control, timeouts) is made here and in sslproto.ts.

import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { loadTlsAddon } from './native.js';

// ---- the native engine ---------------------------------------------------

/** @internal What native/tls.cc reports about a failure. */
export interface NativeFailure {
  library: string | null;
  reason: string | null;
  reasonText: string;
  sslError: number;
  verifyCode: number;
  verifyName?: string | null;
  verifyMessage?: string;
}

/** @internal The SSL_CTX wrapper. */
export interface NativeSslContext {
  useCertificateChain(pem: string | Uint8Array): void;
  usePrivateKey(pem: string | Uint8Array, password: string | null): void;
  addCa(data: string | Uint8Array, der: boolean): number;
  loadVerifyLocations(cafile: string | null, capath: string | null): void;
  setDefaultVerifyPaths(): void;
  setVerify(mode: number): void;
  setProtoVersion(isMax: boolean, version: number): void;
  getProtoVersion(isMax: boolean): number;
  setCiphers(list: string): void;
  setCiphersuites(list: string): void;
  getCiphers(): Array<[string, string, number]>;
  setAlpn(wire: Uint8Array): void;
  setSni(on: boolean): void;
  getOptions(): number;
  setOptions(set: number, clear: number): void;
  caCount(): number;
}

/** @internal The SSL object over two memory BIOs. Negative results are -SSL_get_error(). */
export interface NativeSslConn {
  feed(buf: Uint8Array, offset: number, length: number): number;
  handshake(): number;
  read(buf: Uint8Array, offset: number, length: number): number;
  write(buf: Uint8Array, offset: number, length: number): number;
  readOut(buf: Uint8Array, offset: number, length: number): number;
  takeOut(): Buffer | null;
  pendingOut(): number;
  pendingIn(): number;
  pending(): number;
  readable(): number;
  shutdown(): number;
  takeError(): NativeFailure | null;
  peerCertificate(): Buffer | null;
  cipher(): [string, string, number] | null;
  version(): string | null;
  alpn(): string | null;
  servername(): string | null;
  refuseHello(alert: number): void;
  setContext(ctx: NativeSslContext): void;
  sessionReused(): boolean;
  isInitFinished(): boolean;
  free(): void;
}

interface TlsAddon {
  SslContext: new (server: boolean) => NativeSslContext;
  SslConn: new (ctx: NativeSslContext, server: boolean, hostname: string | null, checkHostname: boolean) => NativeSslConn;
  OPENSSL_VERSION: string;
  OPENSSL_VERSION_NUMBER: number;
  versions: { TLS1: number; TLS1_1: number; TLS1_2: number; TLS1_3: number };
  options: Record<string, number>;
}

/** @internal SSL_get_error codes, negated by the addon. */
export const SSL_ERROR_SSL = -1;
export const SSL_ERROR_WANT_READ = -2;
export const SSL_ERROR_WANT_WRITE = -3;
export const SSL_ERROR_SYSCALL = -5;
export const SSL_ERROR_ZERO_RETURN = -6;
export const SSL_ERROR_WANT_CLIENT_HELLO_CB = -11;

let tlsAddon: TlsAddon | undefined;
let tlsLoadError: Error | undefined;

/**
 * @internal The TLS addon, loaded on first use.
 * @throws an Error with code 'ERR_COIO_TLS_UNAVAILABLE' when this Node offers no OpenSSL to addons.
 */
export function tlsNative(): TlsAddon {
  if (tlsAddon !== undefined) return tlsAddon;
  if (tlsLoadError !== undefined) throw tlsLoadError;
  try {
    tlsAddon = loadTlsAddon<TlsAddon>();
    return tlsAddon;
  } catch (err) {
    tlsLoadError = Object.assign(
      new Error(
        'coio: TLS is not available: the TLS addon (coio_tls.node) could not be loaded. It needs a Node built with ' +
          `OpenSSL that exports it to addons (process.versions.openssl: ${process.versions.openssl ?? 'none'}). ` +
          `Cause: ${(err as Error).message}`,
        { cause: err },
      ),
      { code: 'ERR_COIO_TLS_UNAVAILABLE' },
    );
    throw tlsLoadError;
  }
}

// ---- constants -------------------------------------------------------------

/** A client context: verifies the server's certificate and host name by default. */
export const PROTOCOL_TLS_CLIENT = 16;
/** A server context. */
export const PROTOCOL_TLS_SERVER = 17;

/** Do not ask for or check the peer's certificate. */
export const CERT_NONE = 0;
/** Server: ask for a client certificate and check it if one comes. Client: as CERT_REQUIRED. */
export const CERT_OPTIONAL = 1;
/** The peer must present a certificate that verifies. */
export const CERT_REQUIRED = 2;
export type VerifyMode = typeof CERT_NONE | typeof CERT_OPTIONAL | typeof CERT_REQUIRED;

/** Protocol versions for minimumVersion / maximumVersion (Python's ssl.TLSVersion; values are OpenSSL's). */
export const TLSVersion = Object.freeze({
  MINIMUM_SUPPORTED: -2,
  MAXIMUM_SUPPORTED: -1,
  TLSv1: 0x301,
  TLSv1_1: 0x302,
  TLSv1_2: 0x303,
  TLSv1_3: 0x304,
});
export type TLSVersionValue = (typeof TLSVersion)[keyof typeof TLSVersion];

/**
 * TLS alert descriptions (Python's ssl.AlertDescription, RFC 8446 6.2): what
 * an SNI callback returns to refuse a handshake, and what the client hears.
 */
export const AlertDescription = Object.freeze({
  ALERT_DESCRIPTION_CLOSE_NOTIFY: 0,
  ALERT_DESCRIPTION_UNEXPECTED_MESSAGE: 10,
  ALERT_DESCRIPTION_BAD_RECORD_MAC: 20,
  ALERT_DESCRIPTION_RECORD_OVERFLOW: 22,
  ALERT_DESCRIPTION_DECOMPRESSION_FAILURE: 30,
  ALERT_DESCRIPTION_HANDSHAKE_FAILURE: 40,
  ALERT_DESCRIPTION_BAD_CERTIFICATE: 42,
  ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE: 43,
  ALERT_DESCRIPTION_CERTIFICATE_REVOKED: 44,
  ALERT_DESCRIPTION_CERTIFICATE_EXPIRED: 45,
  ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN: 46,
  ALERT_DESCRIPTION_ILLEGAL_PARAMETER: 47,
  ALERT_DESCRIPTION_UNKNOWN_CA: 48,
  ALERT_DESCRIPTION_ACCESS_DENIED: 49,
  ALERT_DESCRIPTION_DECODE_ERROR: 50,
  ALERT_DESCRIPTION_DECRYPT_ERROR: 51,
  ALERT_DESCRIPTION_PROTOCOL_VERSION: 70,
  ALERT_DESCRIPTION_INSUFFICIENT_SECURITY: 71,
  ALERT_DESCRIPTION_INTERNAL_ERROR: 80,
  ALERT_DESCRIPTION_USER_CANCELLED: 90,
  ALERT_DESCRIPTION_NO_RENEGOTIATION: 100,
  ALERT_DESCRIPTION_UNSUPPORTED_EXTENSION: 110,
  ALERT_DESCRIPTION_CERTIFICATE_UNOBTAINABLE: 111,
  ALERT_DESCRIPTION_UNRECOGNIZED_NAME: 112,
  ALERT_DESCRIPTION_BAD_CERTIFICATE_STATUS_RESPONSE: 113,
  ALERT_DESCRIPTION_BAD_CERTIFICATE_HASH_VALUE: 114,
  ALERT_DESCRIPTION_UNKNOWN_PSK_IDENTITY: 115,
});

/** An alert's name without the prefix ("UNRECOGNIZED_NAME"), or its number. */
export function alertName(alert: number): string {
  for (const [name, value] of Object.entries(AlertDescription)) {
    if (value === alert) return name.slice('ALERT_DESCRIPTION_'.length);
  }
  return String(alert);
}

/** What a default context is for (Python's ssl.Purpose). */
export const Purpose = Object.freeze({
  /** A client context that authenticates servers. */
  SERVER_AUTH: 'serverAuth',
  /** A server context that may authenticate clients. */
  CLIENT_AUTH: 'clientAuth',
});
export type PurposeValue = (typeof Purpose)[keyof typeof Purpose];

const VERSION_NAMES: Record<string, number> = { 'TLSv1': 0x301, 'TLSv1.1': 0x302, 'TLSv1.2': 0x303, 'TLSv1.3': 0x304 };

function toVersion(v: unknown, what: string): number {
  if (typeof v === 'string' && v in VERSION_NAMES) return VERSION_NAMES[v]!;
  if (typeof v === 'number' && Object.values(TLSVersion).includes(v as TLSVersionValue)) return v;
  throw new TypeError(`${what} must be a TLSVersion value or 'TLSv1.2' / 'TLSv1.3', got ${String(v)}`);
}

// ---- errors ----------------------------------------------------------------

/**
 * A TLS failure (Python's ssl.SSLError): `library` and `reason` are
 * OpenSSL's ('SSL', 'WRONG_VERSION_NUMBER'), `code` is Node's spelling
 * ('ERR_SSL_WRONG_VERSION_NUMBER'). The message reads
 * "[SSL: WRONG_VERSION_NUMBER] wrong version number".
 */
export class SSLError extends Error {
  override name = 'SSLError';
  /** Node's spelling: 'ERR_SSL_' + reason, or the certificate error's name (SSLCertVerificationError). */
  code: string;
  /** OpenSSL's library: 'SSL', 'PEM', 'X509', ...; null when OpenSSL said nothing. */
  library: string | null;
  /** OpenSSL's reason mnemonic, e.g. 'WRONG_VERSION_NUMBER'; null when unknown. */
  reason: string | null;

  constructor(message: string, fields: { code?: string; library?: string | null; reason?: string | null } = {}) {
    super(message);
    this.library = fields.library ?? null;
    this.reason = fields.reason ?? null;
    this.code = fields.code ?? (this.reason !== null ? `ERR_SSL_${this.reason}` : 'ERR_SSL');
  }
}

/**
 * The peer's certificate did not verify (Python's ssl.SSLCertVerificationError).
 * `code` is Node's name for the failure: 'ERR_TLS_CERT_ALTNAME_INVALID' (wrong
 * host name), 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED',
 * 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', ...;
 * `verifyCode` / `verifyMessage` are OpenSSL's X509_V_ERR number and text.
 */
export class SSLCertVerificationError extends SSLError {
  override name = 'SSLCertVerificationError';
  /** OpenSSL's X509_V_ERR_* number. */
  verifyCode: number;
  /** OpenSSL's text for it, e.g. 'self-signed certificate'. */
  verifyMessage: string;

  constructor(message: string, fields: { code: string; library?: string | null; reason?: string | null; verifyCode: number; verifyMessage: string }) {
    super(message, fields);
    this.verifyCode = fields.verifyCode;
    this.verifyMessage = fields.verifyMessage;
  }
}

/** @internal The error for a native failure; `host` completes the host-name mismatch message. */
export function sslErrorFrom(f: NativeFailure, host?: string | null): SSLError {
  const head = f.reason !== null ? `[${f.library ?? 'SSL'}: ${f.reason}] ${f.reasonText}` : f.reasonText;
  if (f.verifyCode !== 0 && f.verifyMessage !== undefined) {
    let verifyMessage = f.verifyMessage;
    const mismatch = f.verifyName === 'HOSTNAME_MISMATCH' || f.verifyName === 'IP_ADDRESS_MISMATCH';
    if (mismatch) {
      verifyMessage = `${f.verifyName === 'IP_ADDRESS_MISMATCH' ? 'IP address' : 'Hostname'} mismatch, certificate is not valid for '${host ?? ''}'.`;
    }
    return new SSLCertVerificationError(`${head}: ${verifyMessage}`, {
      code: mismatch ? 'ERR_TLS_CERT_ALTNAME_INVALID' : (f.verifyName ?? `X509_V_ERR_${f.verifyCode}`),
      library: f.library,
      reason: f.reason,
      verifyCode: f.verifyCode,
      verifyMessage,
    });
  }
  return new SSLError(head, { library: f.library, reason: f.reason });
}

/** Configuration calls throw an Error with an `ssl` field: make it an SSLError. */
function rethrow(err: unknown): never {
  const f = (err as { ssl?: NativeFailure }).ssl;
  if (f === undefined) throw err;
  const e = sslErrorFrom(f);
  e.message = (err as Error).message;
  throw e;
}

// ---- SSLContext ------------------------------------------------------------

/**
 * Called on a server during the handshake with the host name the client
 * asked for (null if none): it may switch `sslObject.context` to another
 * SSLContext (another certificate). Return nothing to go on, or a TLS alert
 * (an AlertDescription value, e.g. ALERT_DESCRIPTION_UNRECOGNIZED_NAME) to
 * refuse the handshake: the client receives that alert. It runs between two
 * steps of the handshake, never inside OpenSSL.
 */
export type SNICallback = (sslObject: SSLObject, serverName: string | null, sslContext: SSLContext) => number | void | null | undefined;

/** A password for an encrypted key: a string, Buffer, or a function returning one. */
export type Password = string | Uint8Array | (() => string | Uint8Array);

/** cafile / capath / cadata for loadVerifyLocations and createDefaultContext. */
export interface VerifyLocations {
  /** A PEM file of trusted CA certificates. */
  cafile?: string | null;
  /** A directory of hashed CA certificates (c_rehash). */
  capath?: string | null;
  /** PEM text (one or more certificates), or DER bytes of one certificate. */
  cadata?: string | Uint8Array | null;
}

let rootPem: string | undefined;

/**
 * TLS settings shared by many connections (Python's ssl.SSLContext): the
 * certificate and key, trusted CAs, verification, protocol versions, ALPN,
 * ciphers and an SNI callback. Give it as `ssl:` to createServer /
 * createConnection / startServer / openConnection, or to startTls.
 */
export class SSLContext {
  /** @internal */ readonly _native: NativeSslContext;
  private readonly protocol_: number;
  private verifyMode_: VerifyMode;
  private checkHostname_: boolean;
  private sniCallback_: SNICallback | null = null;
  private alpn_: readonly string[] = [];

  /**
   * A context for clients (PROTOCOL_TLS_CLIENT, the default: verifies
   * certificates and host names) or servers (PROTOCOL_TLS_SERVER).
   * @throws RangeError for another protocol; an Error with code
   *   'ERR_COIO_TLS_UNAVAILABLE' if this Node offers no OpenSSL to addons.
   */
  constructor(protocol: number = PROTOCOL_TLS_CLIENT) {
    if (protocol !== PROTOCOL_TLS_CLIENT && protocol !== PROTOCOL_TLS_SERVER) {
      throw new RangeError(`protocol must be PROTOCOL_TLS_CLIENT or PROTOCOL_TLS_SERVER, got ${String(protocol)}`);
    }
    const addon = tlsNative();
    this.protocol_ = protocol;
    try {
      this._native = new addon.SslContext(protocol === PROTOCOL_TLS_SERVER);
    } catch (err) {
      rethrow(err);
    }
    const client = protocol === PROTOCOL_TLS_CLIENT;
    this.verifyMode_ = client ? CERT_REQUIRED : CERT_NONE;
    this.checkHostname_ = client;
    this._native.setVerify(this.verifyMode_);
  }

  /** PROTOCOL_TLS_CLIENT or PROTOCOL_TLS_SERVER. */
  get protocol(): number {
    return this.protocol_;
  }

  /** @internal */
  get _serverSide(): boolean {
    return this.protocol_ === PROTOCOL_TLS_SERVER;
  }

  /**
   * CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED.
   * @throws RangeError for CERT_NONE while checkHostname is on, or another value.
   */
  get verifyMode(): VerifyMode {
    return this.verifyMode_;
  }

  set verifyMode(mode: VerifyMode) {
    if (mode !== CERT_NONE && mode !== CERT_OPTIONAL && mode !== CERT_REQUIRED) {
      throw new RangeError(`verifyMode must be CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED, got ${String(mode)}`);
    }
    if (mode === CERT_NONE && this.checkHostname_) throw new RangeError('Cannot set verifyMode to CERT_NONE when checkHostname is enabled.');
    this.verifyMode_ = mode;
    this._native.setVerify(mode);
  }

  /** Check that the server's certificate is for serverHostname (clients). Turning it on makes verifyMode CERT_REQUIRED if it was CERT_NONE. */
  get checkHostname(): boolean {
    return this.checkHostname_;
  }

  set checkHostname(on: boolean) {
    this.checkHostname_ = Boolean(on);
    if (this.checkHostname_ && this.verifyMode_ === CERT_NONE) this.verifyMode = CERT_REQUIRED;
  }

  /** The lowest protocol version allowed (TLSVersion; default TLSv1_2). Setting accepts 'TLSv1.2' too. */
  get minimumVersion(): TLSVersionValue {
    const v = this._native.getProtoVersion(false);
    return (v === 0 ? TLSVersion.MINIMUM_SUPPORTED : v) as TLSVersionValue;
  }

  set minimumVersion(v: TLSVersionValue | string) {
    let n = toVersion(v, 'minimumVersion');
    if (n === TLSVersion.MAXIMUM_SUPPORTED) n = TLSVersion.TLSv1_3;
    try {
      this._native.setProtoVersion(false, n === TLSVersion.MINIMUM_SUPPORTED ? 0 : n);
    } catch (err) {
      rethrow(err);
    }
  }

  /** The highest protocol version allowed (TLSVersion; default MAXIMUM_SUPPORTED). */
  get maximumVersion(): TLSVersionValue {
    const v = this._native.getProtoVersion(true);
    return (v === 0 ? TLSVersion.MAXIMUM_SUPPORTED : v) as TLSVersionValue;
  }

  set maximumVersion(v: TLSVersionValue | string) {
    let n = toVersion(v, 'maximumVersion');
    if (n === TLSVersion.MINIMUM_SUPPORTED) n = TLSVersion.TLSv1;
    try {
      this._native.setProtoVersion(true, n === TLSVersion.MAXIMUM_SUPPORTED ? 0 : n);
    } catch (err) {
      rethrow(err);
    }
  }

  /** OpenSSL's option bits (SSL_OP_*), as Python's SSLContext.options. */
  get options(): number {
    return this._native.getOptions();
  }

  set options(bits: number) {
    const now = this._native.getOptions();
    this._native.setOptions(bits, now & ~bits);
  }

  /**
   * The server's SNI callback, or null. Servers only.
   * @throws RangeError on a client context; TypeError for a non-function.
   */
  get sniCallback(): SNICallback | null {
    return this.sniCallback_;
  }

  set sniCallback(cb: SNICallback | null) {
    if (cb !== null && typeof cb !== 'function') throw new TypeError('sniCallback must be a function or null');
    if (!this._serverSide && cb !== null) throw new RangeError('sniCallback cannot be set on a PROTOCOL_TLS_CLIENT context');
    this.sniCallback_ = cb;
    this._native.setSni(cb !== null);
  }

  /** Python's older name: set (or clear, with null) the SNI callback. */
  setServernameCallback(cb: SNICallback | null): void {
    this.sniCallback = cb;
  }

  /**
   * Use this certificate chain and key (PEM files). keyfile may be omitted
   * when certfile holds the key too; password decrypts an encrypted key.
   * @throws SSLError for unreadable or mismatched PEM; the file's ENOENT error.
   */
  loadCertChain(certfile: string, keyfile?: string | null, password?: Password | null): void {
    const cert = readFileSync(certfile);
    const key = keyfile == null ? cert : readFileSync(keyfile);
    this._loadCertChainData(cert, key, password);
  }

  /** @internal The chain and key from PEM data (Node's `cert` / `key` options). */
  _loadCertChainData(cert: string | Uint8Array, key: string | Uint8Array, password?: Password | null): void {
    let pw: string | null = null;
    if (password != null) {
      const p = typeof password === 'function' ? password() : password;
      pw = typeof p === 'string' ? p : Buffer.from(p).toString('latin1');
    }
    try {
      this._native.useCertificateChain(cert);
      this._native.usePrivateKey(key, pw);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Trust these CA certificates: a PEM file, a hashed directory, or PEM
   * text / DER bytes. A string argument is a cafile.
   * @throws TypeError when none is given; SSLError for bad data.
   */
  loadVerifyLocations(locations: VerifyLocations | string): void {
    const loc: VerifyLocations = typeof locations === 'string' ? { cafile: locations } : locations;
    if (loc == null || (loc.cafile == null && loc.capath == null && loc.cadata == null)) {
      throw new TypeError('cafile, capath and cadata cannot be all omitted');
    }
    try {
      if (loc.cafile != null || loc.capath != null) this._native.loadVerifyLocations(loc.cafile ?? null, loc.capath ?? null);
      if (loc.cadata != null) {
        if (typeof loc.cadata !== 'string' && !(loc.cadata instanceof Uint8Array)) throw new TypeError('cadata must be a string or a Uint8Array');
        this._native.addCa(loc.cadata, typeof loc.cadata !== 'string');
      }
    } catch (err) {
      rethrow(err);
    }
  }

  /** Trust Node's bundled root certificates (tls.rootCertificates, Mozilla's list), as Python's loadDefaultCerts. */
  loadDefaultCerts(): void {
    if (rootPem === undefined) {
      const roots = nodeRootCertificates();
      if (roots === null) return this.setDefaultVerifyPaths();
      rootPem = roots.join('\n');
    }
    try {
      this._native.addCa(rootPem, false);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Trust OpenSSL's default CA file and directory (those compiled into Node's OpenSSL). */
  setDefaultVerifyPaths(): void {
    try {
      this._native.setDefaultVerifyPaths();
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Offer / accept these ALPN protocols ('h2', 'http/1.1'), in order of preference.
   * @throws TypeError / RangeError for a name that is not 1-255 bytes.
   */
  setAlpnProtocols(protocols: readonly string[]): void {
    if (!Array.isArray(protocols)) throw new TypeError('setAlpnProtocols: an array of strings is required');
    const parts: Buffer[] = [];
    for (const p of protocols) {
      if (typeof p !== 'string') throw new TypeError('setAlpnProtocols: every protocol must be a string');
      const b = Buffer.from(p);
      if (b.length === 0 || b.length > 255) throw new RangeError(`ALPN protocols must be 1 to 255 in length, got '${p}'`);
      parts.push(Buffer.from([b.length]), b);
    }
    this.alpn_ = [...protocols];
    try {
      this._native.setAlpn(Buffer.concat(parts));
    } catch (err) {
      rethrow(err);
    }
  }

  /** @internal The ALPN protocols set (for tests and repr). */
  get _alpnProtocols(): readonly string[] {
    return this.alpn_;
  }

  /**
   * The TLS 1.2 cipher list, in OpenSSL's syntax ('ECDHE+AESGCM:!aNULL').
   * @throws SSLError ('No cipher can be selected') when it selects none.
   */
  setCiphers(ciphers: string): void {
    try {
      this._native.setCiphers(ciphers);
    } catch (err) {
      rethrow(err);
    }
  }

  /** The TLS 1.3 cipher suites ('TLS_AES_128_GCM_SHA256:...'). @throws SSLError when it selects none. */
  setCiphersuites(ciphersuites: string): void {
    try {
      this._native.setCiphersuites(ciphersuites);
    } catch (err) {
      rethrow(err);
    }
  }

  /** The enabled ciphers: name, protocol and secret bits of each. */
  getCiphers(): Array<{ name: string; protocol: string; strengthBits: number }> {
    return this._native.getCiphers().map(([name, protocol, strengthBits]) => ({ name, protocol, strengthBits }));
  }

  /** How many CA certificates are trusted (Python's cert_store_stats()['x509_ca'], roughly). */
  certStoreStats(): { x509: number } {
    return { x509: this._native.caCount() };
  }

  toString(): string {
    return `<SSLContext ${this._serverSide ? 'server' : 'client'}>`;
  }
}

function nodeRootCertificates(): readonly string[] | null {
  // node:tls only for its list of roots, and only when asked: importing it
  // costs ~40 ms. process.getBuiltinModule is Node >= 20.16.
  const tls = process.getBuiltinModule?.('node:tls') as typeof import('node:tls') | undefined;
  return tls?.rootCertificates ?? null;
}

/**
 * A context with secure defaults (Python's ssl.create_default_context):
 * for Purpose.SERVER_AUTH (the default) a client context that verifies the
 * server's certificate against the given CAs, or Node's root certificates
 * when none are given, and checks its host name; for Purpose.CLIENT_AUTH a
 * server context.
 * @throws as SSLContext and loadVerifyLocations.
 */
export function createDefaultContext(purpose: PurposeValue = Purpose.SERVER_AUTH, locations: VerifyLocations = {}): SSLContext {
  if (purpose !== Purpose.SERVER_AUTH && purpose !== Purpose.CLIENT_AUTH) throw new RangeError(`purpose must be Purpose.SERVER_AUTH or Purpose.CLIENT_AUTH, got ${String(purpose)}`);
  const ctx = new SSLContext(purpose === Purpose.SERVER_AUTH ? PROTOCOL_TLS_CLIENT : PROTOCOL_TLS_SERVER);
  if (locations.cafile != null || locations.capath != null || locations.cadata != null) ctx.loadVerifyLocations(locations);
  else if (ctx.verifyMode !== CERT_NONE) ctx.loadDefaultCerts();
  return ctx;
}

// ---- Node's tls.createSecureContext options ---------------------------------

type PemLike = string | Buffer | Uint8Array;

/** The subset of Node's tls options `ssl:` accepts as a plain object. */
export interface NodeTlsOptions {
  key?: PemLike | PemLike[];
  cert?: PemLike | PemLike[];
  ca?: PemLike | PemLike[];
  passphrase?: string;
  ALPNProtocols?: string[] | Uint8Array;
  /** Client: false skips verification. Server with requestCert: false accepts clients whose certificate does not verify... here: asks but does not require one. */
  rejectUnauthorized?: boolean;
  /** Server: ask clients for a certificate. */
  requestCert?: boolean;
  /** Client: the SNI / verification host name (serverHostname). */
  servername?: string;
  minVersion?: string;
  maxVersion?: string;
  ciphers?: string;
}

const NODE_OPTION_KEYS = new Set(['key', 'cert', 'ca', 'passphrase', 'ALPNProtocols', 'rejectUnauthorized', 'requestCert', 'servername', 'minVersion', 'maxVersion', 'ciphers']);

function list<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

function alpnList(x: string[] | Uint8Array): string[] {
  if (Array.isArray(x)) return x;
  const out: string[] = [];
  for (let i = 0; i < x.length; ) {
    const n = x[i]!;
    out.push(Buffer.from(x.subarray(i + 1, i + 1 + n)).toString());
    i += 1 + n;
  }
  return out;
}

/**
 * @internal An SSLContext from Node's tls options. `servername` is returned
 * apart: it is per connection (serverHostname).
 * @throws TypeError for an option coio does not support (pfx, ...).
 */
export function contextFromNodeOptions(opts: NodeTlsOptions, serverSide: boolean): SSLContext {
  for (const k of Object.keys(opts)) {
    if (!NODE_OPTION_KEYS.has(k)) throw new TypeError(`ssl: unsupported Node tls option '${k}' (supported: ${[...NODE_OPTION_KEYS].join(', ')})`);
  }
  const ctx = new SSLContext(serverSide ? PROTOCOL_TLS_SERVER : PROTOCOL_TLS_CLIENT);
  const certs = list(opts.cert);
  const keys = list(opts.key);
  if (certs.length !== keys.length) throw new TypeError('ssl: key and cert must be given together');
  if (certs.length > 1) throw new TypeError('ssl: one key / cert pair is supported (use sniCallback on an SSLContext for more)');
  if (certs.length === 1) ctx._loadCertChainData(certs[0]!, keys[0]!, opts.passphrase ?? null);
  const cas = list(opts.ca);
  for (const ca of cas) ctx.loadVerifyLocations({ cadata: typeof ca === 'string' ? ca : Buffer.from(ca).toString('latin1') });
  if (serverSide) {
    if (opts.requestCert === true) ctx.verifyMode = opts.rejectUnauthorized === false ? CERT_OPTIONAL : CERT_REQUIRED;
  } else if (opts.rejectUnauthorized === false) {
    ctx.checkHostname = false;
    ctx.verifyMode = CERT_NONE;
  } else if (cas.length === 0) {
    ctx.loadDefaultCerts();
  }
  if (opts.ALPNProtocols !== undefined) ctx.setAlpnProtocols(alpnList(opts.ALPNProtocols));
  if (opts.minVersion !== undefined) ctx.minimumVersion = opts.minVersion;
  if (opts.maxVersion !== undefined) ctx.maximumVersion = opts.maxVersion;
  if (opts.ciphers !== undefined) ctx.setCiphers(opts.ciphers);
  return ctx;
}

// ---- SSLObject -------------------------------------------------------------

/** The peer's certificate as Python's getpeercert() returns it. */
export interface PeerCertificate {
  subject: Array<Array<[string, string]>>;
  issuer: Array<Array<[string, string]>>;
  version: number;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  subjectAltName?: Array<[string, string]>;
}

const LONG_NAMES: Record<string, string> = {
  CN: 'commonName',
  O: 'organizationName',
  OU: 'organizationalUnitName',
  C: 'countryName',
  ST: 'stateOrProvinceName',
  L: 'localityName',
  DC: 'domainComponent',
  emailAddress: 'emailAddress',
  serialNumber: 'serialNumber',
};

function parseName(text: string): Array<Array<[string, string]>> {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const eq = line.indexOf('=');
      const k = line.slice(0, eq);
      return [[LONG_NAMES[k] ?? k, line.slice(eq + 1)]];
    });
}

function parseCert(der: Buffer): PeerCertificate {
  const x = new X509Certificate(der);
  const cert: PeerCertificate = {
    subject: parseName(x.subject),
    issuer: parseName(x.issuer),
    version: 3,
    serialNumber: x.serialNumber.toUpperCase(),
    notBefore: x.validFrom,
    notAfter: x.validTo,
  };
  if (x.subjectAltName !== undefined) {
    cert.subjectAltName = x.subjectAltName.split(', ').map((entry) => {
      const colon = entry.indexOf(':');
      return [entry.slice(0, colon), entry.slice(colon + 1)];
    });
  }
  return cert;
}

/**
 * One TLS connection's state (Python's ssl.SSLObject), as
 * getExtraInfo('sslObject') returns it: the peer certificate, cipher,
 * version and ALPN result, valid after the handshake (and still readable
 * after the connection is closed).
 */
export class SSLObject {
  /** @internal */ _conn: NativeSslConn | null;
  private context_: SSLContext;
  private cached: { cert: Buffer | null; cipher: [string, string, number] | null; version: string | null; alpn: string | null; servername: string | null; reused: boolean } | null = null;
  private parsed: PeerCertificate | undefined;

  /** @internal Made by the SSL protocol. */
  constructor(
    context: SSLContext,
    /** True on the server side of the connection. */
    readonly serverSide: boolean,
    /** The host name the client verifies and sends as SNI (null on servers). */
    readonly serverHostname: string | null,
  ) {
    this.context_ = context;
    try {
      this._conn = new (tlsNative().SslConn)(context._native, serverSide, serverHostname, !serverSide && context.checkHostname);
    } catch (err) {
      rethrow(err);
    }
  }

  /** The context in use. During the SNI callback a server may set another (another certificate). */
  get context(): SSLContext {
    return this.context_;
  }

  set context(ctx: SSLContext) {
    if (!(ctx instanceof SSLContext)) throw new TypeError('context must be an SSLContext');
    if (this._conn === null) throw new RangeError('the connection is closed');
    this._conn.setContext(ctx._native);
    this.context_ = ctx;
  }

  /** @internal Remember what introspection needs, then free the native object. */
  _release(): void {
    const c = this._conn;
    if (c === null) return;
    if (c.isInitFinished()) this.snapshot();
    c.free();
    this._conn = null;
  }

  private snapshot(): NonNullable<SSLObject['cached']> {
    if (this.cached !== null) return this.cached;
    const c = this._conn;
    if (c === null) return { cert: null, cipher: null, version: null, alpn: null, servername: null, reused: false };
    this.cached = { cert: c.peerCertificate(), cipher: c.cipher(), version: c.version(), alpn: c.alpn(), servername: c.servername(), reused: c.sessionReused() };
    return this.cached;
  }

  private info(): NonNullable<SSLObject['cached']> | null {
    if (this.cached !== null) return this.cached;
    if (this._conn === null || !this._conn.isInitFinished()) return null;
    return this.snapshot();
  }

  /**
   * The peer's certificate: with binaryForm its DER bytes; otherwise the
   * parsed fields when it was verified ({} when verification is off, as
   * Python), null when there is none or before the handshake.
   */
  getpeercert(binaryForm = false): PeerCertificate | Buffer | Record<string, never> | null {
    const info = this.info();
    if (info === null || info.cert === null) return null;
    if (binaryForm) return info.cert;
    if (this.context_.verifyMode === CERT_NONE) return {};
    return (this.parsed ??= parseCert(info.cert));
  }

  /** [name, protocol version, secret bits] of the cipher in use, or null before the handshake. */
  cipher(): [string, string, number] | null {
    return this.info()?.cipher ?? null;
  }

  /** Always null: TLS compression is off (CRIME). */
  compression(): null {
    return null;
  }

  /** 'TLSv1.2' or 'TLSv1.3', or null before the handshake. */
  version(): string | null {
    return this.info()?.version ?? null;
  }

  /** The ALPN protocol agreed on, or null. */
  selectedAlpnProtocol(): string | null {
    return this.info()?.alpn ?? null;
  }

  /** Server side: the host name the client asked for (SNI), or null. */
  serverName(): string | null {
    if (this.cached !== null) return this.cached.servername;
    return this._conn?.servername() ?? null;
  }

  /** True when the session was resumed. */
  sessionReused(): boolean {
    return this.info()?.reused ?? false;
  }

  /** Decrypted bytes buffered inside OpenSSL. */
  pending(): number {
    return this._conn?.pending() ?? 0;
  }

  toString(): string {
    return `<SSLObject ${this.serverSide ? 'server' : 'client'} ${this.version() ?? 'handshake'}>`;
  }
}
