// Node's net (libuv): the peer coio is measured against.
//
//   node bench/servers/node_net.mjs [--host 127.0.0.1] (--port N | --unix PATH)
//
// The idiomatic echo: socket.on('data', d => socket.write(d)). Prints
// "PID <pid>" and "PORT <n>" once listening; exits 0 on SIGTERM/SIGINT and
// when stdin reaches EOF (the harness is gone).
import net from 'node:net';
import { parseServerArgs, announce, exitOnStdinEof } from './common.mjs';

const args = parseServerArgs(process.argv.slice(2));

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => {}); // ECONNRESET when the client aborts: not the server's failure
});

const listenOptions = args.unix ? { path: args.unix } : { host: args.host, port: args.port };
server.listen({ ...listenOptions, backlog: 4096 }, () => {
  const addr = server.address();
  announce(typeof addr === 'object' && addr ? addr.port : 0);
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitOnStdinEof(stop);
