// Bun's echo at the protocol level: Bun.listen's socket callbacks (run by bun).
//
//   bun bench/servers/bun_listen.mjs [--host H] (--port N | --unix PATH)
//
// data(socket, bytes) writes the bytes straight back. socket.write() sends
// what the kernel takes now and returns the count; the rest is kept (a copy:
// the callback's buffer is not ours after it returns) and sent from drain().
// Contract of bench/servers/common.mjs: PID/PORT lines, ends on SIGTERM or
// stdin EOF.
import { announce, exitOnStdinEof, parseServerArgs } from './common.mjs';

const args = parseServerArgs(process.argv.slice(2));

function flush(socket) {
  const q = socket.data;
  while (q.length > 0) {
    const chunk = q[0];
    const n = socket.write(chunk);
    if (n < chunk.length) {
      q[0] = chunk.subarray(Math.max(n, 0));
      return;
    }
    q.shift();
  }
}

const handlers = {
  open(socket) {
    socket.data = [];
    socket.setNoDelay?.(true);
  },
  data(socket, bytes) {
    const q = socket.data;
    if (q.length > 0) {
      q.push(Buffer.from(bytes));
      return;
    }
    const n = socket.write(bytes);
    if (n < bytes.length) q.push(Buffer.from(bytes.subarray(Math.max(n, 0))));
  },
  drain: flush,
  error() {},
  close() {},
};

const server = args.unix
  ? Bun.listen({ unix: args.unix, socket: handlers })
  : Bun.listen({ hostname: args.host, port: args.port, socket: handlers });
announce(args.unix ? 0 : server.port);

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
exitOnStdinEof(stop);
