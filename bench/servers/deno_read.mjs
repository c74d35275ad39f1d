// Deno's echo as a read loop: Deno.listen, then per connection
// `n = await conn.read(buf)` into one 256 KiB buffer and `await conn.write()`
// until it is all sent (run by deno: deno run -A). The level of coio's
// streams (a coroutine per connection reading and writing in turn).
//
//   deno run -A bench/servers/deno_read.mjs [--host H] (--port N | --unix PATH)
//
// Contract of bench/servers/common.mjs: PID/PORT lines, ends on SIGTERM or
// stdin EOF.
import { announce, exitOnStdinEof, parseServerArgs } from './common.mjs';

const args = parseServerArgs(process.argv.slice(2));

async function echo(conn) {
  const buf = new Uint8Array(256 * 1024);
  try {
    if (!args.unix) conn.setNoDelay(true);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  } catch {
    // a reset peer ends this connection only
  } finally {
    try {
      conn.close();
    } catch {}
  }
}

const listener = args.unix
  ? Deno.listen({ transport: 'unix', path: args.unix })
  : Deno.listen({ hostname: args.host, port: args.port });
announce(args.unix ? 0 : listener.addr.port);
const stop = () => Deno.exit(0);
Deno.addSignalListener('SIGTERM', stop);
exitOnStdinEof(stop);
for await (const conn of listener) echo(conn);
