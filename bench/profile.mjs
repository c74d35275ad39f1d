// Where a server's time goes per request, under the bench's ping-pong load.
//
//   node bench/profile.mjs                       # coio-protocol (epoll) against coio-protocol-proactor, 1 KiB
//   node bench/profile.mjs --servers c-epoll,c-uring,coio-protocol,coio-protocol-proactor --size 1k --repeats 2
//   node bench/profile.mjs --no-perf             # only the CPU per request (no perf installed)
//   node bench/profile.mjs --help
//
// For each server (pinned to CPU 0, the client to CPU 1, as in run.mjs), after
// a warm-up run, each repeat does three client runs of --duration seconds,
// interleaved across the servers (repeat > phase > server):
//
//   1. plain: the server's utime+stime over the requests (the client reads
//      /proc at the edges of its window, as run.mjs does): µs per request
//      with no tool attached, the reference for the other two.
//   2. counts: `perf stat` on tracepoints of the server (all its threads)
//      while the client runs: syscalls by name, io_uring's own events
//      (requests submitted, completions, internal polls armed when a recv or
//      send found nothing to do, task work), context switches and page
//      faults, each divided by the requests of that run.
//   3. profile: `perf record -e cpu-clock --call-graph fp` (node started with
//      --perf-basic-prof, so JIT frames have names), each sample's period
//      summed into a category by its stack: the kernel by syscall and by what
//      the innermost known frame is (TCP/IP, waking the peer, io_uring's own work, syscall
//      entry and exit, scheduling), the addon (coio.node: Poller.submit,
//      wait, ...), Node's N-API glue, V8's GC, V8 builtins and runtime, and
//      JavaScript by file. µs per request = the category's sampled CPU over
//      the requests of that run; the perf overhead shows as the difference
//      between the samples' total and run 1.
//
// The stacks of one repeat of each server are kept as perf script text in
// --out (default bench/build/profile/, git-ignored) for a closer look
// (e.g. `grep -c Poller::Submit`), with a JSON of every figure.
// Needs Linux, perf (Debian: linux-perf) with access to the tracepoints and
// kernel symbols (root, or perf_event_paranoid <= 1 and kptr_restrict 0), cc.
// The machine is shared: record `uptime` beside the figures and compare
// servers within one run, as ratios.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { spawnTracked, stopChild, lineReader, collect, sleep, clockTicks, fdCount, waitFds } from './lib/proc.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH, '..');
const BUILD = join(BENCH, 'build');
const S = (f) => join(BENCH, 'servers', f);

// name -> [program, args]; node servers get --perf-basic-prof.
const SERVERS = {
  'c-epoll': [join(BUILD, 'c_epoll')],
  'c-uring': [join(BUILD, 'c_uring')],
  'coio-protocol': ['node', S('coio_protocol.mjs'), '--backend', 'epoll'],
  'coio-protocol-uring': ['node', S('coio_protocol.mjs'), '--backend', 'io_uring', '--readiness'],
  'coio-protocol-proactor': ['node', S('coio_protocol.mjs'), '--backend', 'io_uring', '--proactor'],
  'coio-buffered': ['node', S('coio_protocol.mjs'), '--buffered', '--backend', 'epoll'],
  'coio-buffered-proactor': ['node', S('coio_protocol.mjs'), '--buffered', '--backend', 'io_uring', '--proactor'],
  'coio-streams': ['node', S('coio_streams.mjs'), '--backend', 'epoll'],
  'coio-streams-proactor': ['node', S('coio_streams.mjs'), '--backend', 'io_uring', '--proactor'],
  'coio-sock': ['node', S('coio_sock.mjs'), '--backend', 'epoll'],
  'coio-sock-uring': ['node', S('coio_sock.mjs'), '--backend', 'io_uring'],
};

const HELP = `usage: node bench/profile.mjs [options]

  --servers a,b      of: ${Object.keys(SERVERS).join(', ')}
                     (default coio-protocol,coio-protocol-proactor)
  --size 1k          message size (default 1k)
  --conns N          active connections (default 10)
  --idle N           idle connections held open beside them (default 0), as the scaling section
  --duration S       seconds per measured run (default 3)
  --repeats N        (default 2)
  --no-perf          only the plain runs (CPU per request)
  --no-record        no perf record (plain runs and counts only)
  --freq HZ          perf record sampling frequency (default 4999)
  --out DIR          where the stacks and the JSON go (default bench/build/profile)
  --top N            also list the N hottest symbols per server (default 0)
  --add NAME=FILE[,ARG...]   one more node server (repeatable), e.g. the same
                     server file in a patched copy of the tree, for a before/after
                     in one run: --add patched=/tmp/tree/bench/servers/coio_protocol.mjs,--backend,io_uring
`;

const TRACEPOINTS = [
  'raw_syscalls:sys_enter',
  'syscalls:sys_enter_io_uring_enter', 'syscalls:sys_enter_epoll_wait', 'syscalls:sys_enter_epoll_pwait',
  'syscalls:sys_enter_epoll_ctl', 'syscalls:sys_enter_recvfrom', 'syscalls:sys_enter_sendto',
  'syscalls:sys_enter_read', 'syscalls:sys_enter_write', 'syscalls:sys_enter_writev',
  'syscalls:sys_enter_recvmsg', 'syscalls:sys_enter_sendmsg', 'syscalls:sys_enter_futex',
  'syscalls:sys_enter_mmap', 'syscalls:sys_enter_munmap', 'syscalls:sys_enter_madvise', 'syscalls:sys_enter_mprotect',
  'io_uring:io_uring_submit_req', 'io_uring:io_uring_complete', 'io_uring:io_uring_poll_arm',
  'io_uring:io_uring_task_add', 'io_uring:io_uring_local_work_run', 'io_uring:io_uring_queue_async_work',
  'context-switches', 'page-faults',
];

function options() {
  const { values } = parseArgs({
    options: {
      servers: { type: 'string' }, size: { type: 'string' }, conns: { type: 'string' }, idle: { type: 'string' },
      duration: { type: 'string' }, repeats: { type: 'string' }, 'no-perf': { type: 'boolean' },
      'no-record': { type: 'boolean' }, freq: { type: 'string' }, out: { type: 'string' },
      top: { type: 'string' }, help: { type: 'boolean', short: 'h' }, add: { type: 'string', multiple: true },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const added = [];
  for (const a of values.add ?? []) {
    const m = /^([\w.-]+)=(.+)$/.exec(a);
    if (!m) throw new Error(`--add NAME=FILE[,ARG...], got ${a}`);
    SERVERS[m[1]] = ['node', ...m[2].split(',')];
    added.push(m[1]);
  }
  const size = values.size ?? '1k';
  const o = {
    servers: [...(values.servers ?? 'coio-protocol,coio-protocol-proactor').split(',').map((s) => s.trim()).filter(Boolean), ...added],
    size: Math.round(parseFloat(size) * (/k$/i.test(size) ? 1024 : 1)),
    conns: Number(values.conns ?? 10),
    idle: Number(values.idle ?? 0),
    duration: Number(values.duration ?? 3),
    repeats: Number(values.repeats ?? 2),
    perf: !values['no-perf'],
    record: !values['no-perf'] && !values['no-record'],
    freq: Number(values.freq ?? 4999),
    out: values.out ?? join(BUILD, 'profile'),
    top: Number(values.top ?? 0),
  };
  for (const s of o.servers) if (!SERVERS[s]) throw new Error(`unknown server ${s} (know: ${Object.keys(SERVERS).join(', ')})`);
  return o;
}

const log = (s) => process.stderr.write(`${s}\n`);

function buildC() {
  mkdirSync(BUILD, { recursive: true });
  for (const [name, src] of [['pingpong', join(BENCH, 'client', 'pingpong.c')], ['c_epoll', S('c_epoll.c')], ['c_uring', S('c_uring.c')]]) {
    const out = join(BUILD, name);
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
    execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-o', out, src], { stdio: 'inherit' });
  }
}

async function startServer(name) {
  let [prog, ...args] = SERVERS[name];
  if (prog === 'node') {
    prog = process.execPath;
    args = ['--perf-basic-prof', '--trace-gc', ...args];
  }
  const child = spawnTracked(['taskset', '-c', '0', 'timeout', '-k', '5', '3600', prog, ...args, '--host', '127.0.0.1', '--port', '0']);
  const stderr = collect(child.stderr);
  const lines = lineReader(child.stdout);
  let pid = null;
  let port = null;
  while (port === null) {
    const line = await lines.next(20000);
    if (line === null) throw new Error(`${name} exited: ${stderr.text.trim().slice(-300)}`);
    if (line.startsWith('SKIP')) throw new Error(`${name}: ${line}`);
    if (line.startsWith('PID ')) pid = Number(line.slice(4));
    if (line.startsWith('PORT ')) port = Number(line.slice(5));
  }
  // --trace-gc prints a line per collection on stdout: counted per run.
  const server = { name, child, pid: pid ?? child.pid, port, stderr, gc: { young: 0, old: 0 } };
  await sleep(50);
  server.baselineFds = fdCount(server.pid);
  (async () => {
    for (;;) {
      const line = await lines.next(2 ** 31 - 1).catch(() => null);
      if (line === null) return;
      if (/Scavenge|Minor Mark/.test(line)) server.gc.young++;
      else if (/Mark-Compact|Mark-sweep/i.test(line)) server.gc.old++;
    }
  })();
  return server;
}

/**
 * One client run. With `during` (a function of nothing returning a stop
 * function), the client connects, `during()` attaches its tool, and the
 * traffic starts 300 ms later (the client's --wait-go); the tool is stopped
 * once the client is done.
 */
async function runClient(server, o, { warmup = 0, during = null } = {}) {
  const argv = [
    'taskset', '-c', '1', join(BUILD, 'pingpong'), '--host', '127.0.0.1', '--port', String(server.port),
    '-c', String(o.conns), '--idle', String(o.idle), '-s', String(o.size), '-w', String(warmup), '-d', String(o.duration),
    '--server-pid', String(server.pid), '--wait-go',
  ];
  // The previous run's connections must be gone (closing 10,000 takes a moment).
  await waitFds(server.pid, (n) => n <= server.baselineFds + 2, 20000);
  const child = spawnTracked(argv);
  const stdout = collect(child.stdout);
  const err = lineReader(child.stderr);
  const gc0 = { ...server.gc };
  const exited = new Promise((r) => child.once('close', (code) => r(code)));
  let stop = null;
  try {
    for (;;) {
      const line = await err.next(30000);
      if (line === null) throw new Error(`client exited early: ${err.rest().join(' ')}`);
      if (/^CONNECTED/.test(line)) break;
    }
    // Every connection accepted before the traffic (and the tool) starts.
    await waitFds(server.pid, (n) => n >= server.baselineFds + o.conns + o.idle, 30000);
    if (during) {
      stop = await during();
      await sleep(300);
    }
    child.stdin.write('GO\n');
    const code = await exited;
    if (code !== 0) throw new Error(`client exit ${code}: ${err.rest().join(' ')}`);
  } finally {
    if (stop) await stop();
    await stopChild(child, 500);
  }
  const c = JSON.parse(stdout.text);
  const cpu = (c.server_cpu_ticks.utime + c.server_cpu_ticks.stime) / clockTicks();
  const gc = { young: server.gc.young - gc0.young, old: server.gc.old - gc0.old };
  return { client: c, gc, requests: c.requests, rps: c.rps, usPerReq: (cpu / c.requests) * 1e6, sysShare: c.server_cpu_ticks.stime / (c.server_cpu_ticks.utime + c.server_cpu_ticks.stime), busy: c.machine_ticks };
}

/** perf attached to pid until the returned function is called (SIGINT: perf writes its output). */
function perfTool(args) {
  return async () => {
    const child = spawnTracked(['perf', ...args]);
    const errText = collect(child.stderr);
    await sleep(200); // perf attaches
    return async () => {
      const done = new Promise((r) => child.once('close', r));
      try {
        process.kill(child.pid, 'SIGINT');
      } catch {}
      const t = setTimeout(() => stopChild(child, 500), 10000);
      await done;
      clearTimeout(t);
      if (errText.text.includes('rror')) log(`perf: ${errText.text.trim().slice(0, 300)}`);
    };
  };
}

function parseStat(file) {
  const counts = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(',');
    if (f.length < 3 || line.startsWith('#')) continue;
    const v = Number(f[0]);
    if (Number.isFinite(v)) counts[f[2]] = (counts[f[2]] ?? 0) + v;
  }
  return counts;
}

// ---- classifying samples ---------------------------------------------------

const NET = /^(tcp_|__tcp|tcp4|ip_|__ip|ipv4_|skb_|__skb|kfree_skb|sk_|__sk_|sock_|__sock|inet_|__inet|dev_|__dev|loopback|net_|__net|netif_|__netif|napi_|__napi|process_backlog|__kfree_skb|validate_xmit|raw_local_deliver|nf_|__alloc_skb|alloc_skb|lock_sock|release_sock|__release_sock|security_sock|bpf_|__copy_skb|csum_|skb|tcp|udp_|eth_|neigh_|dst_|rt_|fib_|__napi_poll|__x86_indirect_thunk_rax)/;
const URING = /^(__?io_|io_|__io_uring|io_uring)/;
const ENTRY = /^(entry_SYSCALL|do_syscall_64|syscall_exit|syscall_enter|__x64_sys|x64_sys_call|exit_to_user_mode|__pfx|fpregs_|switch_fpu|arch_exit_to_user|__rseq|rseq_)/;
const SCHED = /^(schedule|__schedule|finish_task_switch|pick_next|dequeue_|enqueue_|update_curr|try_to_wake_up|ttwu|psi_|__switch_to|context_switch|select_task_rq|update_load|newidle_balance|sched_)/;
// Waking a task blocked on a socket: on loopback, a send runs the receiver's
// TCP input in the sender's context, and so wakes the peer (the client,
// asleep in epoll_wait) on the server's clock. The slower the server, the
// more often the client has gone to sleep, so this cost grows with the
// server's own: worth seeing apart from the TCP work itself.
const WAKE = /^(sock_def_readable|sock_def_wakeup|sock_def_write_space|sk_stream_write_space|__wake_up_common|__wake_up_sync_key|__wake_up_common_lock|__wake_up|ep_poll_callback|try_to_wake_up|ttwu_do_activate|ttwu_queue_wakelist)$/;
const COPY = /^(copy_user|_copy_to|_copy_from|__copy|rep_movs|copy_to_user|copy_from_user|memcpy|__memcpy|simple_copy|skb_copy_datagram)/;
const FAULT = /^(asm_exc_page_fault|exc_page_fault|handle_mm_fault|do_user_addr_fault|__handle_mm_fault|clear_page|do_anonymous_page)/;
const EPOLL = /^(ep_|__ep_|do_epoll|epoll_)/;
const GC = /(Heap::|Heap\b|Scaveng|MarkCompact|MinorMC|Sweeper|Marking|Evacuat|GCTracer|Compactor|ConcurrentMarking|IncrementalMarking|CollectGarbage|PagedSpace|NewSpace|SemiSpace|Memory[A-Z]\w*::|LocalHeap|Safepoint|ArrayBufferSweeper|GlobalHandles|BackingStore::)/;
const NAPI = /(napi_|v8impl|node::napi|Napi::)/;

const isKernel = (f) => f.dso === '[kernel.kallsyms]';
const isAddon = (f) => /coio(_tls)?\.node$/.test(f.dso);
const isJs = (f) => /perf-\d+\.map$/.test(f.dso) || /^(JS|LazyCompile|Function|Script|Interpreted|Baseline|Maglev|Turbofan):/.test(f.sym);

/** What a sample's leaf is doing (the "by what" table). */
function classify(frames, isMain) {
  if (frames.length === 0) return 'unknown';
  const leaf = frames[0];
  if (!isMain) return isKernel(leaf) ? 'other threads (kernel)' : 'other threads (GC helpers, compiler, libuv)';
  if (isKernel(leaf)) {
    // The syscall this kernel time belongs to (the outermost __x64_sys_*),
    // and for io_uring_enter the phase: issuing the submitted requests, the
    // task work (completions, a recv retried once its internal poll fired),
    // or waiting.
    let sys = null;
    let fault = false;
    let phase = null;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      if (!isKernel(f)) break;
      // The frame just inside the syscall dispatch names the syscall
      // (__x64_sys_sendto, __do_sys_io_uring_enter, or ksys_write where the
      // wrapper is inlined).
      const next = frames[i + 1];
      if (next && isKernel(next) && /^(do_syscall_64|x64_sys_call)$/.test(next.sym) && !/^(x64_sys_call|do_syscall_64)$/.test(f.sym)) {
        sys = f.sym.replace(/^(__x64_sys_|__do_sys_|__se_sys_|ksys_|__sys_|do_)/, '');
      }
      if (FAULT.test(f.sym)) fault = true;
      if (phase === null) {
        if (/^io_submit_sqes$/.test(f.sym)) phase = 'submit';
        else if (/^(__?io_run_local_work|io_run_local_work|__io_run_local_work_loop|tctx_task_work|io_handle_tw_list|io_run_task_work)/.test(f.sym)) phase = 'task work';
        else if (/^(io_cqring_wait|io_cqring_wait_schedule)$/.test(f.sym)) phase = 'wait';
      }
    }
    const where = sys === 'io_uring_enter' && phase ? `io_uring_enter (${phase})` : sys ?? (fault ? 'page fault' : 'interrupt / other');
    // What it does: the innermost frame that says.
    let what = 'other';
    for (const f of frames) {
      if (!isKernel(f)) break;
      const s = f.sym;
      if (WAKE.test(s)) { what = 'waking a reader'; break; }
      if (NET.test(s) || COPY.test(s)) { what = 'TCP/IP and copies'; break; }
      if (URING.test(s)) { what = 'io_uring'; break; }
      if (EPOLL.test(s)) { what = 'epoll'; break; }
      if (SCHED.test(s)) { what = 'scheduler'; break; }
      if (FAULT.test(s)) { what = 'page fault'; break; }
      if (ENTRY.test(s)) { what = 'syscall entry/exit'; break; }
    }
    return `kernel: ${where}: ${what}`;
  }
  const dso = leaf.dso;
  const sym = leaf.sym;
  if (isAddon(leaf)) return `addon: ${shortCpp(sym)}`;
  if (isJs(leaf) || /^Builtin:/.test(sym)) return jsCategory(sym);
  if (/libc[.-]/.test(dso)) return /malloc|free|realloc|calloc|_int_|tcache|arena/.test(sym) ? 'libc: malloc/free' : /mem(cpy|move|set)/.test(sym) ? 'libc: memcpy/memset' : `libc: ${sym}`;
  if (/\bnode$/.test(dso) || /libnode/.test(dso)) {
    if (NAPI.test(sym)) return 'node: N-API glue';
    if (GC.test(sym)) return 'V8: GC (main thread)';
    if (/^Builtins_/.test(sym)) return `V8 builtin: ${sym.replace(/^Builtins_/, '')}`;
    if (/Runtime_|Runtime::/.test(sym)) return 'V8: runtime functions';
    if (/Handle|HandleScope|Persistent|Reference|Global/.test(sym)) return 'V8: handles';
    return 'node/V8 C++: other';
  }
  if (dso === '[unknown]' || sym === '[unknown]') return 'unknown';
  return `${dso.split('/').pop()}: ${sym}`;
}

// Costs of the user side that several symbols share, found anywhere on the
// stack between the leaf and the first JavaScript frame (the first that
// matches counts; kernel samples never do).
const THEMES = [
  ['buffer kept alive per op (napi_create_reference / napi_delete_reference, the ops map)', /napi_create_reference|napi_delete_reference|GlobalHandles::(Create|Destroy)|v8impl::Reference|ReleaseOp|ReleaseFinished|_Hashtable|_M_emplace|_M_erase/],
  ['a typed array\'s .buffer (JSTypedArray::GetBuffer)', /JSTypedArray::GetBuffer|TypedArrayPrototypeBuffer/],
  ['argument checks and conversions (coio::Arg*, napi_get_value_*, napi_get_typedarray_info)', /coio::Arg|napi_get_value|napi_get_typedarray_info|napi_typeof|napi_get_cb_info|TypedArray::Length|JSTypedArray::type|IsTypedArray/],
  ['ObjectWrap unwrap of the Poller (napi_unwrap)', /napi_unwrap|Object::GetPrivate|External::Value|IsExternal/],
  ['the rest of the native calls (N-API entry and exit, the addon\'s own code, libc)', /FunctionCallbackWrapper|Builtins_CallApiCallback|HandleApiCall|can_call_into_js|napi_get_undefined|napi_create_(int|uint|double)|napi_get_boolean|Napi::Number::New|CallbackData|TemplatedInstanceCallback/],
  ['V8 GC (main thread)', GC],
];

function theme(frames, isMain) {
  if (!isMain || frames.length === 0 || isKernel(frames[0])) return null;
  const j = frames.findIndex(isJs);
  const user = j < 0 ? frames : frames.slice(0, j);
  for (const [name, re] of THEMES) if (user.some((f) => re.test(f.sym))) return name;
  return null;
}

/**
 * Who a sample's time is spent for (the "by call" table), each sample once:
 * the native call of the addon it is under (its kernel time included), else
 * V8's GC, else the innermost JavaScript function's file, else what the leaf is.
 */
function callPath(frames, isMain) {
  if (!isMain) return 'other threads';
  let j = frames.findIndex((f) => isJs(f) || /^Builtins_(CallApiCallback|CEntry)/.test(f.sym));
  if (j < 0) j = frames.length;
  let outer = -1;
  for (let i = 0; i < j; i++) if (isAddon(frames[i])) outer = i;
  if (outer >= 0) {
    const t = /Poller::(\w+)>/.exec(frames[outer].sym);
    if (t) return `native Poller.${t[1][0].toLowerCase()}${t[1].slice(1)}()`;
    // A free function behind N-API's generic wrapper: the next frame in.
    for (let i = outer; i >= 0; i--) {
      const f = frames[i];
      if (!isAddon(f) || /Napi::details|^coio::Arg|@plt/.test(f.sym)) continue;
      return `native ${shortCpp(f.sym).replace(/^coio::/, '')}()`;
    }
    return 'native (N-API wrapper, argument checks)';
  }
  for (let i = 0; i < j; i++) if (!isKernel(frames[i]) && GC.test(frames[i].sym)) return 'GC (main thread)';
  const js = frames.find(isJs);
  if (js) {
    const file = /([^/\s]+\.m?js)(?::\d+)*\s*$/.exec(js.sym);
    return `JS: ${file ? file[1] : '(no file)'}`;
  }
  // Kernel time whose user stack the unwinder lost (libc's syscall wrappers
  // keep no frame pointer): named by its syscall.
  return classify(frames, isMain).replace(/^(\w+: [^:]+).*$/, '$1').replace(/^kernel: /, 'syscall ');
}

function shortCpp(sym) {
  const t = /Poller::(\w+)>/.exec(sym);
  if (t) return `Poller::${t[1]} (N-API entry)`;
  const m = /([A-Za-z_]\w*::[A-Za-z_~]\w*)\s*(\(|$)/.exec(sym.replace(/\(anonymous namespace\)::/g, ''));
  return m ? m[1] : sym.slice(0, 60);
}

function jsCategory(sym) {
  // --perf-basic-prof names: "JS:*readDone file:///…/dist/esm/proactor_transport.js:123:5", "Builtin:…"
  const file = /(?:file:\/\/)?\/\S*?([^/\s]+\.(?:m?js|ts))(?::\d+)*\s*$/.exec(sym);
  if (/^Builtin:/.test(sym)) return `V8 builtin: ${sym.slice(8)}`;
  if (!file) return 'JS: (no file)';
  return `JS: ${file[1]}`;
}

/** perf script text -> [{tid, pid, period, frames: [{sym, dso}] leaf first}] */
function* samples(text) {
  let cur = null;
  for (const line of text.split('\n')) {
    if (line === '') {
      if (cur) yield cur;
      cur = null;
      continue;
    }
    if (!line.startsWith('\t') && !line.startsWith(' ')) {
      // "node  1234/1234  250200 cpu-clock:" and the like
      const m = /\s(\d+)\/(\d+)\s+.*?(\d+)\s+\S*cpu-clock/.exec(line);
      if (cur) yield cur;
      cur = m ? { pid: Number(m[1]), tid: Number(m[2]), period: Number(m[3]), frames: [] } : null;
      continue;
    }
    if (!cur) continue;
    const m = /^\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$/.exec(line);
    if (m) cur.frames.push({ sym: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] });
  }
  if (cur) yield cur;
}

function breakdown(text, requests, top) {
  const cats = new Map();
  const syms = new Map();
  const paths = new Map();
  const themes = new Map();
  let total = 0;
  for (const s of samples(text)) {
    total += s.period;
    const isMain = s.tid === s.pid;
    const cat = classify(s.frames, isMain);
    cats.set(cat, (cats.get(cat) ?? 0) + s.period);
    if (top > 0 && s.frames[0]) {
      const k = `${s.frames[0].sym} (${s.frames[0].dso.split('/').pop()})`;
      syms.set(k, (syms.get(k) ?? 0) + s.period);
    }
    const path = callPath(s.frames, isMain);
    paths.set(path, (paths.get(path) ?? 0) + s.period);
    const th = theme(s.frames, isMain);
    if (th) themes.set(th, (themes.get(th) ?? 0) + s.period);
  }
  const us = (ns) => ns / 1000 / requests;
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([k, ns]) => ({ what: k, usPerReq: us(ns), share: ns / total }));
  return {
    totalUsPerReq: us(total),
    categories: sorted(cats),
    paths: sorted(paths),
    themes: sorted(themes),
    top: top > 0 ? sorted(syms).slice(0, top) : [],
  };
}

/** Coarse groups of the categories, for the summary table. */
function group(cat) {
  if (cat.startsWith('kernel: ')) {
    if (/: TCP\/IP/.test(cat)) return 'kernel: TCP/IP and copies';
    if (/: waking a reader$/.test(cat)) return 'kernel: waking a reader (the peer)';
    if (/: io_uring$/.test(cat)) return 'kernel: io_uring\'s own work';
    if (/: epoll$/.test(cat)) return 'kernel: epoll';
    if (/: syscall entry\/exit$/.test(cat)) return 'kernel: syscall entry/exit';
    if (/: scheduler$/.test(cat)) return 'kernel: scheduler';
    return 'kernel: other';
  }
  if (cat.startsWith('addon: ')) return 'addon (coio.node)';
  if (cat === 'node: N-API glue') return 'N-API glue (node)';
  if (cat.startsWith('V8: GC')) return 'GC (main thread)';
  if (cat.startsWith('JS: ')) return 'JS (JIT code)';
  if (cat.startsWith('V8 builtin: ')) return 'V8 builtins (JS runtime)';
  if (cat.startsWith('libc: ')) return 'libc (malloc, memcpy, ...)';
  if (cat.startsWith('other threads')) return 'other threads';
  if (cat.startsWith('V8') || cat.startsWith('node/V8')) return 'V8 / node C++ other';
  return 'other';
}

// ---- main ------------------------------------------------------------------------

const f2 = (v) => (v == null ? '–' : v.toFixed(2));
const f1 = (v) => (v == null ? '–' : v.toFixed(1));
const median = (xs) => {
  const a = xs.filter((x) => x != null).sort((p, q) => p - q);
  return a.length === 0 ? null : a.length % 2 ? a[a.length >> 1] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};

async function main() {
  const o = options();
  buildC();
  mkdirSync(o.out, { recursive: true });
  if (o.perf && spawnSync('perf', ['--version']).status !== 0) throw new Error('perf not found (apt-get install linux-perf), or run with --no-perf');
  const uptimeBefore = execFileSync('uptime', { encoding: 'utf8' }).trim();
  log(`profile: ${o.servers.join(', ')}; ${o.size} B x ${o.conns} conns, ${o.duration} s runs, ${o.repeats} repeats; ${uptimeBefore}`);
  const servers = [];
  const res = { date: new Date().toISOString(), options: o, uptimeBefore, kernel: os.release(), node: process.version, git: gitRev(), servers: {} };
  try {
    for (const name of o.servers) {
      const s = await startServer(name);
      servers.push(s);
      res.servers[name] = { plain: [], counts: [], profile: [] };
      await runClient(s, { ...o, duration: 2 }); // warm-up: JIT, buffers
    }
    for (let rep = 0; rep < o.repeats; rep++) {
      for (const phase of ['plain', ...(o.perf ? ['counts'] : []), ...(o.record ? ['profile'] : [])]) {
        for (const s of servers) {
          const r = res.servers[s.name];
          if (phase === 'plain') {
            const run = await runClient(s, o);
            r.plain.push({ usPerReq: run.usPerReq, rps: run.rps, sysShare: run.sysShare, requests: run.requests, gc: run.gc });
            log(`[${rep + 1}/${o.repeats}] ${s.name.padEnd(24)} plain    ${f2(run.usPerReq)} µs/req  ${Math.round(run.rps)} req/s  sys ${f1(run.sysShare * 100)}%`);
          } else if (phase === 'counts') {
            const file = join(o.out, `${s.name}.stat.csv`);
            const run = await runClient(s, o, {
              during: perfTool(['stat', '-x,', '-o', file, '-p', String(s.pid), '-e', TRACEPOINTS.join(',')]),
            });
            const counts = parseStat(file);
            const per = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / run.requests]));
            r.counts.push({ requests: run.requests, usPerReq: run.usPerReq, perRequest: per });
            log(`[${rep + 1}/${o.repeats}] ${s.name.padEnd(24)} counts   ${f2(per['raw_syscalls:sys_enter'])} syscalls/req  (${f2(run.usPerReq)} µs/req traced)`);
          } else {
            const data = join(o.out, `${s.name}.perf.data`);
            const run = await runClient(s, o, {
              during: perfTool(['record', '-q', '-e', 'cpu-clock', '-F', String(o.freq), '--call-graph', 'fp', '-o', data, '-p', String(s.pid)]),
            });
            const text = execFileSync('perf', ['script', '-i', data, '-F', 'comm,pid,tid,period,event,ip,sym,dso'], {
              encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'],
            });
            if (rep === 0) writeFileSync(join(o.out, `${s.name}.stacks.txt`), text);
            try {
              unlinkSync(data);
            } catch {}
            const b = breakdown(text, run.requests, o.top);
            r.profile.push({ requests: run.requests, usPerReq: run.usPerReq, ...b });
            log(`[${rep + 1}/${o.repeats}] ${s.name.padEnd(24)} profile  ${f2(b.totalUsPerReq)} µs/req sampled (${f2(run.usPerReq)} µs/req under perf)`);
          }
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
  }
  res.uptimeAfter = execFileSync('uptime', { encoding: 'utf8' }).trim();
  writeFileSync(join(o.out, 'profile.json'), JSON.stringify(res, null, 1));
  process.stdout.write(render(res, o));
  log(`profile: stacks and JSON in ${relative(process.cwd(), o.out) || '.'}`);
}

function gitRev() {
  try {
    return execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function render(res, o) {
  const names = Object.keys(res.servers);
  const out = [];
  const base = names[0];
  const plainMed = Object.fromEntries(names.map((n) => [n, median(res.servers[n].plain.map((p) => p.usPerReq))]));
  out.push(`# Profile: ${o.size} B ping-pong, ${o.conns} connections${o.idle ? ` (and ${o.idle} idle)` : ''}, ${o.duration} s runs, ${o.repeats} repeats`, '');
  out.push(`Kernel ${res.kernel}, node ${res.node}, git ${res.git}. Before: ${res.uptimeBefore}. After: ${res.uptimeAfter}.`, '');
  out.push('## Server CPU per request (no tool attached)', '');
  out.push(`| server | µs/req (median; each run) | x ${base} | kernel share | req/s | GCs per 100k req (young, old) |`, '|---|---:|---:|---:|---:|---:|');
  for (const n of names) {
    const p = res.servers[n].plain;
    const per = (k) => f1(median(p.map((x) => (x.gc[k] / x.requests) * 1e5)));
    const gc = SERVERS[n][0] === 'node' ? `${per('young')}, ${per('old')}` : '–';
    out.push(`| ${n} | ${f2(plainMed[n])} (${p.map((x) => f2(x.usPerReq)).join(', ')}) | ${f2(plainMed[n] / plainMed[base])}x | ${f1(median(p.map((x) => x.sysShare * 100)))}% | ${Math.round(median(p.map((x) => x.rps)))} | ${gc} |`);
  }
  out.push('');
  if (o.perf) {
    const keys = [...new Set(names.flatMap((n) => res.servers[n].counts.flatMap((c) => Object.keys(c.perRequest))))];
    const rows = keys
      .map((k) => [k, names.map((n) => median(res.servers[n].counts.map((c) => c.perRequest[k] ?? 0)))])
      .filter(([, vs]) => vs.some((v) => v >= 0.005));
    out.push('## Events per request (perf stat, median of the repeats)', '');
    out.push(`| event | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const [k, vs] of rows) out.push(`| ${k.replace(/^syscalls:sys_enter_/, 'syscall ').replace(/^raw_syscalls:sys_enter$/, 'syscalls, all')} | ${vs.map(f2).join(' | ')} |`);
    out.push('');
  }
  if (o.record) {
    const catMed = (n, pick) => {
      const m = new Map();
      for (const p of res.servers[n].profile) for (const c of pick(p)) m.set(c.what, [...(m.get(c.what) ?? []), c.usPerReq]);
      const reps = res.servers[n].profile.length;
      return new Map([...m].map(([k, v]) => [k, median([...v, ...Array(reps - v.length).fill(0)])]));
    };
    const groups = names.map((n) => {
      const m = new Map();
      for (const [k, v] of catMed(n, (p) => p.categories)) m.set(group(k), (m.get(group(k)) ?? 0) + v);
      return m;
    });
    const gkeys = [...new Set(groups.flatMap((m) => [...m.keys()]))].sort((a, b) => (groups[names.length - 1].get(b) ?? 0) - (groups[names.length - 1].get(a) ?? 0));
    out.push('## Where the CPU goes, µs per request (perf record cpu-clock, median of the repeats)', '');
    out.push(`| group | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const g of gkeys) out.push(`| ${g} | ${groups.map((m) => f2(m.get(g) ?? 0)).join(' | ')} |`);
    out.push(`| **sampled total** | ${names.map((n) => f2(median(res.servers[n].profile.map((p) => p.totalUsPerReq)))).join(' | ')} |`);
    out.push(`| (run's µs/req under perf, from /proc) | ${names.map((n) => f2(median(res.servers[n].profile.map((p) => p.usPerReq)))).join(' | ')} |`, '');
    const cats = names.map((n) => catMed(n, (p) => p.categories));
    const ckeys = [...new Set(cats.flatMap((m) => [...m.keys()]))]
      .filter((k) => cats.some((m) => (m.get(k) ?? 0) >= 0.05))
      .sort((a, b) => Math.max(...cats.map((m) => m.get(b) ?? 0)) - Math.max(...cats.map((m) => m.get(a) ?? 0)));
    out.push('### In detail (categories of at least 0.05 µs/req somewhere)', '');
    out.push(`| category | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const k of ckeys) out.push(`| ${k} | ${cats.map((m) => f2(m.get(k) ?? 0)).join(' | ')} |`);
    out.push('');
    const paths = names.map((n) => catMed(n, (p) => p.paths));
    const pkeys = [...new Set(paths.flatMap((m) => [...m.keys()]))]
      .filter((k) => paths.some((m) => (m.get(k) ?? 0) >= 0.02))
      .sort((a, b) => Math.max(...paths.map((m) => m.get(b) ?? 0)) - Math.max(...paths.map((m) => m.get(a) ?? 0)));
    out.push('### By call: the native call a sample is under (its kernel time included), else GC, else the innermost JavaScript file', '');
    out.push(`| under | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const k of pkeys) out.push(`| ${k} | ${paths.map((m) => f2(m.get(k) ?? 0)).join(' | ')} |`);
    out.push('');
    const th = names.map((n) => catMed(n, (p) => p.themes ?? []));
    out.push('### User-side costs shared by several symbols (from the leaf up to the first JavaScript frame)', '');
    out.push(`| cost | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const [k] of THEMES) out.push(`| ${k} | ${th.map((m) => f2(m.get(k) ?? 0)).join(' | ')} |`);
    out.push('');
    if (o.top > 0) {
      for (const n of names) {
        out.push(`### ${n}: hottest symbols (self), first repeat`, '', '| symbol | µs/req | share |', '|---|---:|---:|');
        for (const t of res.servers[n].profile[0].top) out.push(`| ${t.what.replace(/\|/g, '\\|').slice(0, 110)} | ${f2(t.usPerReq)} | ${f1(t.share * 100)}% |`);
        out.push('');
      }
    }
  }
  return out.join('\n');
}

main().catch((e) => {
  log(`profile: ${e.stack ?? e}`);
  process.exitCode = 1;
});
