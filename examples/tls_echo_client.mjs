// A TLS echo client on coio streams: connect to a TLS echo server, check its
// certificate, send one message, print what comes back.
//
//   node examples/tls_echo_client.mjs HOST PORT MESSAGE [--ca CA.pem] [--servername NAME]
//
//   --ca CA.pem         trust this CA (or self-signed certificate) instead of the
//                       system's roots
//   --servername NAME   the name the certificate must hold (SNI too); default HOST
//
// It prints "TLSv1.3 TLS_AES_256_GCM_SHA384, certificate verified for NAME", then
// the echoed message. A certificate that doesn't verify ends the handshake: the
// error's code says why (DEPTH_ZERO_SELF_SIGNED_CERT, UNABLE_TO_VERIFY_LEAF_SIGNATURE,
// CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, ...), and the exit status is 1.
//
// A server to try it on (Node's tls, echoing):
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
//     -keyout key.pem -out cert.pem -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//   node -e "const fs=require('fs');require('tls').createServer({key:fs.readFileSync('key.pem'),
//     cert:fs.readFileSync('cert.pem')},s=>s.pipe(s)).listen(8443)"
//   node examples/tls_echo_client.mjs 127.0.0.1 8443 hello --ca cert.pem
import { createDefaultContext, openConnection, run } from 'coio';

/** Echo `message` through the TLS server at host:port; returns the reply. */
function* tlsEcho(host, port, message, { cafile, serverHostname } = {}) {
  // createDefaultContext(): a client context that verifies the peer's chain and its host name.
  const ssl = createDefaultContext();
  if (cafile !== undefined) ssl.loadVerifyLocations({ cafile });
  const [reader, writer] = yield* openConnection(host, port, { ssl, serverHostname: serverHostname ?? host });
  try {
    const [cipher, version] = writer.getExtraInfo('cipher') ?? [];
    console.log(`${version} ${cipher}, certificate verified for ${serverHostname ?? host}`);
    const data = Buffer.from(message);
    writer.write(data);
    yield* writer.drain();
    // A TLS stream can't half-close (no writeEof): read exactly what was sent.
    return (yield* reader.readExactly(data.length)).toString();
  } finally {
    writer.close();
    yield* writer.waitClosed();
  }
}

function* main(host, port, message, options) {
  try {
    console.log(yield* tlsEcho(host, port, message, options));
  } catch (err) {
    // e.g. "DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate", or "ECONNREFUSED: connect ..."
    console.error(`tls echo client: ${err.code ? `${err.code}: ` : ''}${err.message}`);
    process.exitCode = 1;
  }
}

const positional = [];
const options = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--ca' && i + 1 < argv.length) options.cafile = argv[++i];
  else if (argv[i] === '--servername' && i + 1 < argv.length) options.serverHostname = argv[++i];
  else positional.push(argv[i]);
}
if (positional.length !== 3 || !/^\d+$/.test(positional[1])) {
  console.error('usage: node examples/tls_echo_client.mjs HOST PORT MESSAGE [--ca CA.pem] [--servername NAME]');
  process.exit(2);
}
run(main(positional[0], Number(positional[1]), positional[2], options));
