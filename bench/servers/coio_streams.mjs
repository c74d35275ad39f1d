// coio echo at the streams level (generator coroutines: StreamReader / StreamWriter).
//
//   node bench/servers/coio_streams.mjs [--guest] [--backend epoll|poll|select] [--cert CERT.pem --key KEY.pem]
//                                       [--host H] (--port N | --unix PATH)
//
// --cert/--key: the same over TLS (startServer's ssl option).
// --guest: the same server in guest mode (runGuest).
import { startServer, startUnixServer } from '../../dist/esm/index.js';
import { setup } from './coio_common.mjs';

const { args, listenOptions, start } = setup();

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

start(function* () {
  return args.unix
    ? yield* startUnixServer(echo, args.unix, listenOptions)
    : yield* startServer(echo, args.host, args.port, listenOptions);
});
