// `npm start`: coio doing its job, start to end, in one process. A stream
// echo server on a free port of 127.0.0.1, driven by concurrent clients that
// each send request lines and read every reply; then it prints what was
// served and what it cost, shuts the server down and exits.
//
//   node examples/demo.mjs [clients] [requests per client] [bytes per request]
//
// "Cost" is for the whole process (server and clients share it): CPU time
// per request, peak RSS, and the fds open while every client is connected.
import { readdirSync } from 'node:fs';
import { gather, getRunningLoop, openConnection, run, startServer } from 'coio';

const [clients = 20, requests = 500, size = 1024] = process.argv.slice(2).map(Number);
let peakFds = 0;

/** The server's handler: one task per connection; answer each line with the same line. */
function* echoLines(reader, writer) {
  try {
    for (;;) {
      const line = yield* reader.readLine(); // up to and including '\n'; empty at EOF
      if (line.length === 0) break;
      writer.write(line);
      yield* writer.drain(); // waits only while this client reads slower than it sends
    }
  } finally {
    writer.close();
  }
}

/** One client: `requests` lines of `size` bytes, each reply read and checked before the next. */
function* client(port, id) {
  const [reader, writer] = yield* openConnection('127.0.0.1', port);
  const line = Buffer.alloc(size, 97 + (id % 26));
  line[size - 1] = 10; // '\n'
  let bytes = 0;
  for (let i = 0; i < requests; i++) {
    writer.write(line);
    const reply = yield* reader.readExactly(size);
    if (!reply.equals(line)) throw new Error(`client ${id}: reply ${i} differs from its request`);
    bytes += reply.length;
    if (i === 0) peakFds = Math.max(peakFds, readdirSync('/proc/self/fd').length);
  }
  writer.close();
  yield* writer.waitClosed();
  return bytes;
}

run(function* main() {
  const server = yield* startServer(echoLines, '127.0.0.1', 0); // port 0: a free port
  const { port } = server.addresses()[0];
  const backend = getRunningLoop().backend;
  console.log(`coio: an echo server on 127.0.0.1:${port} (${backend}), ${clients} clients x ${requests} requests of ${size} bytes`);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const sizes = yield* gather(...Array.from({ length: clients }, (_, id) => client(port, id)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const served = clients * requests;
  const bytes = sizes.reduce((a, b) => a + b, 0);
  console.log(`served ${served} requests (${(bytes / 1e6).toFixed(1)} MB each way) in ${seconds.toFixed(2)} s: ${Math.round(served / seconds)} requests/s`);
  console.log(
    `cost: ${((cpu.user + cpu.system) / served).toFixed(1)} µs CPU per request (server and clients, user ${(cpu.user / 1e6).toFixed(2)} s + system ${(cpu.system / 1e6).toFixed(2)} s), ` +
      `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB, ${peakFds} fds open with every client connected`,
  );
  server.close();
  yield* server.waitClosed();
  console.log('server closed; done');
});
