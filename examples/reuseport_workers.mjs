// One coio loop is one thread; to use every core, run N processes that each
// have their own loop and their own listening socket on the SAME port, with
// SO_REUSEPORT (createServer(..., { reusePort: true })): the kernel spreads
// incoming connections across the listeners (by a hash of the 4-tuple), and
// nothing is shared between the workers.
//
// The parent (plain Node, no coio loop) picks the port, forks the workers
// (this file again, with the `worker` argument), prints the port and their
// pids. Each worker serves the HTTP server of examples/http_server.mjs, whose
// responses name the worker's pid.
//
//   node examples/reuseport_workers.mjs [workers] [port]      serve (default: one worker per core,
//                                                            port 8080; 0 picks a free port)
//   node examples/reuseport_workers.mjs demo [workers] [M]    start workers (default 2), make M (default 50)
//                                                            connections, count which pids answered, stop
//
//   curl http://127.0.0.1:8080/        "hello from worker <pid>"
//   wrk -t2 -c100 -d5s http://127.0.0.1:8080/
//
// Stopping: Ctrl-C / SIGTERM to the parent stops the workers and exits (the
// parent runs Node's own loop, so process.on('SIGTERM') works there; each
// worker handles SIGTERM with coio's loop.addSignalHandler and shuts its
// server down cleanly). Workers also exit if the parent dies: each watches
// its stdin, a pipe from the parent, which reaches EOF when the parent is gone.
import { fork } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gather, getRunningLoop, openConnection, run, Socket } from 'coio';
import { defaultHandler, startHttpServer, stopHttpServer } from './http_server.mjs';

const HOST = '127.0.0.1';

// ---- worker ------------------------------------------------------------

function* workerMain(port) {
  const loop = getRunningLoop();
  const hello = { status: 200, body: `hello from worker ${process.pid}\n` };
  const handler = (req) => (req.path === '/' && req.method === 'GET' ? hello : defaultHandler(req));
  const server = yield* startHttpServer(HOST, port, { handler, reusePort: true });
  // Stop on SIGTERM / SIGINT (from the parent, or Ctrl-C reaching the whole
  // process group), or when the parent goes away: stdin is a pipe (a
  // socketpair) that nobody writes to, so it becomes readable only at EOF.
  // Both are watched by coio's loop: Node's own loop does not run while
  // coio's waits, so process.on('SIGTERM') / 'disconnect' would never fire.
  const stop = loop.createFuture();
  const signals = ['SIGINT', 'SIGTERM'];
  for (const sig of signals) loop.addSignalHandler(sig, () => stop.done() || stop.setResult(sig));
  const stdin = fstatSync(0);
  const watchStdin = stdin.isFIFO() || stdin.isSocket();
  if (watchStdin) loop.addReader(0, () => stop.done() || stop.setResult('parent gone'));
  // stdout to a pipe is synchronous on Linux: the parent sees this at once.
  console.log(`worker ${process.pid} listening on ${HOST}:${port}`);
  try {
    yield* stop;
  } finally {
    for (const sig of signals) loop.removeSignalHandler(sig);
    if (watchStdin) loop.removeReader(0);
  }
  yield* stopHttpServer(server);
}

// ---- parent ------------------------------------------------------------

/**
 * A free port that stays reserved while the workers bind it: a socket bound
 * with SO_REUSEPORT but not listening gets no connections, and other
 * processes can't take the port (binding it needs SO_REUSEPORT and our uid).
 */
function reservePort(port) {
  const sock = new Socket();
  try {
    sock.setsockopt('SO_REUSEADDR', true);
    sock.setsockopt('SO_REUSEPORT', true);
    sock.bind([HOST, port]);
  } catch (err) {
    sock.close();
    throw err;
  }
  return sock;
}

/** Fork n workers on port; resolves to the children once all listen. */
function startWorkers(n, port) {
  const self = fileURLToPath(import.meta.url);
  const children = [];
  const ready = [];
  for (let i = 0; i < n; i++) {
    const child = fork(self, ['worker', String(port)], { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        const lines = createInterface({ input: child.stdout });
        lines.on('line', (line) => {
          if (line.startsWith('worker ')) resolve(child);
          else console.log(`[${child.pid}] ${line}`);
        });
        child.once('exit', (code, signal) => reject(new Error(`worker ${child.pid} exited (${signal ?? code}) before listening`)));
      }),
    );
  }
  return Promise.all(ready).catch((err) => {
    stopWorkers(children);
    throw err;
  });
}

/** SIGTERM every worker; resolves once all have exited. */
function stopWorkers(children) {
  return Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** M sequential connections (one request each) with a coio streams client: the pid per answer. */
function* askPids(port, m) {
  const pids = [];
  for (let i = 0; i < m; i++) {
    const [reader, writer] = yield* openConnection(HOST, port);
    writer.write(`GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nConnection: close\r\n\r\n`);
    const response = (yield* reader.read()).toString(); // until the server closes
    writer.close();
    yield* writer.waitClosed();
    const pid = /hello from worker (\d+)/.exec(response)?.[1];
    if (pid === undefined) throw new Error(`unexpected response: ${JSON.stringify(response)}`);
    pids.push(Number(pid));
  }
  return pids;
}

async function parentMain({ demo, workers, port, connections }) {
  const reserved = reservePort(port);
  const actualPort = reserved.getsockname().port;
  let children = [];
  const stop = async (code) => {
    await stopWorkers(children);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    children = await startWorkers(workers, actualPort);
  } finally {
    reserved.close(); // the workers' listeners hold the port now
  }
  console.log(`port ${actualPort}: ${workers} workers, pids ${children.map((c) => c.pid).join(' ')}`);
  if (!demo) {
    console.log(`listening on http://${HOST}:${actualPort}`);
    return; // serve until a signal
  }
  // The demo client runs on a coio loop in this process; Node's loop (which
  // watches the children) just waits meanwhile.
  const pids = run(askPids(actualPort, connections));
  const counts = new Map();
  for (const pid of pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  console.log(`${connections} connections answered by ${counts.size} worker(s):`);
  for (const [pid, count] of counts) console.log(`  pid ${pid}: ${count}`);
  console.log(`pids answered: ${[...counts.keys()].join(' ')}`);
  await stopWorkers(children);
  console.log('workers stopped');
}

const args = process.argv.slice(2);
if (args[0] === 'worker') {
  run(workerMain(Number(args[1])));
} else if (args[0] === 'demo') {
  parentMain({ demo: true, workers: Number(args[1] ?? 2), port: 0, connections: Number(args[2] ?? 50) }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else if (args.every((a) => /^\d+$/.test(a))) {
  parentMain({ demo: false, workers: Number(args[0] ?? availableParallelism()), port: Number(args[1] ?? 8080) }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  console.error('usage: node examples/reuseport_workers.mjs [workers [port]] | demo [workers [connections]]');
  process.exit(2);
}
