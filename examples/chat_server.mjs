// A broadcast chat server on coio streams: every line a client sends goes to
// all the other clients, prefixed with its name.
//
//   node examples/chat_server.mjs [port] [host]    serve (default 8889; 0 picks a free port); prints
//                                                  "chat server listening on HOST:PORT"
//   node examples/chat_server.mjs demo             serve on a free port, let three bots chat, print
//                                                  what one of them sees, exit
//
//   nc 127.0.0.1 8889            (in several terminals)
//
// Protocol (lines of UTF-8 text):
//   server -> you:     "* welcome, you are guest1 (commands: /nick NAME, /who, /quit)"
//   others' messages:  "guest2: hello"            (your own lines are not sent back to you)
//   notices:           "* guest2 joined", "* guest2 is now known as bob", "* bob left"
//   /nick NAME         rename (1-32 of A-Z a-z 0-9 _ -; names are unique)
//   /who               list who is here
//   /quit              leave
//
// A slow client must not stall the others: the broadcast never waits for a
// client (no drain per recipient). Instead each client's unsent output is
// bounded: a client whose transport write buffer would exceed
// --max-buffer bytes (default 1 MiB) is DISCONNECTED (its buffered output
// dropped, the connection aborted) and the others get "* NAME left (too
// slow)". Dropping messages would silently corrupt the conversation;
// disconnecting is what IRC servers do ("SendQ exceeded"). The bound is
// what the kernel's socket buffers can't absorb, and one read from a
// sender can carry up to 256 KiB of lines broadcast at once: keep it well
// above that, or a client that reads fine can be cut off by a burst.
//
// Stopping: Ctrl-C or SIGTERM shut it down cleanly (tell everyone, stop
// listening, close the connections, exit 0); the server runs in guest mode
// (runGuest), so the handlers are Node's own process.once() listeners
// (untilSignal in _common.mjs). A second Ctrl-C ends a hung shutdown.
import { gather, openConnection, runGuest, sleep, startServer } from 'coio';
import { untilSignal } from './_common.mjs';

const MAX_LINE = 4096;
const DEFAULT_MAX_BUFFER = 1024 * 1024;
const NAME_RE = /^[A-Za-z0-9_-]{1,32}$/;

class ChatRoom {
  constructor(maxBuffer) {
    this.maxBuffer = maxBuffer;
    /** @type {Map<string, {name: string, writer: import('coio').StreamWriter}>} */
    this.clients = new Map(); // by name
    this.guests = 0;
  }

  /** Send a line to one client, or disconnect it if its buffer is over the bound. */
  sendTo(client, line) {
    const writer = client.writer;
    if (writer.isClosing()) return;
    const bytes = Buffer.from(line + '\n');
    if (writer.transport.getWriteBufferSize() + bytes.length > this.maxBuffer) {
      this.kick(client, 'too slow');
      return;
    }
    writer.write(bytes);
  }

  /** A line to everyone except `from`. */
  broadcast(line, from = null) {
    for (const client of [...this.clients.values()]) if (client !== from) this.sendTo(client, line);
  }

  /** Disconnect a client now, dropping its unsent output; its handler announces the leave. */
  kick(client, reason) {
    client.kicked = reason;
    client.writer.transport.abort();
  }

  join(writer) {
    let name;
    do name = `guest${++this.guests}`;
    while (this.clients.has(name));
    const client = { name, writer, kicked: null };
    this.clients.set(name, client);
    this.sendTo(client, `* welcome, you are ${name} (commands: /nick NAME, /who, /quit)`);
    this.broadcast(`* ${name} joined`, client);
    return client;
  }

  leave(client) {
    if (this.clients.get(client.name) !== client) return;
    this.clients.delete(client.name);
    this.broadcast(`* ${client.name} left${client.kicked ? ` (${client.kicked})` : ''}`);
  }

  rename(client, name) {
    if (!NAME_RE.test(name)) return this.sendTo(client, '* a name is 1-32 of A-Z a-z 0-9 _ -');
    if (name === client.name) return;
    if (this.clients.has(name)) return this.sendTo(client, `* ${name} is taken`);
    const old = client.name;
    this.clients.delete(old);
    client.name = name;
    this.clients.set(name, client);
    this.sendTo(client, `* you are now known as ${name}`);
    this.broadcast(`* ${old} is now known as ${name}`, client);
  }
}

/** One client's coroutine: read lines until EOF, /quit, an error or a kick. */
function* handleClient(room, reader, writer) {
  const client = room.join(writer);
  try {
    for (;;) {
      let raw;
      try {
        raw = yield* reader.readLine();
      } catch (err) {
        if (err.code !== undefined) break; // the connection broke (ECONNRESET, ...)
        room.sendTo(client, `* line too long (max ${MAX_LINE} bytes)`); // readLine discarded it
        continue;
      }
      if (raw.length === 0) break; // EOF
      const line = raw.toString('utf8').replace(/\r?\n$/, '');
      if (line.length === 0) continue;
      if (line === '/quit') {
        room.sendTo(client, '* bye');
        break;
      }
      if (line === '/who') {
        room.sendTo(client, `* here: ${[...room.clients.keys()].join(', ')}`);
      } else if (line.startsWith('/nick ')) {
        room.rename(client, line.slice(6).trim());
      } else if (line.startsWith('/')) {
        room.sendTo(client, '* unknown command (try /nick NAME, /who, /quit)');
      } else {
        room.broadcast(`${client.name}: ${line}`, client);
      }
    }
  } finally {
    room.leave(client);
    writer.close(); // flushes what is still buffered (nothing after a kick: abort dropped it)
  }
}

function* startChatServer(host, port, { maxBuffer = DEFAULT_MAX_BUFFER } = {}) {
  const room = new ChatRoom(maxBuffer);
  const server = yield* startServer((reader, writer) => handleClient(room, reader, writer), host, port, { limit: MAX_LINE });
  return [server, room];
}

// ---- demo: three bots --------------------------------------------------

function* bot(port, nick, lines, transcript) {
  const [reader, writer] = yield* openConnection('127.0.0.1', port);
  const readAll = function* () {
    for (;;) {
      const line = yield* reader.readLine();
      if (line.length === 0) return;
      if (transcript) transcript.push(line.toString().trimEnd());
    }
  };
  const reading = readAll();
  const talking = (function* () {
    writer.write(`/nick ${nick}\n`);
    for (const line of lines) {
      yield* sleep(0.05);
      writer.write(line + '\n');
    }
    yield* sleep(0.1);
    writer.write('/quit\n');
  })();
  yield* gather(reading, talking);
  writer.close();
  yield* writer.waitClosed();
}

function* demo() {
  const [server] = yield* startChatServer('127.0.0.1', 0);
  const { port } = server.sockets[0].getsockname();
  console.log(`chat server listening on 127.0.0.1:${port}`);
  const seenByAlice = [];
  yield* gather(
    bot(port, 'alice', ['hi all', 'how is the loop?'], seenByAlice),
    (function* () {
      yield* sleep(0.02);
      yield* bot(port, 'bob', ['hello alice', 'it polls fine'], null);
    })(),
    (function* () {
      yield* sleep(0.04);
      yield* bot(port, 'carol', ['/who'], null);
    })(),
  );
  console.log("what alice's client received:");
  for (const line of seenByAlice) console.log(`  ${line}`);
  server.close();
  yield* server.waitClosed();
  console.log('demo done');
}

function* serve(port, host, maxBuffer) {
  const [server, room] = yield* startChatServer(host, port, { maxBuffer });
  console.log(`chat server listening on ${host}:${server.sockets[0].getsockname().port}`);
  const sig = yield* untilSignal(); // the server accepts connections meanwhile
  console.log(`${sig}: shutting down`);
  room.broadcast('* the server is shutting down');
  // Stop listening, close every connection once its pending output is sent,
  // and abort those still open after 5 s (a client that does not read).
  yield* server.shutdown();
}

const argv = process.argv.slice(2);
let maxBuffer = DEFAULT_MAX_BUFFER;
const mb = argv.indexOf('--max-buffer');
if (mb !== -1) {
  maxBuffer = Number(argv[mb + 1]);
  argv.splice(mb, 2);
}
const [arg, hostArg] = argv;
if (arg === 'demo') await runGuest(demo);
else if ((arg === undefined || /^\d+$/.test(arg)) && maxBuffer > 0) await runGuest(serve(Number(arg ?? 8889), hostArg ?? '127.0.0.1', maxBuffer));
else {
  console.error('usage: node examples/chat_server.mjs [port [host] | demo] [--max-buffer BYTES]');
  process.exit(2);
}
