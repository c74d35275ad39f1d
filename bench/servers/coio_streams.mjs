// coio echo at the streams level (generator coroutines: StreamReader / StreamWriter).
//
//   node bench/servers/coio_streams.mjs [--backend epoll|poll|select] [--cert CERT.pem --key KEY.pem]
//                                       [--host H] (--port N | --unix PATH)
//
// --cert/--key: the same over TLS (startServer's ssl option).
import { startServer, startUnixServer } from '../../dist/esm/index.js';
import { setup, serve } from './coio_common.mjs';

const { args, loop, listenOptions } = setup();

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

function* main() {
  const server = args.unix
    ? yield* startUnixServer(echo, args.unix, listenOptions)
    : yield* startServer(echo, args.host, args.port, listenOptions);
  serve(loop, server);
}

loop.runUntilComplete(main());
loop.runForever();
loop.close();
