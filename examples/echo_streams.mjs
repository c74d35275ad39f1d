// Echo server and client with streams — asyncio's start_server /
// open_connection. Each connection is a coroutine holding a StreamReader and
// a StreamWriter; writer.drain() is the back-pressure point (it waits only
// when the write buffer is over its high-water mark).
//
//   node examples/echo_streams.mjs                          demo: server + client in one process, then exit
//   node examples/echo_streams.mjs server [port] [host]     serve on 127.0.0.1:port (default 8888) until Ctrl-C / SIGTERM
//   node examples/echo_streams.mjs client HOST PORT MSG     send MSG, print the echo
//
// Stopping the server: Ctrl-C or SIGTERM shut it down cleanly (stop
// listening, close the connections, exit 0); the server runs in guest mode
// (runGuest), so the handlers are Node's own process.once() listeners
// (untilSignal in _common.mjs). A second Ctrl-C ends a hung shutdown.
import { gather, openConnection, startServer } from 'coio';
import { echoCli, untilSignal } from './_common.mjs';

/** One connection: echo until EOF. startServer runs it as a task. */
function* handleClient(reader, writer) {
  const peer = writer.getExtraInfo('peername');
  try {
    for (;;) {
      const data = yield* reader.read(256 * 1024); // whatever is there, up to 256 KiB; empty at EOF
      if (data.length === 0) break;
      writer.write(data);
      yield* writer.drain(); // waits only if the client reads slower than it sends
    }
  } catch (err) {
    console.error(`connection from ${peer?.address}:${peer?.port} failed: ${err.code ?? err.message}`);
  } finally {
    writer.close();
  }
}

function* echoClient(host, port, msg) {
  const [reader, writer] = yield* openConnection(host, port);
  try {
    // Send and receive at once (a big message would otherwise fill both
    // directions' kernel buffers while nobody reads).
    const [, reply] = yield* gather(send(writer, msg), reader.read()); // read(): everything until EOF
    return reply.toString();
  } finally {
    writer.close();
    yield* writer.waitClosed();
  }
}

function* send(writer, msg) {
  writer.write(msg);
  yield* writer.drain();
  writer.writeEof(); // half-close: the server sees EOF, echoes the rest and closes
}

function* demo() {
  const server = yield* startServer(handleClient, '127.0.0.1', 0);
  const { port } = server.sockets[0].getsockname();
  console.log(`server: listening on 127.0.0.1:${port}`);
  for (const msg of ['hello', 'coio streams', 'z'.repeat(1_000_000)]) {
    const reply = yield* echoClient('127.0.0.1', port, msg);
    const shown = (s) => (s.length > 40 ? `${s.slice(0, 12)}... (${s.length} bytes)` : JSON.stringify(s));
    console.log(`client: sent ${shown(msg)}, got ${shown(reply)}`);
    if (reply !== msg) throw new Error('echo mismatch');
  }
  server.close();
  yield* server.waitClosed();
  console.log('demo done');
}

function* serverMain(port, host) {
  const server = yield* startServer(handleClient, host, port);
  const addrs = server.addresses().map((a) => `${a.address}:${a.port}`);
  console.log(`echo server (streams) listening on ${addrs.join(', ')}`);
  const sig = yield* untilSignal(); // the server accepts connections meanwhile
  console.log(`${sig}: shutting down`);
  // Stop listening, close every connection once its pending output is sent,
  // and abort those still open after 5 s (a client that does not read).
  yield* server.shutdown();
}

await echoCli('echo_streams', { demo, serverMain, echoClient });
