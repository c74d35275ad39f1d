// Echo server and client with coio's socket coroutines — the lowest level,
// like asyncio's loop.sock_accept / sock_recv / sock_sendall / sock_connect.
// Non-blocking coio `Socket`s; each coroutine tries the syscall first and
// waits for readiness only when it would block.
//
//   node examples/echo_sock.mjs                          demo: server + client in one process, then exit
//   node examples/echo_sock.mjs server [port] [host]     serve on 127.0.0.1:port (default 8888) until Ctrl-C / SIGTERM
//   node examples/echo_sock.mjs client HOST PORT MSG     send MSG, print the echo
//
// Stopping the server: Ctrl-C or SIGTERM shut it down cleanly (stop
// listening, close the connections, exit 0); the server runs in guest mode
// (runGuest), so the handlers are Node's own process.once() listeners
// (untilSignal in _common.mjs). A second Ctrl-C ends a hung shutdown.
import { AF_INET6, CancelledError, createTask, gather, getRunningLoop, SHUT_WR, sleep, Socket, wait } from 'coio';
import { echoCli, untilSignal } from './_common.mjs';

const RECV_SIZE = 64 * 1024;

/** accept() errors about one connection only (it was reset before we took it): skip it. */
const ACCEPT_SKIP = new Set(['ECONNABORTED', 'EPROTO', 'ECONNRESET', 'EPERM']);
/**
 * Out of fds (EMFILE: this process's limit, ENFILE: the system's) or kernel
 * memory: accepting again at once would fail again. The connections wait in
 * the listen backlog; try again after a pause, once clients have left.
 */
const ACCEPT_BACKOFF = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);
const ACCEPT_RETRY_DELAY = 1; // seconds, as asyncio's servers

/** Echo one connection until the peer closes its side. */
function* handleClient(conn, peer) {
  const loop = getRunningLoop();
  try {
    for (;;) {
      const data = yield* loop.sockRecv(conn, RECV_SIZE);
      if (data.length === 0) break; // EOF: the client is done sending
      yield* loop.sockSendall(conn, data);
    }
  } catch (err) {
    console.error(`connection from ${peer.address}:${peer.port} failed: ${err.code ?? err.message}`);
  } finally {
    conn.close();
  }
}

/** A listening coio Socket on host:port (a numeric address; port 0 picks one). */
function listen(host, port) {
  const sock = new Socket(host.includes(':') ? AF_INET6 : undefined);
  try {
    sock.setsockopt('SO_REUSEADDR', true);
    sock.bind([host, port]);
    sock.listen(128);
  } catch (err) {
    sock.close();
    throw err;
  }
  return sock;
}

/**
 * Accept connections forever, one task per client; closes the listener when
 * cancelled. A failed accept does not end it: a server must outlive a burst
 * of clients that exhausts its fds.
 */
function* serve(listener, { verbose = true } = {}) {
  const loop = getRunningLoop();
  const clients = new Set();
  try {
    for (;;) {
      let conn, peer;
      try {
        [conn, peer] = yield* loop.sockAccept(listener);
      } catch (err) {
        if (ACCEPT_SKIP.has(err.code)) continue;
        if (!ACCEPT_BACKOFF.has(err.code)) throw err;
        console.error(`server: accept failed (${err.code}), ${clients.size} clients connected; retrying in ${ACCEPT_RETRY_DELAY} s`);
        yield* sleep(ACCEPT_RETRY_DELAY);
        continue;
      }
      try {
        if (verbose) console.log(`server: connection from ${peer.address}:${peer.port}`);
        const task = createTask(handleClient(conn, peer)); // closes conn when done
        clients.add(task);
        task.addDoneCallback(() => clients.delete(task));
      } catch (err) {
        conn.close(); // not handed to a task: ours to close
        throw err;
      }
    }
  } finally {
    listener.close();
    for (const task of clients) task.cancel();
  }
}

/** Connect to host:port, send msg, read the echo until the server closes. */
function* echoClient(host, port, msg) {
  const sock = yield* connect(host, port);
  try {
    // Send and receive at once: a big message would otherwise fill both
    // directions' kernel buffers and deadlock (we wouldn't read while sending).
    const [, reply] = yield* gather(send(sock, msg), receiveAll(sock));
    return reply.toString();
  } finally {
    sock.close();
  }
}

/** A connected Socket: try each address host resolves to ('localhost' may be ::1 and 127.0.0.1). */
function* connect(host, port) {
  const loop = getRunningLoop();
  const infos = yield* loop.getaddrinfo(host, port); // names are resolved off the loop thread
  let lastError = new Error(`no address for ${host}`);
  for (const info of infos) {
    const sock = new Socket(info.family);
    try {
      yield* loop.sockConnect(sock, [info.host, info.port]);
      return sock;
    } catch (err) {
      sock.close();
      if (err instanceof CancelledError) throw err; // cancelled: not a reason to try the next address
      lastError = err;
    }
  }
  throw lastError;
}

function* send(sock, msg) {
  yield* getRunningLoop().sockSendall(sock, msg);
  sock.shutdown(SHUT_WR); // tell the server we're done: it echoes the rest and closes
}

function* receiveAll(sock) {
  const loop = getRunningLoop();
  const chunks = [];
  for (;;) {
    const data = yield* loop.sockRecv(sock, RECV_SIZE);
    if (data.length === 0) return Buffer.concat(chunks);
    chunks.push(data);
  }
}

function* demo() {
  const listener = listen('127.0.0.1', 0);
  const { port } = listener.getsockname();
  console.log(`server: listening on 127.0.0.1:${port}`);
  const server = createTask(serve(listener));
  for (const msg of ['hello', 'coio sockets', 'x'.repeat(1_000_000)]) {
    const reply = yield* echoClient('127.0.0.1', port, msg);
    const shown = (s) => (s.length > 40 ? `${s.slice(0, 12)}... (${s.length} bytes)` : JSON.stringify(s));
    console.log(`client: sent ${shown(msg)}, got ${shown(reply)}`);
    if (reply !== msg) throw new Error('echo mismatch');
  }
  server.cancel(); // closes the listener
  yield* wait([server]); // (wait, unlike yield* server, doesn't raise its CancelledError)
  console.log('demo done');
}

function* serverMain(port, host) {
  const listener = listen(host, port);
  console.log(`echo server (sock* coroutines) listening on ${host}:${listener.getsockname().port}`);
  const server = createTask(serve(listener));
  const sig = yield* untilSignal();
  console.log(`${sig}: shutting down`);
  server.cancel(); // closes the listener and cancels the client tasks (each closes its socket)
  yield* wait([server]);
}

await echoCli('echo_sock', { demo, serverMain, echoClient });
