// Node's tls (OpenSSL over libuv): the peer coio's TLS servers are measured against.
//
//   node bench/servers/node_tls.mjs --cert CERT.pem --key KEY.pem [--host 127.0.0.1] (--port N | --unix PATH)
//
// The idiomatic echo: socket.on('data', d => socket.write(d)) on a
// tls.createServer socket, TCP_NODELAY. Same contract as node_net.mjs.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { parseServerArgs, announce, exitOnStdinEof, skip } from './common.mjs';

const args = parseServerArgs(process.argv.slice(2));
if (!args.cert || !args.key) skip('node_tls.mjs needs --cert and --key');

const server = tls.createServer({ key: readFileSync(args.key), cert: readFileSync(args.cert), noDelay: true }, (socket) => {
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => {}); // ECONNRESET when the client aborts: not the server's failure
});
server.on('tlsClientError', () => {}); // a handshake cut short by the client

const listenOptions = args.unix ? { path: args.unix } : { host: args.host, port: args.port };
server.listen({ ...listenOptions, backlog: 4096 }, () => {
  const addr = server.address();
  announce(typeof addr === 'object' && addr ? addr.port : 0);
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitOnStdinEof(stop);
