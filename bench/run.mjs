#!/usr/bin/env node
// The coio benchmark suite: `npm run bench` (options: `npm run bench -- --help`).
//
// Echo servers (bench/servers/) are driven by a C closed-loop ping-pong
// client (bench/client/pingpong.c), server pinned to CPU 0 and client to
// CPU 1. Three sections:
//   main     1 / 10 / 100 KiB messages at 10 connections: req/s, p50, p99,
//            and the server's CPU time per request (utime+stime from
//            /proc/<pid>/stat over the measured window, read by the client
//            at the window's edges);
//   scaling  10 .. 10,000 connections, 10 of them active, per backend;
//   memory   server RSS before/after 10,000 idle connections.
//   tls      echo over TLS (1 and 100 KiB, 10 connections) with the TLS
//            build of the client (bench/build/pingpong_tls, system libssl),
//            and the handshake rate: new TLS connections per second, one
//            echo each.
//   http     "Hello, World!" over HTTP/1.1 keep-alive, driven by wrk:
//            examples/http_server.mjs, Node's http, Bun.serve, Deno.serve.
//   sendfile examples/http_server.mjs serving a 1 MiB and a 16 MiB file to
//            wrk: GET /file/NAME (loop.sendfile, sendfile(2)) against
//            /file/NAME?copy (read into Buffers, written through the
//            transport), interleaved in one run: requests/s, MiB/s and the
//            server's CPU per request, with the load average beside them.
// Bun and Deno (echo and HTTP peers) take part when `npm run bench:peers`
// has installed them into bench/build/peers/.
// Output: markdown on stdout (progress on stderr), JSON and SVG charts in
// bench/results/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  spawnTracked, stopChild, lineReader, collect, sleep, clockTicks, rssBytes, fdCount, waitFds, hasProc,
  machineBusyCores, processCpuSeconds,
} from './lib/proc.mjs';
import { deriveRun, summarize, summarizeRuns } from './lib/stats.mjs';
import { addRatios, addTlsRatios, addHttpRatios, renderMarkdown, renderCharts, sizeLabel } from './lib/report.mjs';
import { findPeers, PEERS_HINT } from './lib/peers.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
const BUILD = join(BENCH, 'build');
const COIO_DIST = join(ROOT, 'dist', 'esm', 'index.js');

// ===========================================================================
// SERVER REGISTRY: every server the suite can measure.
//
// Each entry:
//   name      id for --servers (and the JSON); label: what the tables show
//   group     'floor' | 'node' | 'python' | 'coio'
//   argv(ctx, backend)  the command line (the harness appends the address:
//             --host 127.0.0.1 --port 0, or --unix PATH; and prefixes taskset)
//   check(ctx) null when runnable, else the reason it is skipped
//   main      measured in the main section (sizes x repeats)
//   scaling   backends to measure in the scaling section: [null] = the
//             server's only loop; [{name:'select', fdLimit:1024}, ...] for coio
//   memory    measured in the memory section
//   tls       a TLS server (given --cert/--key): measured in the tls section only
//   handshake with tls: also in the handshake-rate runs
//   level     'protocol' | 'streams': the tls table's "x uvloop" column
//             compares a server with uvloop's server of the same level
//
// A coio server is one line below in the "coio" block. The server file must
// follow the contract in bench/README.md: take --host/--port/--unix (and
// --backend), print "PID <pid>" and "PORT <n>" when listening (or
// "SKIP <reason>" + exit 3), echo every byte, exit 0 on SIGTERM.
// Entries whose file doesn't exist yet are skipped with a line saying so.
// ===========================================================================

const SELECT_FD_SETSIZE = 1024;
// A backend of the scaling section: name (--backend NAME), id (the line's
// name, --scaling-backends; default: name), args (more server arguments).
// io_uring twice: with the readiness transports (polls in the ring, then
// recv / send syscalls) and with the proactor ones (recv / send in the ring).
const URING_READINESS = { name: 'io_uring', id: 'io_uring-readiness', label: 'io_uring readiness', args: ['--readiness'] };
const URING_PROACTOR = { name: 'io_uring', id: 'io_uring-proactor', label: 'io_uring proactor', args: ['--proactor'] };
const COIO_BACKENDS = [{ name: 'epoll' }, URING_READINESS, URING_PROACTOR, { name: 'poll' }, { name: 'select', fdLimit: SELECT_FD_SETSIZE }];
const backendId = (backend) => backend.id ?? backend.name;

// TLS servers (section "tls") take the harness's certificate: --cert F --key F.
const tlsArgs = (ctx) => ['--cert', ctx.tls.cert, '--key', ctx.tls.key];
const tlsCheck = (ctx) => ctx.tlsSkip ?? null;

function pythonServer(loop, level, { tls = false } = {}) {
  return {
    name: `${loop}${tls ? '-tls' : ''}-${level}`,
    label: `${loop} ${level}${tls ? ' (ssl)' : ''}`,
    group: 'python',
    level,
    argv: (ctx) => [
      ctx.python.path, join(BENCH, 'servers', 'py_asyncio.py'), '--loop', loop, '--level', level, ...(tls ? tlsArgs(ctx) : []),
    ],
    check: (ctx) => {
      if (tls && ctx.tlsSkip) return ctx.tlsSkip;
      if (!ctx.python) return `no python3 found (tried ${ctx.pythonTried.join(', ')})`;
      if (loop === 'uvloop' && !ctx.python.uvloop) {
        return `uvloop not importable by ${ctx.pythonTried.join(' or ')} (on Debian: apt-get install python3-uvloop)`;
      }
      return null;
    },
    main: !tls,
    tls,
  };
}

function coioServer(name, file, extraArgs, o) {
  const path = join(BENCH, 'servers', file);
  const tls = o.tls ?? false;
  return {
    name,
    label: o.label,
    scalingLabel: o.scalingLabel,
    group: 'coio',
    level: o.level,
    argv: (ctx, backend) => [
      process.execPath, path, ...extraArgs, ...(tls ? tlsArgs(ctx) : []), ...(backend ? ['--backend', backend.name, ...(backend.args ?? [])] : []),
    ],
    check: (ctx) =>
      !existsSync(path) ? `bench/servers/${file} not written yet`
        : !existsSync(COIO_DIST) ? 'dist/esm/index.js missing (run npm run build)'
        : tls ? tlsCheck(ctx)
        : null,
    main: o.main ?? !tls,
    http: o.http ?? false,
    scaling: o.scaling,
    memory: o.memory ?? false,
    tls,
    handshake: o.handshake ?? false,
  };
}

/**
 * A server run by Bun or Deno (installed by `npm run bench:peers`): skipped with
 * a line saying how to get the runtime when it is absent.
 */
function peerServer(runtime, name, file, o) {
  const path = join(BENCH, 'servers', file);
  return {
    name,
    label: o.label,
    group: 'peer',
    level: o.level,
    argv: (ctx) => (runtime === 'bun' ? [ctx.peers.bun.path, path] : [ctx.peers.deno.path, 'run', '-A', '--no-prompt', path]),
    env: runtime === 'deno' ? { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } : {},
    check: (ctx) => (ctx.peers[runtime] ? null : `${runtime === 'bun' ? 'Bun' : 'Deno'} is not installed: ${PEERS_HINT}`),
    main: o.main ?? !o.http,
    http: o.http ?? false,
    optIn: o.optIn ?? false,
  };
}

export const REGISTRY = [
  {
    name: 'c-epoll',
    label: 'C epoll (floor)',
    group: 'floor',
    argv: () => [join(BUILD, 'c_epoll')],
    check: () => null,
    main: true,
    scaling: [null],
  },
  {
    // The same echo on io_uring (raw syscalls, SINGLE_ISSUER | DEFER_TASKRUN):
    // what a completion loop costs with nothing above it.
    name: 'c-uring',
    label: 'C io_uring',
    group: 'floor',
    argv: () => [join(BUILD, 'c_uring')],
    check: () => null,
    main: true,
    scaling: [null],
  },
  {
    // c_uring without SINGLE_ISSUER | DEFER_TASKRUN: what those flags are worth.
    name: 'c-uring-plain',
    label: 'C io_uring (no DEFER_TASKRUN)',
    group: 'floor',
    argv: () => [join(BUILD, 'c_uring'), '--plain'],
    check: () => null,
    main: true,
    optIn: true,
  },
  {
    name: 'node-net',
    label: 'node net',
    group: 'node',
    argv: () => [process.execPath, join(BENCH, 'servers', 'node_net.mjs')],
    check: () => null,
    main: true,
    scaling: [null],
    memory: true,
  },
  {
    // Node's net with glibc's malloc trim threshold raised (as native/memory.cc
    // does for coio): shows how much of node's 100 KiB cost is page
    // faults. Off by default; --servers node-net-notrim to include it.
    name: 'node-net-notrim',
    label: 'node net (no malloc trim)',
    group: 'node',
    argv: () => [process.execPath, join(BENCH, 'servers', 'node_net.mjs')],
    env: { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=268435456' },
    check: () => null,
    main: true,
    optIn: true,
  },
  pythonServer('asyncio', 'protocol'),
  pythonServer('asyncio', 'streams'),
  // ---- Bun and Deno (npm run bench:peers) ----------------------------------
  peerServer('bun', 'bun-listen', 'bun_listen.mjs', { label: 'bun Bun.listen (callbacks)', level: 'protocol' }),
  peerServer('bun', 'bun-net', 'node_net.mjs', { label: 'bun node:net' }),
  peerServer('deno', 'deno-read', 'deno_read.mjs', { label: 'deno conn.read loop', level: 'streams' }),
  peerServer('deno', 'deno-net', 'node_net.mjs', { label: 'deno node:net', optIn: true }),
  { ...pythonServer('uvloop', 'protocol'), memory: true }, // the reference for bytes per idle connection
  pythonServer('uvloop', 'streams'),

  // ---- TLS peers (section "tls") -------------------------------------------
  {
    // OpenSSL driven straight from C: what TLS costs with no event loop above it.
    name: 'c-epoll-tls',
    label: 'C epoll + OpenSSL (floor)',
    group: 'floor',
    argv: (ctx) => [join(BUILD, 'c_epoll_tls'), ...tlsArgs(ctx)],
    check: tlsCheck,
    main: false,
    tls: true,
    handshake: true,
  },
  {
    name: 'node-tls',
    label: 'node tls',
    group: 'node',
    argv: (ctx) => [process.execPath, join(BENCH, 'servers', 'node_tls.mjs'), ...tlsArgs(ctx)],
    check: tlsCheck,
    main: false,
    tls: true,
    handshake: true,
  },
  // ---- HTTP (section "http"): "Hello, World!" under wrk ---------------------
  {
    name: 'node-http',
    label: 'node http',
    group: 'node',
    argv: () => [process.execPath, join(BENCH, 'servers', 'node_http.mjs')],
    check: () => null,
    main: false,
    http: true,
  },
  peerServer('bun', 'bun-http', 'bun_http.mjs', { label: 'Bun.serve', http: true }),
  peerServer('deno', 'deno-http', 'deno_http.mjs', { label: 'Deno.serve', http: true }),
  pythonServer('asyncio', 'protocol', { tls: true }),
  pythonServer('asyncio', 'streams', { tls: true }),
  { ...pythonServer('uvloop', 'protocol', { tls: true }), handshake: true },
  pythonServer('uvloop', 'streams', { tls: true }),

  // ---- coio servers --------------------------------------------------------
  // Add coio servers here as the networking layer lands. Main-section runs
  // use the default backend (no --backend); scaling runs pass --backend.
  coioServer('coio-protocol', 'coio_protocol.mjs', [], {
    label: 'coio protocol (borrowed view)', scalingLabel: 'coio protocol', scaling: COIO_BACKENDS, memory: true,
  }),
  coioServer('coio-protocol-copy', 'coio_protocol.mjs', ['--copy'], { label: 'coio protocol (copied data)' }),
  coioServer('coio-buffered', 'coio_protocol.mjs', ['--buffered'], { label: 'coio BufferedProtocol' }),
  coioServer('coio-streams', 'coio_streams.mjs', [], {
    label: 'coio streams', scalingLabel: 'coio streams', scaling: [{ name: 'epoll' }, URING_PROACTOR], memory: true,
  }),
  // Guest mode (runGuest: coio's loop inside Node's): what the Node-friendly mode costs.
  coioServer('coio-protocol-guest', 'coio_protocol.mjs', ['--guest'], { label: 'coio protocol, guest mode' }),
  coioServer('coio-streams-guest', 'coio_streams.mjs', ['--guest'], { label: 'coio streams, guest mode' }),
  coioServer('coio-streams-into', 'coio_streams.mjs', ['--into'], { label: 'coio streams (readInto)' }),
  coioServer('coio-sock', 'coio_sock.mjs', [], { label: 'coio sock* coroutines' }),
  // The same servers on the io_uring backend (skipped where no ring can be made).
  // -uring: readiness transports woken by poll requests in the ring;
  // -proactor: the proactor transports (recv / send / accept as completions).
  coioServer('coio-protocol-uring', 'coio_protocol.mjs', ['--backend', 'io_uring', '--readiness'], { label: 'coio protocol (borrowed view), io_uring readiness', memory: true }),
  coioServer('coio-buffered-uring', 'coio_protocol.mjs', ['--buffered', '--backend', 'io_uring', '--readiness'], { label: 'coio BufferedProtocol, io_uring readiness' }),
  coioServer('coio-streams-uring', 'coio_streams.mjs', ['--backend', 'io_uring', '--readiness'], { label: 'coio streams, io_uring readiness' }),
  coioServer('coio-protocol-proactor', 'coio_protocol.mjs', ['--backend', 'io_uring', '--proactor'], { label: 'coio protocol (borrowed view), io_uring proactor', memory: true }),
  coioServer('coio-buffered-proactor', 'coio_protocol.mjs', ['--buffered', '--backend', 'io_uring', '--proactor'], { label: 'coio BufferedProtocol, io_uring proactor' }),
  coioServer('coio-streams-proactor', 'coio_streams.mjs', ['--backend', 'io_uring', '--proactor'], { label: 'coio streams, io_uring proactor' }),
  // sock* waits for readiness on every backend (a poll in the ring on io_uring,
  // whichever transports the loop makes): there is no proactor variant of it.
  coioServer('coio-sock-uring', 'coio_sock.mjs', ['--backend', 'io_uring'], { label: 'coio sock* coroutines, io_uring (readiness)' }),
  coioServer('coio-http', 'coio_http.mjs', [], { label: 'coio examples/http_server.mjs', main: false, http: true }),
  // TLS (section "tls"): the same servers given --cert/--key.
  coioServer('coio-tls-protocol', 'coio_protocol.mjs', [], {
    label: 'coio protocol (TLS, borrowed view)', level: 'protocol', tls: true, handshake: true,
  }),
  coioServer('coio-tls-buffered', 'coio_protocol.mjs', ['--buffered'], { label: 'coio BufferedProtocol (TLS)', tls: true }),
  coioServer('coio-tls-streams', 'coio_streams.mjs', [], { label: 'coio streams (TLS)', level: 'streams', tls: true, handshake: true }),
  // ---- end of coio servers -------------------------------------------------
];

// ===========================================================================
// Options
// ===========================================================================

const PRESETS = {
  quick: { warmup: 0.3, duration: 1, repeats: 1, scalingWarmup: 0.3, scalingDuration: 1, scalingRepeats: 1 },
  default: { warmup: 0.5, duration: 2, repeats: 2, scalingWarmup: 0.3, scalingDuration: 1.25, scalingRepeats: 2 },
  full: { warmup: 1, duration: 5, repeats: 3, scalingWarmup: 1, scalingDuration: 3, scalingRepeats: 3 },
};

const HELP = `usage: node bench/run.mjs [options]     (npm run bench -- [options])

  --quick | --full          presets (default: warm-up 0.5 s, 2 s measured, 2 repeats;
                            quick: 0.3 s / 1 s / 1; full: 1 s / 5 s / 3)
  --servers a,b,...         only these servers (names, or prefixes ending in *: coio-*)
  --skip a,b,...            leave these out
  --sections main,scaling,memory,tls,http,sendfile   which sections to run (default: all)
  --sizes 1k,10k,100k       message sizes of the main section
  --tls-sizes 1k,100k       message sizes of the tls section
  --connections N           connections of the main section (default 10)
  --repeats N  --warmup S  --duration S       override the preset (main section)
  --scaling-conns 10,100,1000,10000  --active N (default 10)
  --scaling-repeats N  --scaling-duration S
  --scaling-backends epoll,io_uring-readiness,io_uring-proactor,poll,select
                            only these coio backends in the scaling section (default: all)
  --memory-conns N          idle connections of the memory section (default 10000)
  --python PATH             interpreter for the asyncio/uvloop servers
  --unix                    Unix sockets instead of TCP on 127.0.0.1
  --no-pin                  don't pin server and client to CPUs
  --quiet-wait S            before each run, wait up to S s (default 3; 15 s in all) for other
                            processes to go below 0.25 cores busy; 0 = don't wait
  --out DIR                 results directory (default bench/results)
  --no-write                print the tables only
  --list                    list the servers and whether they can run here
  --render FILE.json        re-render tables and charts of an earlier run, no measuring
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' }, full: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      servers: { type: 'string' }, skip: { type: 'string' }, sections: { type: 'string' },
      sizes: { type: 'string' }, 'tls-sizes': { type: 'string' }, connections: { type: 'string' },
      repeats: { type: 'string' }, warmup: { type: 'string' }, duration: { type: 'string' },
      'scaling-conns': { type: 'string' }, active: { type: 'string' },
      'scaling-repeats': { type: 'string' }, 'scaling-duration': { type: 'string' }, 'scaling-backends': { type: 'string' },
      'memory-conns': { type: 'string' }, python: { type: 'string' },
      unix: { type: 'boolean' }, 'no-pin': { type: 'boolean' }, out: { type: 'string' },
      'no-write': { type: 'boolean' }, list: { type: 'boolean' }, render: { type: 'string' },
      'quiet-wait': { type: 'string' },
    },
  });
  const preset = values.full ? 'full' : values.quick ? 'quick' : 'default';
  const p = PRESETS[preset];
  const num = (v, d) => (v === undefined ? d : Number(v));
  const list = (v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : null);
  const size = (s) => Math.round(parseFloat(s) * (/k$/i.test(s) ? 1024 : /m$/i.test(s) ? 1048576 : 1));
  return {
    preset,
    help: values.help,
    list: values.list,
    render: values.render,
    servers: list(values.servers),
    skip: list(values.skip) ?? [],
    sections: list(values.sections) ?? ['main', 'scaling', 'memory', 'tls', 'http', 'sendfile'],
    sizes: (list(values.sizes) ?? ['1k', '10k', '100k']).map(size),
    tlsSizes: (list(values['tls-sizes']) ?? ['1k', '100k']).map(size),
    connections: num(values.connections, 10),
    repeats: num(values.repeats, p.repeats),
    warmup: num(values.warmup, p.warmup),
    duration: num(values.duration, p.duration),
    scalingConns: (list(values['scaling-conns']) ?? ['10', '100', '1000', '10000']).map(Number),
    active: num(values.active, 10),
    scalingRepeats: num(values['scaling-repeats'], p.scalingRepeats),
    scalingWarmup: p.scalingWarmup,
    scalingDuration: num(values['scaling-duration'], p.scalingDuration),
    scalingBackends: list(values['scaling-backends']),
    memoryConns: num(values['memory-conns'], 10000),
    python: values.python,
    unix: !!values.unix,
    pin: !values['no-pin'],
    quietWait: num(values['quiet-wait'], 3),
    out: resolve(values.out ?? join(BENCH, 'results')),
    write: !values['no-write'],
  };
}

const log = (s) => process.stderr.write(`${s}\n`);

// ===========================================================================
// Environment: build, interpreters, machine facts
// ===========================================================================

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return null;
  }
}

function buildC() {
  mkdirSync(BUILD, { recursive: true });
  const targets = [
    ['pingpong', join(BENCH, 'client', 'pingpong.c')],
    ['c_epoll', join(BENCH, 'servers', 'c_epoll.c')],
    ['c_uring', join(BENCH, 'servers', 'c_uring.c')],
  ];
  for (const [name, src] of targets) {
    const out = join(BUILD, name);
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    const cc = process.env.CC || 'cc';
    log(`bench: ${cc} -O2 -o ${relative(ROOT, out)} ${relative(ROOT, src)}`);
    execFileSync(cc, ['-O2', '-Wall', '-o', out, src], { stdio: 'inherit' });
  }
}

/**
 * The TLS build of the client and the C TLS floor (system libssl, bench only), and a
 * throwaway certificate made with the openssl command into bench/build/tls/.
 * Returns null when ready, else the reason the TLS rows are skipped.
 */
function prepareTls(ctx) {
  const cc = process.env.CC || 'cc';
  const targets = [
    ['pingpong_tls', join(BENCH, 'client', 'pingpong.c'), ['-DPINGPONG_TLS']],
    ['c_epoll_tls', join(BENCH, 'servers', 'c_epoll_tls.c'), []],
  ];
  for (const [name, src, defs] of targets) {
    const out = join(BUILD, name);
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    log(`bench: ${[cc, '-O2', ...defs].join(' ')} -o ${relative(ROOT, out)} ${relative(ROOT, src)} -lssl -lcrypto`);
    try {
      execFileSync(cc, ['-O2', '-Wall', ...defs, '-o', out, src, '-lssl', '-lcrypto'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = String(e.stderr ?? e.message);
      const first = err.split('\n').find((l) => /error/.test(l))?.trim() ?? err.trim().split('\n')[0];
      return /openssl\/|-lssl|-lcrypto/.test(err)
        ? `no OpenSSL headers or libraries for the C client (apt-get install libssl-dev): ${first}`
        : `${relative(ROOT, src)} does not build: ${first}`;
    }
  }
  if (!sh('sh', ['-c', 'command -v openssl'])) return 'no openssl command to make the certificate (apt-get install openssl)';
  const dir = join(BUILD, 'tls');
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  // ECDSA P-256, self-signed, for 127.0.0.1 / localhost; the client does not verify it.
  const made = sh('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
  ]);
  if (made === null || !existsSync(cert)) return 'openssl req could not make the certificate';
  ctx.tls = { cert, key, keyType: 'ECDSA P-256' };
  return null;
}

function detectPython(explicit) {
  const tried = explicit ? [explicit] : [...new Set([process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean))];
  const found = [];
  for (const path of tried) {
    const version = sh(path, ['-c', 'import asyncio, sys; print(sys.version.split()[0])']);
    if (!version) continue;
    const uvloop = sh(path, ['-c', 'import uvloop; print(uvloop.__version__)']);
    found.push({ path: path.includes('/') ? path : (sh('sh', ['-c', `command -v ${path}`]) ?? path), version, uvloop });
  }
  // One interpreter for asyncio and uvloop both, so they compare: the first
  // that has uvloop, else the first that runs.
  const python = found.find((p) => p.uvloop) ?? found[0] ?? null;
  return { python, pythonTried: tried };
}

function machineFacts(ctx) {
  const cpuinfo = sh('cat', ['/proc/cpuinfo']) ?? '';
  const nofile = /Max open files\s+(\d+)\s+(\d+)/.exec(sh('cat', ['/proc/self/limits']) ?? '');
  return {
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    kernelVersion: os.version(),
    node: process.version,
    libuv: process.versions.uv,
    v8: process.versions.v8,
    python: ctx.python ? { path: ctx.python.path, version: ctx.python.version } : null,
    uvloop: ctx.python?.uvloop ?? null,
    bun: ctx.peers.bun?.version ?? null,
    deno: ctx.peers.deno?.version ?? null,
    wrk: ctx.wrk,
    cc: (sh(process.env.CC || 'cc', ['--version']) ?? 'cc: unknown').split('\n')[0],
    libc: sh('getconf', ['GNU_LIBC_VERSION']),
    memTotalBytes: os.totalmem(),
    clkTck: clockTicks(),
    nofile: nofile ? { soft: Number(nofile[1]), hard: Number(nofile[2]) } : null,
    date: new Date().toISOString(),
    loadavgBefore: os.loadavg(),
    loadavgAfter: null,
    pinning: ctx.pin ? { server: '0', client: '1' } : null,
    git: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

// ===========================================================================
// Servers and client runs
// ===========================================================================

let unixSeq = 0;

async function startServer(entry, backend, ctx) {
  const addr = ctx.unix
    ? ['--unix', join(os.tmpdir(), `coio-bench-${process.pid}-${unixSeq++}.sock`)]
    : ['--host', '127.0.0.1', '--port', '0'];
  const argv = [
    ...(ctx.pin ? ['taskset', '-c', '0'] : []),
    // lifetime cap, in case the harness itself is SIGKILLed
    ...(ctx.hasTimeout ? ['timeout', '-k', '5', String(ctx.serverLifetimeS)] : []),
    ...entry.argv(ctx, backend),
    ...addr,
  ];
  const child = spawnTracked(argv, { env: { ...process.env, ...(entry.env ?? {}) } });
  const stderr = collect(child.stderr);
  const lines = lineReader(child.stdout);
  let pid = null;
  let port = null;
  try {
    while (port === null) {
      const line = await lines.next(20000);
      if (line === null) {
        await sleep(50);
        throw new Error(`exited before listening (code ${child.exitCode}): ${stderr.text.trim().slice(-400)}`);
      }
      let m;
      if ((m = /^PID (\d+)/.exec(line))) pid = Number(m[1]);
      else if ((m = /^PORT (\d+)/.exec(line))) port = Number(m[1]);
      else if ((m = /^SKIP (.*)/.exec(line))) {
        const e = new Error(m[1]);
        e.skip = true;
        throw e;
      }
    }
  } catch (e) {
    await stopChild(child);
    if (ctx.unix) {
      try {
        unlinkSync(addr[1]);
      } catch {}
    }
    throw e;
  }
  child.stdout.resume();
  pid ??= child.pid;
  await sleep(50);
  const server = {
    entry, backend, child, pid, port, stderr, argv,
    unixPath: ctx.unix ? addr[1] : null,
    baselineFds: fdCount(pid),
  };
  server.line = backend ? `${entry.name}/${backendId(backend)}` : entry.name;
  server.label = backend ? `${entry.scalingLabel ?? entry.label} (${backend.label ?? backend.name})` : entry.label;
  return server;
}

async function stopServer(server) {
  const r = await stopChild(server.child);
  if (server.unixPath) {
    try {
      unlinkSync(server.unixPath);
    } catch {}
  }
  return r;
}

const alive = (server) => server.child.exitCode === null && server.child.signalCode === null;

/**
 * One client run against a running server. `onConnected(server, n)` runs
 * after every connection has been accepted and before traffic starts.
 */
async function runClient(server, ctx, { conns, idle = 0, idleTouch = 0, size, warmup, duration, onConnected, tls = false, reconnect = false }) {
  if (!alive(server)) throw new Error(`server exited (code ${server.child.exitCode}): ${server.stderr.text.trim().slice(-300)}`);
  // Connections of the previous run must be gone (closing 10,000 takes the server a moment).
  const settle = await waitFds(server.pid, (n) => n <= server.baselineFds + 2, 20000);
  if (!settle.ok) {
    ctx.warnings.push(`${server.line}: fd count ${settle.count} did not return to ${server.baselineFds} before a run`);
    server.baselineFds = settle.count;
  }
  await waitQuiet(ctx);
  const target = server.unixPath ? ['--unix', server.unixPath] : ['--host', '127.0.0.1', '--port', String(server.port)];
  const argv = [
    ...(ctx.pin ? ['taskset', '-c', '1'] : []),
    join(BUILD, tls ? 'pingpong_tls' : 'pingpong'), ...target,
    ...(tls ? ['--tls'] : []), ...(reconnect ? ['--reconnect'] : []),
    '-c', String(conns), '--idle', String(idle), '-s', String(size),
    '-w', String(warmup), '-d', String(duration),
    '--server-pid', String(server.pid), '--wait-go',
    ...(idleTouch ? ['--idle-touch', String(idleTouch)] : []),
  ];
  const child = spawnTracked(argv);
  const stdout = collect(child.stdout);
  const errLines = lineReader(child.stderr);
  const exited = new Promise((r) => child.once('close', (code) => r(code))); // 'close': stdout fully read
  try {
    let connected = null;
    while (connected === null) {
      const line = await errLines.next(60000);
      if (line === null) throw new Error(`client exited early: ${errLines.rest().join(' ')}`);
      const m = /^CONNECTED (\d+)/.exec(line);
      if (m) connected = Number(m[1]);
    }
    const accepted = await waitFds(server.pid, (n) => n >= server.baselineFds + connected, 30000);
    if (!accepted.ok) {
      ctx.warnings.push(`${server.line}: server holds ${accepted.count - server.baselineFds} of ${connected} connections after 30 s`);
    }
    if (onConnected) await onConnected(server, connected, accepted);
    child.stdin.write('GO\n');
    let timer;
    const limit = new Promise((r) => (timer = setTimeout(() => r('timeout'), (warmup + duration + 60) * 1000)));
    const code = await Promise.race([exited, limit]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(`client ${code === 'timeout' ? 'timed out' : `exit ${code}`}: ${errLines.rest().join(' ')}`);
    return JSON.parse(stdout.text);
  } finally {
    await stopChild(child, 500);
  }
}

/**
 * On a shared machine, wait (up to ctx.quietWaitS per run, ctx.quietBudgetS
 * in all) until other processes use less than QUIET_CORES, so a colleague's
 * test suite doesn't land in a measured window. Our own servers are idle here.
 */
const QUIET_CORES = 0.25;
async function waitQuiet(ctx) {
  if (!(ctx.quietWaitS > 0)) return;
  const t0 = Date.now();
  let busy = await machineBusyCores(100);
  while (busy > QUIET_CORES && (Date.now() - t0) / 1000 < Math.min(ctx.quietWaitS, ctx.quietBudgetS)) {
    busy = await machineBusyCores(250);
  }
  const waited = (Date.now() - t0) / 1000 - 0.1;
  ctx.quietBudgetS -= waited;
  ctx.quietWaitedS += waited;
  if (busy > QUIET_CORES) ctx.busyStarts++;
}

function matches(name, patterns) {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

// ===========================================================================
// Sections
// ===========================================================================

/**
 * Each server x size x repeat, interleaved (repeat > size > server) so a drift of a
 * shared machine hits every server alike. `plan`: a list of { tag, servers, sizes,
 * client options } run on the same started servers (the tls section's echo and
 * handshake runs share one server process each). Returns the runs.
 */
async function runMatrix(section, servers, plans, ctx, opts, res) {
  const total = opts.repeats * plans.reduce((a, p) => a + p.sizes.length * p.servers.length, 0);
  const runs = [];
  const started = [];
  let i = 0;
  try {
    for (const entry of servers) {
      try {
        started.push(await startServer(entry, null, ctx));
      } catch (e) {
        skipLine(res, entry.name, e.message);
      }
    }
    for (let rep = 0; rep < opts.repeats; rep++) {
      for (const plan of plans) {
        for (const size of plan.sizes) {
          for (const server of started) {
            if (!plan.servers.includes(server.entry)) continue;
            i++;
            if (server.failed) continue;
            try {
              const client = await runClient(server, ctx, {
                conns: opts.connections, size, warmup: opts.warmup, duration: opts.duration, ...plan.client,
              });
              const run = {
                server: server.entry.name, label: server.label, group: server.entry.group, level: server.entry.level ?? null,
                tag: plan.tag, size, rep, ...deriveRun(client, ctx.clkTck), client,
              };
              runs.push(run);
              log(`[${plan.tag} ${i}/${total}] ${server.label.padEnd(34)} ${sizeLabel(size).padStart(7)}  ${progress(run)}`);
            } catch (e) {
              server.failed = e.message;
              skipLine(res, server.entry.name, `failed in the ${section} section: ${e.message}`);
            }
          }
        }
      }
    }
  } finally {
    await Promise.all(started.map(stopServer));
  }
  return runs;
}

function summarizeMatrix(runs) {
  const key = (r) => `${r.tag}|${r.server}|${r.size}`;
  return summarizeRuns(runs, key, FIELDS).map((s) => {
    const r0 = runs.find((r) => key(r) === s.key);
    return { server: r0.server, label: r0.label, group: r0.group, level: r0.level, tag: r0.tag, size: r0.size, ...s };
  });
}

async function sectionMain(servers, ctx, opts, res) {
  const runs = await runMatrix('main', servers, [{ tag: 'main', servers, sizes: opts.sizes, client: {} }], ctx, opts, res);
  res.main = {
    connections: opts.connections, sizes: opts.sizes, repeats: opts.repeats,
    warmup: opts.warmup, duration: opts.duration, runs: runs.map(stripClient), summary: addRatios(summarizeMatrix(runs)),
  };
}

/**
 * TLS: the echo at opts.tlsSizes over TLS (handshakes done before the measured
 * window), then the handshake rate: each of the connections reconnects after
 * every 1 KiB echo (full handshakes, no resumption); "requests" are connections.
 */
async function sectionTls(servers, ctx, opts, res) {
  const shakers = servers.filter((e) => e.handshake);
  const runs = await runMatrix('tls', servers, [
    { tag: 'tls', servers, sizes: opts.tlsSizes, client: { tls: true } },
    { tag: 'handshake', servers: shakers, sizes: [1024], client: { tls: true, reconnect: true } },
  ], ctx, opts, res);
  const summary = summarizeMatrix(runs);
  const first = runs.find((r) => r.client.tls?.version);
  const ciphers = [...new Set(runs.map((r) => r.client.tls && `${r.client.tls.version} ${r.client.tls.cipher}`).filter(Boolean))];
  if (ciphers.length > 1) ctx.warnings.push(`the TLS servers did not all negotiate the same cipher: ${ciphers.join('; ')}`);
  res.tls = {
    connections: opts.connections, sizes: opts.tlsSizes, repeats: opts.repeats, warmup: opts.warmup, duration: opts.duration,
    version: first?.client.tls.version ?? null, cipher: first?.client.tls.cipher ?? null, keyType: ctx.tls?.keyType ?? null,
    runs: runs.map(stripClient),
    summary: addTlsRatios(summary.filter((r) => r.tag === 'tls')),
    handshake: addTlsRatios(summary.filter((r) => r.tag === 'handshake')),
  };
}

const FIELDS = ['rps', 'serverCpuUsPerReq', 'p50', 'p99', 'max', 'serverUtil', 'clientUtil', 'otherLoad', 'clientCpuUsPerReq'];

function progress(r) {
  const f = (v, d = 1) => (v == null ? '–' : v.toFixed(d));
  return (
    `${Math.round(r.rps).toLocaleString('en-US').padStart(8)} req/s  ${f(r.serverCpuUsPerReq, 2).padStart(6)} µs/req  ` +
    `p50 ${f(r.p50)} p99 ${f(r.p99)} µs  server ${f(r.serverUtil * 100, 0)}% client ${f(r.clientUtil * 100, 0)}%` +
    `${r.otherLoad > 0.1 ? `  other load ${f(r.otherLoad, 2)}` : ''}${r.errors ? `  ERRORS ${r.errors} (${r.firstError})` : ''}`
  );
}

const stripClient = ({ client, ...rest }) => ({ ...rest, clientRaw: client });

/** The backends entry is measured on in the scaling section ([null]: its only loop), after --scaling-backends. */
const scalingBackendsOf = (entry, opts) =>
  (entry.scaling ?? []).filter((b) => b === null || !opts.scalingBackends || opts.scalingBackends.includes(backendId(b)));

async function sectionScaling(entries, ctx, opts, res) {
  const lines = entries.flatMap((entry) => scalingBackendsOf(entry, opts).map((backend) => ({ entry, backend })));
  const started = [];
  const runs = [];
  try {
    for (const { entry, backend } of lines) {
      try {
        started.push(await startServer(entry, backend, ctx));
      } catch (e) {
        skipLine(res, `${entry.name}${backend ? `/${backendId(backend)}` : ''}`, e.message);
      }
    }
    // Connection counts per line; a backend with an fd limit (select) is capped below it.
    const plan = started.map((server) => {
      const limit = server.backend?.fdLimit;
      const cap = limit ? limit - server.baselineFds - 16 : Infinity;
      // nominal: the requested count (the table's column); actual: what this backend can hold
      const counts = [];
      for (const nominal of opts.scalingConns) {
        const actual = Math.min(nominal, cap);
        if (actual >= opts.active && !counts.some((c) => c.actual === actual)) counts.push({ nominal, actual });
      }
      return { server, counts };
    });
    const allCounts = [...new Set(opts.scalingConns)].sort((a, b) => a - b);
    const total = opts.scalingRepeats * plan.reduce((a, p) => a + p.counts.length, 0);
    let i = 0;
    for (let rep = 0; rep < opts.scalingRepeats; rep++) {
      for (const nominal of allCounts) {
        for (const { server, counts } of plan) {
          const c = counts.find((q) => q.nominal === nominal);
          if (!c || server.failed) continue;
          const n = c.actual;
          i++;
          try {
            const client = await runClient(server, ctx, {
              conns: opts.active, idle: n - opts.active, size: 1024,
              warmup: opts.scalingWarmup, duration: opts.scalingDuration,
            });
            const run = {
              server: server.entry.name, backend: server.backend ? backendId(server.backend) : null, line: server.line,
              label: server.label, group: server.entry.group, conns: n, nominal, rep, ...deriveRun(client, ctx.clkTck), client,
            };
            runs.push(run);
            log(`[scaling ${i}/${total}] ${server.label.padEnd(34)} ${String(n).padStart(6)} conns  ${progress(run)}`);
          } catch (e) {
            server.failed = e.message;
            skipLine(res, server.line, `failed in the scaling section: ${e.message}`);
          }
        }
      }
    }
  } finally {
    await Promise.all(started.map(stopServer));
  }
  const summary = summarizeRuns(runs, (r) => `${r.line}|${r.conns}`, FIELDS).map((s) => {
    const r0 = runs.find((r) => `${r.line}|${r.conns}` === s.key);
    return {
      line: r0.line, server: r0.server, backend: r0.backend, label: r0.label, group: r0.group,
      conns: r0.conns, nominal: r0.nominal, ...s,
    };
  });
  res.scaling = {
    active: opts.active, size: 1024, repeats: opts.scalingRepeats,
    warmup: opts.scalingWarmup, duration: opts.scalingDuration, runs: runs.map(stripClient), summary,
  };
}

async function sectionMemory(entries, ctx, opts, res) {
  const settleMs = 250;
  const touchBytes = 1024;
  const results = [];
  for (const entry of entries.filter((e) => e.memory)) {
    const r = { server: entry.name, label: entry.label };
    // Twice, each on a fresh server: connections only accepted, then connections that each
    // served one 1 KiB echo (what a server keeps per connection once it has read and written).
    for (const mode of ['accepted', 'touched']) {
      let server;
      try {
        server = await startServer(entry, null, ctx);
        // Warm the server (JIT, buffers, lazy init) so "before" is its steady state.
        await runClient(server, ctx, { conns: 10, size: 1024, warmup: 0, duration: 0.3 });
        await waitFds(server.pid, (n) => n <= server.baselineFds + 2, 20000);
        await sleep(settleMs);
        const before = rssBytes(server.pid);
        let after = null;
        let accepted = 0;
        const client = await runClient(server, ctx, {
          conns: 0, idle: opts.memoryConns, size: 1024, warmup: 0, duration: 0,
          idleTouch: mode === 'touched' ? touchBytes : 0,
          onConnected: async (s, n, acc) => {
            accepted = acc.count - s.baselineFds;
            await sleep(settleMs);
            after = rssBytes(s.pid);
          },
        });
        const perConn = after != null && before != null && accepted > 0 ? (after - before) / accepted : null;
        if (mode === 'accepted') Object.assign(r, { rssBefore: before, rssAfter: after, accepted, bytesPerConn: perConn });
        else Object.assign(r, { rssBeforeTouched: before, rssAfterTouched: after, touched: client.idle_touched, bytesPerConnTouched: perConn });
        log(
          `[memory] ${server.label.padEnd(30)} ${mode.padEnd(8)} RSS ${(before / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MiB ` +
            `with ${accepted} idle: ${Math.round(perConn)} B/conn`,
        );
      } catch (e) {
        skipLine(res, entry.name, `failed in the memory section (${mode}): ${e.message}`);
      } finally {
        if (server) await stopServer(server);
      }
    }
    if (r.rssBefore != null || r.rssBeforeTouched != null) results.push(r);
  }
  res.memory = { idle: opts.memoryConns, settleMs, touchBytes, results };
}

/**
 * HTTP: "Hello, World!" (GET /) over HTTP/1.1 keep-alive, driven by wrk (one
 * thread, opts.connections connections, pinned to the client's CPU) against
 * each HTTP server in turn, interleaved by repeat. Server CPU per request is
 * utime+stime of the server from /proc/<pid>/stat around the wrk run (which
 * includes wrk's connects: a few ms in seconds); wrk's own CPU is what its
 * shell reaped (cutime+cstime). One raw request first records each server's
 * response size and header names: the servers don't send the same headers.
 */
async function sectionHttp(entries, ctx, opts, res) {
  if (!entries.length) return;
  if (!ctx.wrk) {
    skipLine(res, 'http section', 'no wrk (apt-get install wrk)');
    return;
  }
  const started = [];
  const runs = [];
  const probes = {};
  try {
    for (const entry of entries) {
      try {
        const server = await startServer(entry, null, ctx);
        started.push(server);
        probes[entry.name] = await httpProbe(server.port);
      } catch (e) {
        skipLine(res, entry.name, e.message);
      }
    }
    const total = opts.repeats * started.length;
    let i = 0;
    for (let rep = 0; rep < opts.repeats; rep++) {
      for (const server of started) {
        i++;
        if (server.failed) continue;
        try {
          const run = {
            server: server.entry.name, label: server.label, group: server.entry.group, rep, ...(await runWrk(server, ctx, opts)),
          };
          runs.push(run);
          log(`[http ${i}/${total}] ${server.label.padEnd(34)}  ${progress(run)}`);
        } catch (e) {
          server.failed = e.message;
          skipLine(res, server.entry.name, `failed in the http section: ${e.message}`);
        }
      }
    }
  } finally {
    await Promise.all(started.map(stopServer));
  }
  const summary = summarizeRuns(runs, (r) => r.server, FIELDS).map((s) => {
    const r0 = runs.find((r) => r.server === s.key);
    return { server: r0.server, label: r0.label, group: r0.group, probe: probes[r0.server] ?? null, ...s };
  });
  res.http = {
    connections: opts.connections, threads: 1, path: '/', repeats: opts.repeats, warmup: opts.warmup, duration: opts.duration,
    runs, summary: addHttpRatios(summary),
  };
}

/** One GET / on a fresh connection: { bytes, status, headers: [names] } of the response. */
async function httpProbe(port) {
  const net = await import('node:net');
  return new Promise((resolveP, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no HTTP response in 5 s'));
    }, 5000);
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.toString('latin1', 0, end);
      const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      clearTimeout(timer);
      s.destroy();
      const lines = head.split('\r\n');
      resolveP({ bytes: end + 4 + len, status: lines[0], headers: lines.slice(1).map((l) => l.split(':')[0].toLowerCase()) });
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** wrk's duration and latency units -> µs. */
function wrkMicros(v, unit) {
  return Number(v) * ({ us: 1, ms: 1e3, s: 1e6, m: 6e7 }[unit] ?? NaN);
}

/** A warm-up wrk run, then the measured one (GET `path`): a run record with the fields of deriveRun. */
async function runWrk(server, ctx, opts, path = '/') {
  if (!alive(server)) throw new Error(`server exited (code ${server.child.exitCode}): ${server.stderr.text.trim().slice(-300)}`);
  const url = `http://127.0.0.1:${server.port}${path}`;
  // wrk takes whole seconds.
  const wrk = (d, latency) => {
    d = Math.max(1, Math.round(d));
    // The shell reaps wrk, then prints its own /proc stat: cutime+cstime are wrk's CPU.
    const argv = [
      ...(ctx.pin ? ['taskset', '-c', '1'] : []),
      'sh', '-c', 'wrk "$@"; rc=$?; echo; echo "STAT $(cat /proc/$$/stat)"; exit $rc', 'sh',
      '-t1', `-c${opts.connections}`, `-d${d}s`, ...(latency ? ['--latency'] : []), url,
    ];
    return new Promise((resolveP, reject) => {
      const child = spawnTracked(argv);
      const out = collect(child.stdout);
      const err = collect(child.stderr);
      child.once('close', (code) => (code === 0 ? resolveP(out.text) : reject(new Error(`wrk exit ${code}: ${err.text.trim().slice(-300)}`))));
    });
  };
  await waitQuiet(ctx);
  if (opts.warmup > 0) await wrk(opts.warmup, false);
  const cpu0 = processCpuSeconds(server.pid);
  const m0 = machineTicks();
  const t0 = process.hrtime.bigint();
  const text = await wrk(opts.duration, true);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = processCpuSeconds(server.pid);
  const m1 = machineTicks();
  const total = /(\d+) requests in ([\d.]+)(\w+)/.exec(text);
  const reqs = Number(total?.[1] ?? NaN);
  const durationS = total ? wrkMicros(total[2], total[3]) / 1e6 : NaN;
  const lat = (p) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(\\w+)`, 'm').exec(text);
    return m ? wrkMicros(m[1], m[2]) : null;
  };
  const stat = /^STAT (.*)$/m.exec(text)?.[1];
  const f = stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : null;
  const clientCpu = f ? (Number(f[13]) + Number(f[14])) / ctx.clkTck : null; // cutime, cstime
  const errLine = /Socket errors: (.*)/.exec(text)?.[1];
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const errors = non2xx + (errLine ? errLine.match(/\d+/g).reduce((a, n) => a + Number(n), 0) : 0);
  const srv = cpu0 != null && cpu1 != null ? cpu1 - cpu0 : null;
  const busy = (m1.busy - m0.busy) / ctx.clkTck;
  if (!(reqs > 0)) throw new Error(`no requests counted: ${text.trim().slice(-300)}`);
  return {
    rps: reqs / durationS,
    requests: reqs,
    durationS,
    p50: lat(50),
    p99: lat(99),
    max: null,
    serverCpuS: srv,
    serverCpuUsPerReq: srv != null ? (srv / reqs) * 1e6 : null,
    serverUtil: srv != null ? srv / wall : null,
    clientUtil: clientCpu != null ? clientCpu / wall : null,
    clientCpuUsPerReq: clientCpu != null ? (clientCpu / reqs) * 1e6 : null,
    otherLoad: srv != null && clientCpu != null ? Math.max(0, (busy - srv - clientCpu) / wall) : null,
    errors,
    firstError: errors ? (errLine ?? `${non2xx} non-2xx responses`) : null,
    wrkOutput: text,
  };
}

/** The files of the sendfile section: name -> size. */
const SENDFILE_FILES = [['1m.bin', 1024 * 1024], ['16m.bin', 16 * 1024 * 1024]];
/** wrk connections in the sendfile section: enough to keep the server busy, few enough that 16 MiB responses finish inside a run. */
const SENDFILE_CONNS = 4;

/**
 * The sendfile section: examples/http_server.mjs (bench/servers/coio_http.mjs
 * with COIO_HTTP_FILES) serving each file to wrk, by loop.sendfile and by
 * ?copy (read into Buffers, written through the transport), every
 * combination once per repeat, interleaved, so both paths see the same
 * machine. Throughput is req/s x the file's size; server CPU as in the http
 * section (utime+stime around the wrk run). The load average is recorded
 * before and after each run.
 */
async function sectionSendfile(ctx, opts, res) {
  if (!ctx.wrk) return void skipLine(res, 'sendfile section', 'no wrk (apt-get install wrk)');
  const base = REGISTRY.find((e) => e.name === 'coio-http');
  const reason = base.check(ctx);
  if (reason) return void skipLine(res, 'sendfile section', reason);
  const dir = mkdtempSync(join(os.tmpdir(), 'coio-bench-files-'));
  const runs = [];
  let server = null;
  try {
    for (const [name, size] of SENDFILE_FILES) writeFileSync(join(dir, name), randomBytes(size));
    server = await startServer({ ...base, env: { COIO_HTTP_FILES: dir } }, null, ctx);
    const total = opts.repeats * SENDFILE_FILES.length * 2;
    let i = 0;
    for (let rep = 0; rep < opts.repeats; rep++) {
      for (const [name, size] of SENDFILE_FILES) {
        for (const mode of ['sendfile', 'copy']) {
          i++;
          const load = os.loadavg()[0];
          const r = await runWrk(server, ctx, { ...opts, connections: SENDFILE_CONNS }, `/file/${name}${mode === 'copy' ? '?copy' : ''}`);
          const run = {
            file: name, size, mode, rep, rps: r.rps, mibps: (r.rps * size) / 1048576, serverCpuUsPerReq: r.serverCpuUsPerReq,
            serverCpuMsPerGiB: r.serverCpuS != null ? (r.serverCpuS * 1000) / ((r.requests * size) / 2 ** 30) : null,
            serverUtil: r.serverUtil, clientUtil: r.clientUtil, p50: r.p50, p99: r.p99, errors: r.errors, loadBefore: load, loadAfter: os.loadavg()[0],
          };
          runs.push(run);
          log(`[sendfile ${i}/${total}] ${name} ${mode.padEnd(8)}  ${Math.round(run.rps)} req/s  ${Math.round(run.mibps)} MiB/s  server ${run.serverCpuUsPerReq?.toFixed(0)} µs/req  load ${load.toFixed(2)}`);
        }
      }
    }
  } finally {
    if (server) await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = [];
  for (const [name, size] of SENDFILE_FILES) {
    for (const mode of ['sendfile', 'copy']) {
      const rs = runs.filter((r) => r.file === name && r.mode === mode);
      if (!rs.length) continue;
      const field = (f) => summarize(rs.map((r) => r[f]));
      summary.push({
        file: name, size, mode, rps: field('rps'), mibps: field('mibps'), serverCpuUsPerReq: field('serverCpuUsPerReq'),
        serverCpuMsPerGiB: field('serverCpuMsPerGiB'), serverUtil: field('serverUtil'), clientUtil: field('clientUtil'),
        p50: field('p50'), p99: field('p99'), errors: rs.reduce((a, r) => a + r.errors, 0),
        load: summarize(rs.flatMap((r) => [r.loadBefore, r.loadAfter])),
      });
    }
  }
  res.sendfile = { connections: SENDFILE_CONNS, repeats: opts.repeats, warmup: opts.warmup, duration: opts.duration, runs, summary };
}

function machineTicks() {
  const v = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return { busy: v.reduce((a, b) => a + b, 0) - v[3] - v[4] };
}

function skipLine(res, name, reason) {
  res.skipped.push({ name, reason });
  log(`bench: skip ${name}: ${reason}`);
}

// ===========================================================================
// Main
// ===========================================================================

function writeOutputs(res, outDir) {
  mkdirSync(outDir, { recursive: true });
  const stamp = res.machine.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const json = JSON.stringify(res, null, 1);
  writeFileSync(join(outDir, `${stamp}.json`), json);
  writeFileSync(join(outDir, 'latest.json'), json);
  const charts = renderCharts(res);
  for (const [file, svg] of Object.entries(charts)) writeFileSync(join(outDir, file), svg);
  log(`bench: wrote ${relative(process.cwd(), join(outDir, `${stamp}.json`))}, latest.json, ${Object.keys(charts).join(', ')}`);
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) return void process.stdout.write(HELP);
  if (opts.render) {
    const res = JSON.parse(readFileSync(opts.render, 'utf8'));
    process.stdout.write(renderMarkdown(res));
    if (opts.write) {
      const outDir = opts.out;
      mkdirSync(outDir, { recursive: true });
      for (const [file, svg] of Object.entries(renderCharts(res))) writeFileSync(join(outDir, file), svg);
    }
    return;
  }
  if (process.platform !== 'linux' || !hasProc()) {
    throw new Error('the benchmark needs Linux (/proc, epoll, taskset)');
  }
  const t0 = Date.now();
  buildC();
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const ctx = {
    ...detectPython(opts.python),
    peers: findPeers(),
    wrk: (sh('sh', ['-c', 'command -v wrk >/dev/null && { wrk -v 2>&1 | head -1; }']) || null)?.split(' [')[0] ?? null,
    pin: opts.pin && cores >= 2 && !!sh('sh', ['-c', 'command -v taskset']),
    hasTimeout: !!sh('sh', ['-c', 'command -v timeout']),
    serverLifetimeS: 3600,
    unix: opts.unix,
    clkTck: clockTicks(),
    warnings: [],
    quietWaitS: opts.quietWait,
    quietBudgetS: 15,
    quietWaitedS: 0,
    busyStarts: 0,
  };

  if (opts.sections.includes('tls') || opts.list) {
    mkdirSync(BUILD, { recursive: true });
    ctx.tlsSkip = prepareTls(ctx);
  } else {
    ctx.tlsSkip = 'the tls section is not selected';
  }

  const res = { schema: 1, preset: opts.preset, options: { ...opts }, machine: null, skipped: [], warnings: ctx.warnings };
  let entries = REGISTRY.filter((e) => (opts.servers ? matches(e.name, opts.servers) : !e.optIn));
  entries = entries.filter((e) => !matches(e.name, opts.skip));
  if (opts.list) {
    for (const e of REGISTRY) {
      const reason = e.check(ctx);
      process.stdout.write(`${e.name.padEnd(20)} ${reason ? `skip: ${reason}` : 'ok'}${e.optIn ? ' (opt-in)' : ''}\n`);
    }
    return;
  }
  const runnable = [];
  for (const e of entries) {
    const reason = e.check(ctx);
    // A TLS server when the tls section isn't run is simply not part of this run.
    if (e.tls && !opts.sections.includes('tls')) continue;
    if (e.http && !e.main && !opts.sections.includes('http')) continue;
    if (reason) skipLine(res, e.name, reason);
    else runnable.push(e);
  }
  res.machine = machineFacts(ctx);
  // Client and server each hold every connection: stay under the hard fd limit (both raise their soft limit to it).
  const fdHard = res.machine.nofile?.hard;
  if (fdHard) {
    const cap = fdHard - 64;
    if (opts.scalingConns.some((n) => n > cap) || opts.memoryConns > cap) {
      ctx.warnings.push(`RLIMIT_NOFILE hard limit ${fdHard}: connection counts capped at ${cap}`);
      opts.scalingConns = [...new Set(opts.scalingConns.map((n) => Math.min(n, cap)))];
      opts.memoryConns = Math.min(opts.memoryConns, cap);
    }
  }
  if (!ctx.pin) log('bench: not pinning (fewer than 2 cores, no taskset, or --no-pin): server and client share CPUs');
  const nMain = opts.sections.includes('main') ? runnable.filter((e) => e.main).length * opts.sizes.length * opts.repeats : 0;
  const nScale = opts.sections.includes('scaling')
    ? runnable.reduce((a, e) => a + scalingBackendsOf(e, opts).length, 0) * opts.scalingConns.length * opts.scalingRepeats : 0;
  const nTls = opts.sections.includes('tls')
    ? runnable.reduce((a, e) => a + (e.tls ? opts.tlsSizes.length + (e.handshake ? 1 : 0) : 0), 0) * opts.repeats : 0;
  const nHttp = opts.sections.includes('http') && ctx.wrk ? runnable.filter((e) => e.http).length * opts.repeats : 0;
  const estimate = (nMain + nTls + nHttp) * (opts.warmup + opts.duration + 0.15) + nScale * (opts.scalingWarmup + opts.scalingDuration + 0.5);
  log(`bench: ${opts.preset}: ${nMain} main runs, ${nScale} scaling runs, ${nTls} tls runs, ${nHttp} http runs, about ${Math.round(estimate / 10) * 10 + 10} s`);

  res.sectionS = {};
  const timed = async (name, fn) => {
    if (!opts.sections.includes(name)) return;
    const ts = Date.now();
    await fn();
    res.sectionS[name] = (Date.now() - ts) / 1000;
  };
  await timed('main', () => sectionMain(runnable.filter((e) => e.main), ctx, opts, res));
  await timed('scaling', () => sectionScaling(runnable.filter((e) => e.scaling), ctx, opts, res));
  await timed('memory', () => sectionMemory(runnable, ctx, opts, res));
  await timed('tls', () => sectionTls(runnable.filter((e) => e.tls), ctx, opts, res));
  await timed('http', () => sectionHttp(runnable.filter((e) => e.http), ctx, opts, res));
  await timed('sendfile', () => sectionSendfile(ctx, opts, res));

  res.machine.loadavgAfter = os.loadavg();
  if (ctx.quietWaitedS > 1 || ctx.busyStarts) {
    ctx.warnings.push(
      `the machine was busy: waited ${Math.round(ctx.quietWaitedS)} s for quiet; ${ctx.busyStarts} run(s) started with other load above ${QUIET_CORES} cores`,
    );
  }
  res.totalS = (Date.now() - t0) / 1000;
  process.stdout.write(renderMarkdown(res));
  if (opts.write) writeOutputs(res, opts.out);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  process.exitCode = 1;
});
