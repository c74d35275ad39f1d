// Echo server and client with transports and protocols — asyncio's
// loop.create_server / loop.create_connection with Protocol classes. The
// loop calls the protocol's callbacks (connectionMade, dataReceived,
// eofReceived, connectionLost); the transport writes at once and buffers only
// what the kernel doesn't take. This is coio's fastest level.
//
//   node examples/echo_protocol.mjs                          demo: server + client in one process, then exit
//   node examples/echo_protocol.mjs server [port] [host]     serve on 127.0.0.1:port (default 8888) until Ctrl-C / SIGTERM
//   node examples/echo_protocol.mjs client HOST PORT MSG     send MSG, print the echo
//
// Stopping the server: Ctrl-C or SIGTERM shut it down cleanly (stop
// listening, close the connections, exit 0); the server runs in guest mode
// (runGuest), so the handlers are Node's own process.once() listeners
// (untilSignal in _common.mjs). A second Ctrl-C ends a hung shutdown.
import { getRunningLoop, ProtocolBase } from 'coio';
import { echoCli, untilSignal } from './_common.mjs';

/** Server side: write back whatever arrives. */
class EchoServerProtocol extends ProtocolBase {
  // dataReceived gets a view of the loop's read buffer (no allocation per
  // read); transport.write copies whatever it cannot send at once.
  borrowsData = true;

  connectionMade(transport) {
    this.transport = transport;
  }

  dataReceived(data) {
    this.transport.write(data);
  }

  // Flow control: when the client reads slower than it sends, stop reading
  // until our write buffer drains, so memory stays bounded.
  pauseWriting() {
    this.transport.pauseReading();
  }

  resumeWriting() {
    this.transport.resumeReading();
  }

  // eofReceived() returns nothing: the transport closes once the buffered
  // echo is flushed.
}

/** Client side: send one message, half-close, collect the echo until the server closes. */
class EchoClientProtocol extends ProtocolBase {
  constructor(message, done) {
    super();
    this.message = message;
    this.done = done; // a Future: resolved with the echo when the connection closes
    this.chunks = [];
  }

  connectionMade(transport) {
    transport.write(this.message);
    transport.writeEof(); // sent after the buffered data
  }

  dataReceived(data) {
    this.chunks.push(data); // our own Buffer (no borrowsData): keeping it is fine
  }

  connectionLost(exc) {
    if (exc) this.done.setException(exc);
    else this.done.setResult(Buffer.concat(this.chunks).toString());
  }
}

function* echoClient(host, port, msg) {
  const loop = getRunningLoop();
  const done = loop.createFuture();
  yield* loop.createConnection(() => new EchoClientProtocol(msg, done), host, port);
  return yield* done;
}

function* startEchoServer(host, port) {
  return yield* getRunningLoop().createServer(() => new EchoServerProtocol(), host, port);
}

function* demo() {
  const server = yield* startEchoServer('127.0.0.1', 0);
  const { port } = server.sockets[0].getsockname();
  console.log(`server: listening on 127.0.0.1:${port}`);
  for (const msg of ['hello', 'coio protocols', 'y'.repeat(1_000_000)]) {
    const reply = yield* echoClient('127.0.0.1', port, msg);
    const shown = (s) => (s.length > 40 ? `${s.slice(0, 12)}... (${s.length} bytes)` : JSON.stringify(s));
    console.log(`client: sent ${shown(msg)}, got ${shown(reply)}`);
    if (reply !== msg) throw new Error('echo mismatch');
  }
  server.close();
  yield* server.waitClosed(); // the listener and every connection it accepted are gone
  console.log('demo done');
}

function* serverMain(port, host) {
  const server = yield* startEchoServer(host, port);
  const addrs = server.addresses().map((a) => `${a.address}:${a.port}`);
  console.log(`echo server (protocols) listening on ${addrs.join(', ')}`);
  const sig = yield* untilSignal(); // the server accepts connections meanwhile
  console.log(`${sig}: shutting down`);
  // Stop listening, close every connection once its pending output is sent,
  // and abort those still open after 5 s (a client that does not read).
  yield* server.shutdown();
}

await echoCli('echo_protocol', { demo, serverMain, echoClient });
