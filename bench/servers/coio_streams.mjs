// coio echo at the streams level (generator coroutines: StreamReader / StreamWriter).
//
//   node bench/servers/coio_streams.mjs [--backend epoll|poll|select] [--host H] (--port N | --unix PATH)
import { startServer, startUnixServer } from '../../dist/esm/index.js';
import { setup, serve } from './coio_common.mjs';

const { args, loop } = setup();

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
    ? yield* startUnixServer(echo, args.unix, { backlog: 4096 })
    : yield* startServer(echo, args.host, args.port, { backlog: 4096 });
  serve(loop, server);
}

loop.runUntilComplete(main());
loop.runForever();
loop.close();
