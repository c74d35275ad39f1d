// The human-facing output of a results object: markdown tables for stdout
// and the SVG charts. Works from the JSON alone, so old results can be
// re-rendered (`node bench/run.mjs --render bench/results/<file>.json`).
import { barChart, lineChart, colorFor, fmtNum } from './svg.mjs';
import { median, ratio } from './stats.mjs';

export const FLOOR = 'c-epoll';
export const NODE = 'node-net';
const CLIENT_BOUND = 0.9; // client CPU share of its core above which the client is the bottleneck

export const sizeLabel = (n) =>
  n % (1024 * 1024) === 0 ? `${n / 1048576} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;

const us = (v) => (v == null ? '–' : v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'));
const int = (v) => (v == null ? '–' : Math.round(v).toLocaleString('en-US'));
const pct = (v) => (v == null ? '–' : `${Math.round(v * 100)}%`);
const spread = (s) => (s?.spreadPct == null ? '–' : `±${s.spreadPct < 10 ? s.spreadPct.toFixed(1) : Math.round(s.spreadPct)}%`);
const x = (v) => (v == null ? '–' : `${v.toFixed(2)}x`);
const bytes = (v) =>
  v == null ? '–' : v >= 1048576 ? `${(v / 1048576).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${Math.round(v)} B`;

function table(head, rows) {
  const out = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i ? '---:' : '---')).join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

/** Ratios of one main-section summary row against the floor and Node's net of the same size. */
export function addRatios(summary) {
  for (const row of summary) {
    const floor = summary.find((r) => r.server === FLOOR && r.size === row.size);
    const node = summary.find((r) => r.server === NODE && r.size === row.size);
    row.vs = {
      floorCpu: ratio(row.serverCpuUsPerReq.median, floor?.serverCpuUsPerReq.median),
      nodeCpu: ratio(row.serverCpuUsPerReq.median, node?.serverCpuUsPerReq.median),
      nodeRps: ratio(row.rps.median, node?.rps.median),
      floorRps: ratio(row.rps.median, floor?.rps.median),
    };
    row.clientBound = (row.clientUtil.median ?? 0) >= CLIENT_BOUND;
  }
  return summary;
}

/**
 * coio's rows against the Bun and Deno servers of the same level, as the
 * targets are stated: [coio server, peer server, target ratio of CPU per request by size].
 */
export const PEER_PAIRS = [
  ['coio-buffered', 'bun-listen', { 1024: 0.9, 102400: 0.7 }],
  ['coio-protocol', 'bun-listen', {}],
  ['coio-streams', 'deno-read', { 1024: 1.0, 102400: 1.0 }],
  ['coio-streams-into', 'deno-read', { 1024: 1.0, 102400: 1.0 }],
  ['coio-streams', 'bun-net', {}],
];

export const DENO_HTTP = 'deno-http';
export const NODE_HTTP = 'node-http';

/** Ratios of the http rows against Deno.serve and Node's http. */
export function addHttpRatios(summary) {
  for (const row of summary) {
    const deno = summary.find((r) => r.server === DENO_HTTP);
    const node = summary.find((r) => r.server === NODE_HTTP);
    row.vs = {
      denoRps: ratio(row.rps.median, deno?.rps.median),
      denoCpu: ratio(row.serverCpuUsPerReq.median, deno?.serverCpuUsPerReq.median),
      nodeRps: ratio(row.rps.median, node?.rps.median),
      nodeCpu: ratio(row.serverCpuUsPerReq.median, node?.serverCpuUsPerReq.median),
    };
    row.clientBound = (row.clientUtil.median ?? 0) >= CLIENT_BOUND;
  }
  return summary;
}

/** Per run (repeat) ratio of a's to b's CPU per request in the same run: min..max over repeats. */
function pairedRatios(runs, a, b, size) {
  const out = [];
  for (const ra of runs.filter((r) => r.server === a && r.size === size)) {
    const rb = runs.find((r) => r.server === b && r.size === size && r.rep === ra.rep);
    const v = ratio(ra.serverCpuUsPerReq, rb?.serverCpuUsPerReq);
    if (v != null) out.push(v);
  }
  return out;
}

function httpMarkdown(h) {
  const out = [
    `## HTTP: "Hello, World!", wrk -t1 -c${h.connections}, keep-alive`,
    '',
    `GET ${h.path} answered by each server, median of ${h.repeats} run(s) of ${h.duration} s after ${h.warmup} s of wrk warm-up. ` +
      `"server CPU µs/req" is the server's utime+stime around the wrk run over wrk's request count; "x Deno.serve" and "x node http" divide by theirs ` +
      `(CPU: lower is better; req/s: higher). wrk is one thread, pinned to the client's CPU: rows marked † had it at ≥ ${CLIENT_BOUND * 100}% of its core, ` +
      `so req/s is wrk's limit there and CPU per request the fair comparison. Caveat: the servers do not send quite the same bytes ` +
      `("response B", and the header names below). ` +
      `Bun.serve and Deno.serve go through the Fetch API (a Request and a Response object per request); coio's example and Node's http do not.`,
    '',
  ];
  out.push(
    table(
      ['server', 'req/s', '±', 'req/s x Deno.serve', 'server CPU µs/req', '±', 'x Deno.serve', 'x node http', 'p50 µs', 'p99 µs', 'server CPU', 'client CPU', 'other load', 'response B', 'errors'],
      h.summary.map((r) => [
        r.label,
        `${int(r.rps.median)}${r.clientBound ? ' †' : ''}`,
        spread(r.rps),
        x(r.vs.denoRps),
        us(r.serverCpuUsPerReq.median),
        spread(r.serverCpuUsPerReq),
        x(r.vs.denoCpu),
        x(r.vs.nodeCpu),
        us(r.p50.median),
        us(r.p99.median),
        pct(r.serverUtil.median),
        pct(r.clientUtil.median),
        r.otherLoad.median == null ? '–' : r.otherLoad.median.toFixed(2),
        r.probe ? String(r.probe.bytes) : '–',
        r.errors ? String(r.errors) : '0',
      ]),
    ),
    '',
  );
  for (const r of h.summary) if (r.probe) out.push(`- ${r.label}: \`${r.probe.status}\`, headers: ${r.probe.headers.join(', ')}`);
  out.push('');
  return out;
}

function sendfileMarkdown(s) {
  const out = [
    `## Serving a file: loop.sendfile against read-and-write, wrk -t1 -c${s.connections}, keep-alive`,
    '',
    `examples/http_server.mjs --files: GET /file/NAME (loop.sendfile: sendfile(2), the kernel moves the pages) against ` +
      `/file/NAME?copy (the file read into Buffers and written through the transport), interleaved, median of ${s.repeats} run(s) of ` +
      `${s.duration} s. "server CPU" is its utime+stime around the wrk run; "x copy" divides by the ?copy row of the same file ` +
      `(throughput: higher is better; CPU: lower). "load" is the 1-minute load average around the runs.`,
    '',
  ];
  const copyOf = (r) => s.summary.find((c) => c.file === r.file && c.mode === 'copy');
  out.push(
    table(
      ['file', 'path', 'req/s', 'MiB/s', '±', 'x copy', 'server CPU µs/req', 'server CPU ms/GiB', 'x copy', 'server CPU', 'client CPU', 'p99 µs', 'load', 'errors'],
      s.summary.map((r) => [
        sizeLabel(r.size),
        r.mode === 'copy' ? 'read + write (?copy)' : 'loop.sendfile',
        int(r.rps.median),
        int(r.mibps.median),
        spread(r.mibps),
        r.mode === 'copy' ? '–' : x(ratio(r.mibps.median, copyOf(r)?.mibps.median)),
        us(r.serverCpuUsPerReq.median),
        us(r.serverCpuMsPerGiB.median),
        r.mode === 'copy' ? '–' : x(ratio(r.serverCpuMsPerGiB.median, copyOf(r)?.serverCpuMsPerGiB.median)),
        pct(r.serverUtil.median),
        pct(r.clientUtil.median),
        us(r.p99.median),
        r.load.min == null ? '–' : `${r.load.min.toFixed(2)}–${r.load.max.toFixed(2)}`,
        String(r.errors),
      ]),
    ),
    '',
  );
  return out;
}

export const NODE_TLS = 'node-tls';
export const FLOOR_TLS = 'c-epoll-tls';

/** Ratios of the tls section's rows against Node's tls, the C + OpenSSL floor, and uvloop's server of the same level. */
export function addTlsRatios(summary) {
  for (const row of summary) {
    const same = (name) => summary.find((r) => r.server === name && r.size === row.size);
    const uv = row.level ? same(`uvloop-tls-${row.level}`) : null;
    row.vs = {
      nodeTlsCpu: ratio(row.serverCpuUsPerReq.median, same(NODE_TLS)?.serverCpuUsPerReq.median),
      floorCpu: ratio(row.serverCpuUsPerReq.median, same(FLOOR_TLS)?.serverCpuUsPerReq.median),
      uvloopCpu: uv && uv !== row ? ratio(row.serverCpuUsPerReq.median, uv.serverCpuUsPerReq.median) : null,
      nodeTlsRps: ratio(row.rps.median, same(NODE_TLS)?.rps.median),
    };
    row.clientBound = (row.clientUtil.median ?? 0) >= CLIENT_BOUND;
  }
  return summary;
}

function tlsMarkdown(t) {
  const out = [];
  out.push(
    `## TLS echo, ${t.connections} connections`,
    '',
    `${t.version ?? 'TLS'} ${t.cipher ?? ''}, ${t.keyType ?? ''} certificate; the C client speaks TLS through the system's OpenSSL ` +
      `and completes every handshake before the warm-up. Median of ${t.repeats} run(s) of ${t.duration} s. ` +
      `"x node tls" divides by Node's tls server of the same size; "x C+OpenSSL" by a C epoll server driving OpenSSL directly ` +
      `(what the crypto and the syscalls cost with no event loop above them); "x uvloop" by uvloop's ssl server of the same level ` +
      `(protocol or streams). † as above: the client was at ≥ ${CLIENT_BOUND * 100}% of its core.`,
    '',
  );
  const head = ['server', 'req/s', '±', 'server CPU µs/req', '±', 'x node tls', 'x C+OpenSSL', 'x uvloop', 'p50 µs', 'p99 µs', 'server CPU', 'client CPU', 'other load', 'errors'];
  const row = (r) => [
    r.label,
    `${int(r.rps.median)}${r.clientBound ? ' †' : ''}`,
    spread(r.rps),
    us(r.serverCpuUsPerReq.median),
    spread(r.serverCpuUsPerReq),
    x(r.vs.nodeTlsCpu),
    x(r.vs.floorCpu),
    x(r.vs.uvloopCpu),
    us(r.p50.median),
    us(r.p99.median),
    pct(r.serverUtil.median),
    pct(r.clientUtil.median),
    r.otherLoad.median == null ? '–' : r.otherLoad.median.toFixed(2),
    r.errors ? String(r.errors) : '0',
  ];
  for (const size of t.sizes) {
    const rows = t.summary.filter((r) => r.size === size);
    if (rows.length) out.push(`### ${sizeLabel(size)} over TLS`, '', table(head, rows.map(row)), '');
  }
  if (t.handshake?.length) {
    out.push(
      `### Handshake rate`,
      '',
      `New TLS connections per second, ${t.connections} at a time: connect, full handshake (no resumption), one 1 KiB echo, ` +
        `close (RST). "server CPU µs/conn" is the server's CPU per connection; p50/p99 run from connect() to the echo's last byte.`,
      '',
      table(
        ['server', 'connections/s', '±', 'server CPU µs/conn', '±', 'x node tls', 'x C+OpenSSL', 'x uvloop', 'p50 µs', 'p99 µs', 'server CPU', 'client CPU', 'other load', 'errors'],
        t.handshake.map(row),
      ),
      '',
    );
  }
  const other = t.runs.map((r) => r.otherLoad).filter((v) => v != null);
  if (other.length) {
    out.push(
      `Other load during the TLS windows: median ${other.sort((a, b) => a - b)[other.length >> 1].toFixed(2)} cores, max ${Math.max(...other).toFixed(2)}.`,
      '',
    );
  }
  return out;
}

function machineLines(m) {
  const py = m.python ? `${m.python.version} (${m.python.path})` : 'none';
  return [
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.kernel}; node ${m.node}, python ${py}` +
      `${m.uvloop ? `, uvloop ${m.uvloop}` : ''}${m.bun ? `, bun ${m.bun}` : ''}${m.deno ? `, deno ${m.deno}` : ''}` +
      `${m.wrk ? `, ${m.wrk}` : ''}; ${m.cc}; ${m.libc ?? ''}`,
    `Date ${m.date}; load average before ${m.loadavgBefore.map((v) => v.toFixed(2)).join(' ')}` +
      `${m.loadavgAfter ? `, after ${m.loadavgAfter.map((v) => v.toFixed(2)).join(' ')}` : ''}; ` +
      `${m.pinning ? `server pinned to CPU ${m.pinning.server}, client to CPU ${m.pinning.client}` : 'no CPU pinning'}.`,
  ];
}

export function renderMarkdown(res) {
  const out = [];
  out.push(`# coio benchmark (${res.preset})`, '', ...machineLines(res.machine), '');
  for (const s of res.skipped ?? []) out.push(`- skipped ${s.name}: ${s.reason}`);
  if (res.skipped?.length) out.push('');

  if (res.main?.summary?.length) {
    const m = res.main;
    out.push(
      `## Echo ping-pong, ${m.connections} connections`,
      '',
      `Median of ${m.repeats} run(s) of ${m.duration} s after ${m.warmup} s warm-up; ± is half the range over the median. ` +
        `"server CPU" is the server's utime+stime over the measured window per request: the fair comparison when the client ` +
        `saturates first (rows marked † had the client at ≥ ${CLIENT_BOUND * 100}% of its core). ` +
        `Ratios: "x C floor" and "x node net" divide by the C epoll server's and Node's net figures of the same size (lower is better for CPU; higher for req/s). ` +
        `"server CPU" / "client CPU" are shares of one core; "other load" is CPU (in cores) used by neither during the window: ` +
        `above ~0.2 something else on the machine was competing and the row is suspect.`,
      '',
    );
    for (const size of m.sizes) {
      const rows = m.summary
        .filter((r) => r.size === size)
        .map((r) => [
          r.label,
          `${int(r.rps.median)}${r.clientBound ? ' †' : ''}`,
          spread(r.rps),
          x(r.vs.nodeRps),
          us(r.serverCpuUsPerReq.median),
          spread(r.serverCpuUsPerReq),
          x(r.vs.floorCpu),
          x(r.vs.nodeCpu),
          us(r.p50.median),
          us(r.p99.median),
          pct(r.serverUtil.median),
          pct(r.clientUtil.median),
          r.otherLoad.median == null ? '–' : r.otherLoad.median.toFixed(2),
          r.errors ? String(r.errors) : '0',
        ]);
      out.push(
        `### ${sizeLabel(size)}`,
        '',
        table(
          ['server', 'req/s', '±', 'req/s x node net', 'server CPU µs/req', '±', 'x C floor', 'x node net', 'p50 µs', 'p99 µs', 'server CPU', 'client CPU', 'other load', 'errors'],
          rows,
        ),
        '',
      );
    }
    const pairs = PEER_PAIRS.filter(([a, b]) => m.summary.some((r) => r.server === a) && m.summary.some((r) => r.server === b));
    if (pairs.length) {
      const label = (name) => m.summary.find((r) => r.server === name).label;
      out.push(
        `### coio against Bun and Deno`,
        '',
        `Server CPU per request of the coio server over the peer's, each repeat's pair measured in the same run ` +
          `(median, and min..max over the repeats); the target where one is set.`,
        '',
        table(
          ['coio server', 'peer', ...m.sizes.map(sizeLabel)],
          pairs.map(([a, b, target]) => [
            label(a),
            label(b),
            ...m.sizes.map((size) => {
              const v = pairedRatios(m.runs, a, b, size);
              if (!v.length) return '–';
              const range = v.length > 1 ? ` (${Math.min(...v).toFixed(2)}..${Math.max(...v).toFixed(2)})` : '';
              return `${x(median(v))}${range}${target[size] ? `, target ≤ ${target[size]}` : ''}`;
            }),
          ]),
        ),
        '',
      );
    }
    const other = m.runs.map((r) => r.otherLoad).filter((v) => v != null);
    if (other.length) {
      out.push(
        `Other load on the machine during the measured windows (CPU used by neither server nor client): ` +
          `median ${other.sort((a, b) => a - b)[other.length >> 1].toFixed(2)} cores, max ${Math.max(...other).toFixed(2)}.`,
        '',
      );
    }
  }

  if (res.scaling?.summary?.length) {
    const sc = res.scaling;
    const lines = [...new Set(sc.summary.map((r) => r.line))];
    // Columns are the requested counts; a backend capped below one (select) shows its actual count.
    const counts = [...new Set(sc.summary.map((r) => r.nominal ?? r.conns))].sort((a, b) => a - b);
    const labelOf = (line) => sc.summary.find((r) => r.line === line).label;
    const row = (line, n) => sc.summary.find((r) => r.line === line && (r.nominal ?? r.conns) === n);
    const cell = (line, n, f) => row(line, n)?.[f];
    const capped = (line, n, text) => {
      const r = row(line, n);
      return r && r.conns !== n && text !== '–' ? `${text} (at ${r.conns})` : text;
    };
    out.push(
      `## Scaling: ${sc.active} active connections + idle ones, ${sizeLabel(sc.size)}`,
      '',
      `Server CPU µs per request (median of ${sc.repeats}; ${sc.duration} s each) against total connections. ` +
        `"last / first" is the cost at the largest count over the cost at the smallest. select is capped below FD_SETSIZE (1024 fds): its last column is measured at the count in parentheses.`,
      '',
      table(
        ['server (backend)', ...counts.map((n) => n.toLocaleString('en-US')), 'last / first'],
        lines.map((line) => {
          const pts = counts.map((n) => cell(line, n, 'serverCpuUsPerReq')?.median ?? null);
          const have = pts.filter((v) => v != null);
          return [
            labelOf(line),
            ...pts.map((v, i) => capped(line, counts[i], us(v))),
            have.length > 1 ? x(have[have.length - 1] / have[0]) : '–',
          ];
        }),
      ),
      '',
      'Requests/s:',
      '',
      table(
        ['server (backend)', ...counts.map((n) => n.toLocaleString('en-US'))],
        lines.map((line) => [labelOf(line), ...counts.map((n) => capped(line, n, int(cell(line, n, 'rps')?.median ?? null)))]),
      ),
      '',
    );
  }

  if (res.memory?.results?.length) {
    const mem = res.memory;
    const node = mem.results.find((r) => r.server === NODE);
    out.push(
      `## Memory: ${mem.idle.toLocaleString('en-US')} idle connections`,
      '',
      `Server RSS (VmRSS) after a short warm-up, then with the idle connections held (${mem.settleMs} ms settle): ` +
        `first just accepted, then (on a fresh server) connections that each echoed ${mem.touchBytes ?? 1024} bytes once before going idle.`,
      '',
      table(
        ['server', 'RSS before', 'RSS accepted', 'bytes/conn accepted', 'x node net', 'RSS after one echo', 'bytes/conn after one echo', 'x node net'],
        mem.results.map((r) => [
          r.label,
          bytes(r.rssBefore),
          bytes(r.rssAfter),
          int(r.bytesPerConn),
          x(ratio(r.bytesPerConn, node?.bytesPerConn)),
          bytes(r.rssAfterTouched),
          int(r.bytesPerConnTouched),
          x(ratio(r.bytesPerConnTouched, node?.bytesPerConnTouched)),
        ]),
      ),
      '',
    );
    const short = mem.results.filter((r) => r.accepted < mem.idle || (r.touched != null && r.touched < mem.idle));
    for (const r of short) out.push(`- ${r.label}: only ${r.accepted} accepted / ${r.touched ?? '–'} echoed of ${mem.idle}`);
    if (short.length) out.push('');
  }
  if (res.tls?.summary?.length || res.tls?.handshake?.length) out.push(...tlsMarkdown(res.tls));
  if (res.http?.summary?.length) out.push(...httpMarkdown(res.http));
  if (res.sendfile?.summary?.length) out.push(...sendfileMarkdown(res.sendfile));
  for (const w of res.warnings ?? []) out.push(`- warning: ${w}`);
  const parts = Object.entries(res.sectionS ?? {}).map(([k, v]) => `${k} ${Math.round(v)} s`);
  out.push(`Total time ${Math.round(res.totalS)} s${parts.length ? ` (${parts.join(', ')})` : ''}.`);
  return out.join('\n') + '\n';
}

/** @returns {Record<string, string>} file name -> SVG text */
export function renderCharts(res) {
  const charts = {};
  const sub = `${res.machine.cpuModel}, ${res.machine.cores} cores · ${res.machine.date.slice(0, 10)} · node ${res.machine.node}`;
  if (res.main?.summary?.length) {
    const m = res.main;
    const servers = [...new Set(m.summary.map((r) => r.server))];
    const series = servers.map((s, i) => ({ label: m.summary.find((r) => r.server === s).label, color: colorFor(i) }));
    const panels = (field) =>
      m.sizes.map((size) => ({
        title: sizeLabel(size),
        values: servers.map((s) => {
          const r = m.summary.find((q) => q.server === s && q.size === size);
          return r && r[field].median != null ? { value: r[field].median, min: r[field].min, max: r[field].max } : null;
        }),
      }));
    charts['requests.svg'] = barChart({
      title: `Echo requests per second, ${m.connections} connections (higher is better)`,
      subtitle: sub,
      unit: 'req/s',
      series,
      panels: panels('rps'),
    });
    charts['cpu.svg'] = barChart({
      title: 'Server CPU time per request (lower is better)',
      subtitle: sub,
      unit: 'µs / request',
      series,
      panels: panels('serverCpuUsPerReq'),
    });
  }
  if (res.tls?.summary?.length) {
    const t = res.tls;
    const servers = [...new Set(t.summary.map((r) => r.server))];
    const panels = t.sizes.map((size) => ({
      title: `${sizeLabel(size)} over TLS`,
      values: servers.map((s) => {
        const r = t.summary.find((q) => q.server === s && q.size === size);
        return r && r.serverCpuUsPerReq.median != null
          ? { value: r.serverCpuUsPerReq.median, min: r.serverCpuUsPerReq.min, max: r.serverCpuUsPerReq.max }
          : null;
      }),
    }));
    charts['tls.svg'] = barChart({
      title: `TLS echo: server CPU time per request, ${t.connections} connections (lower is better)`,
      subtitle: `${sub} · ${t.version ?? ''} ${t.cipher ?? ''}`,
      unit: 'µs / request',
      series: servers.map((s, i) => ({ label: t.summary.find((r) => r.server === s).label, color: colorFor(i) })),
      panels,
    });
  }
  if (res.http?.summary?.length) {
    const h = res.http;
    const bar = (field) => ({
      values: h.summary.map((r) => (r[field].median != null ? { value: r[field].median, min: r[field].min, max: r[field].max } : null)),
    });
    charts['http.svg'] = barChart({
      title: `HTTP "Hello, World!", wrk -t1 -c${h.connections} keep-alive`,
      subtitle: sub,
      unit: '',
      series: h.summary.map((r, i) => ({ label: r.label, color: colorFor(i) })),
      panels: [
        { title: 'requests/s (higher is better)', ...bar('rps') },
        { title: 'server CPU µs / request (lower is better)', ...bar('serverCpuUsPerReq') },
      ],
    });
  }
  if (res.scaling?.summary?.length) {
    const sc = res.scaling;
    const lines = [...new Set(sc.summary.map((r) => r.line))];
    charts['scaling.svg'] = lineChart({
      title: `Server CPU per request vs connections (${sc.active} active, ${sizeLabel(sc.size)})`,
      subtitle: sub,
      xLabel: 'connections (log scale)',
      yLabel: 'server CPU µs / request',
      series: lines.map((line, i) => {
        const rows = sc.summary.filter((r) => r.line === line);
        return {
          label: rows[0].label,
          color: colorFor(i),
          dash: rows[0].group !== 'coio',
          points: rows.map((r) => ({ x: r.conns, y: r.serverCpuUsPerReq.median })),
        };
      }),
    });
  }
  return charts;
}

export { fmtNum };
