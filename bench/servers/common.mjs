// Shared plumbing of the Node echo servers (node_net.mjs, node_http.mjs and
// the coio servers). Only argument parsing and the startup contract live here,
// nothing on the request path.
//
// The contract every server in bench/servers/ follows:
//   --host H        address to bind (default 127.0.0.1)
//   --port N        TCP port; 0 = ephemeral
//   --unix PATH     listen on a Unix socket instead
//   --backend B     coio servers only: epoll | io_uring | poll | select | kqueue
//   --cert F --key F  the TLS servers: certificate chain and private key (PEM)
//   prints "PID <pid>" then "PORT <n>" on stdout once it accepts connections,
//   or "SKIP <reason>" and exits 3 when it cannot run here;
//   ends on SIGTERM (exit 0 from a handler, or the default action), and
//   should end when stdin (a pipe or socket from the harness) reaches EOF.
import { fstatSync, unlinkSync } from 'node:fs';

/**
 * @param {string[]} argv
 * @returns {{host: string, port: number, unix: string | null, backend: string | null,
 *            cert: string | null, key: string | null, flags: Set<string>}}
 */
export function parseServerArgs(argv) {
  const out = { host: '127.0.0.1', port: 0, unix: null, backend: null, cert: null, key: null, flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') out.host = argv[++i];
    else if (a === '--port') out.port = Number(argv[++i]);
    else if (a === '--unix') out.unix = argv[++i];
    else if (a === '--backend') out.backend = argv[++i];
    else if (a === '--cert') out.cert = argv[++i];
    else if (a === '--key') out.key = argv[++i];
    else if (a.startsWith('--')) out.flags.add(a.slice(2));
    else throw new Error(`unexpected argument ${a}`);
  }
  if (out.unix) {
    try {
      unlinkSync(out.unix);
    } catch {}
  }
  return out;
}

/** Print the startup lines the harness waits for. */
export function announce(port) {
  process.stdout.write(`PID ${process.pid}\nPORT ${port}\n`);
}

/** Print a SKIP line and exit 3 (the harness reports the reason and moves on). */
export function skip(reason) {
  process.stdout.write(`SKIP ${reason}\n`);
  process.exit(3);
}

/**
 * Call stop() when stdin reaches EOF: the harness died without killing us.
 * Only when stdin is a pipe or a socket (not a terminal, not /dev/null, which a shell
 * gives to background jobs).
 */
export function exitOnStdinEof(stop) {
  let isPipe = false;
  try {
    const st = fstatSync(0);
    isPipe = st.isFIFO() || st.isSocket(); // Node's stdio "pipe" is a socketpair
  } catch {}
  if (!isPipe) return;
  process.stdin.on('end', stop);
  process.stdin.on('error', () => {});
  process.stdin.resume();
}
