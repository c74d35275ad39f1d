// coio echo at the streams level (generator coroutines: StreamReader / StreamWriter).
//
//   node bench/servers/coio_streams.mjs [--into] [--guest] [--backend epoll|poll|select] [--cert CERT.pem --key KEY.pem]
//                                       [--host H] (--port N | --unix PATH)
//
// Default: reader.read(256 KiB), a Buffer per read. --into: reader.readInto()
// into one 256 KiB buffer per connection (Deno's conn.read(buf) loop),
// replaced only while a write still holds it (a large unsent tail is kept by
// reference). --cert/--key: the same over TLS (startServer's ssl option).
// --guest: the same server in guest mode (runGuest).
import { startServer, startUnixServer } from '../../dist/esm/index.js';
import { setup } from './coio_common.mjs';

const { args, listenOptions, start } = setup();

function* echoInto(reader, writer) {
  let buf = Buffer.allocUnsafe(256 * 1024);
  try {
    for (;;) {
      const n = yield* reader.readInto(buf);
      if (n === 0) break;
      writer.write(buf.subarray(0, n));
      yield* writer.drain();
      if (writer.transport.getWriteBufferSize() > 0) buf = Buffer.allocUnsafe(buf.length);
    }
  } catch {
    // a reset peer ends this connection only
  } finally {
    writer.close();
  }
}

function* echo(reader, writer) {
  try {
    for (;;) {
      const data = yield* reader.read(256 * 1024);
      if (data.length === 0) break;
      writer.write(data);
      yield* writer.drain();
    }
  } catch {
    // a reset peer ends this connection only
  } finally {
    writer.close();
  }
}

const handler = args.flags.has('into') ? echoInto : echo;

start(function* () {
  return args.unix
    ? yield* startUnixServer(handler, args.unix, listenOptions)
    : yield* startServer(handler, args.host, args.port, listenOptions);
});
