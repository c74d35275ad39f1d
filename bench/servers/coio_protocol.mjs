// coio echo at the protocol level: the hot path of the suite.
//
//   node bench/servers/coio_protocol.mjs [--copy | --buffered] [--guest] [--backend epoll|poll|select]
//                                        [--cert CERT.pem --key KEY.pem] [--host H] (--port N | --unix PATH)
//
// Default: a Protocol that borrows the loop's read buffer (dataReceived gets a
// view valid during the call) and writes it straight back. --copy: the
// protocol gets its own Buffer per read (asyncio's semantics). --buffered: a
// BufferedProtocol reading into one buffer shared by all connections.
// --cert/--key: the same protocols over TLS (createServer's ssl option).
// --guest: the same server in guest mode (runGuest), next to Node's loop.
import { setup } from './coio_common.mjs';

const { args, listenOptions, start } = setup();
const copy = args.flags.has('copy');
const buffered = args.flags.has('buffered');

class Echo {
  constructor() {
    this.transport = null;
    this.borrowsData = !copy;
  }
  connectionMade(transport) {
    this.transport = transport;
  }
  dataReceived(data) {
    this.transport.write(data);
  }
}

// Reads happen one at a time on the loop thread: one buffer serves everyone.
const shared = Buffer.allocUnsafe(256 * 1024);
class BufferedEcho {
  constructor() {
    this.transport = null;
  }
  connectionMade(transport) {
    this.transport = transport;
  }
  getBuffer() {
    return shared;
  }
  bufferUpdated(n) {
    this.transport.write(shared.subarray(0, n));
  }
}

const factory = buffered ? () => new BufferedEcho() : () => new Echo();

start(function* (loop) {
  return args.unix
    ? yield* loop.createUnixServer(factory, args.unix, listenOptions)
    : yield* loop.createServer(factory, args.host, args.port, listenOptions);
});
