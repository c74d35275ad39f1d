// Aggregation of repeated runs: medians, spreads and the ratios the report
// prints. Pure functions over the run records the harness collects.

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** {median, min, max, spreadPct}: spreadPct is half the range over the median, in %. */
export function summarize(xs) {
  const v = xs.filter((x) => Number.isFinite(x));
  if (!v.length) return { median: null, min: null, max: null, spreadPct: null, n: 0 };
  const med = median(v);
  const min = Math.min(...v);
  const max = Math.max(...v);
  return { median: med, min, max, spreadPct: med ? ((max - min) / 2 / med) * 100 : 0, n: v.length };
}

/**
 * One client result (pingpong JSON) plus the server's identity -> a run record
 * with the derived figures: server CPU µs per request, utilisations, and the
 * machine's other load (CPU used by neither server nor client, in cores).
 */
export function deriveRun(client, clkTck) {
  const d = client.duration_s || 0;
  const req = client.requests || 0;
  const srv = client.server_cpu_ticks
    ? (client.server_cpu_ticks.utime + client.server_cpu_ticks.stime) / clkTck
    : null;
  const cli = client.client_cpu_s.user + client.client_cpu_s.sys;
  const busy = client.machine_ticks ? client.machine_ticks.busy / clkTck : null;
  return {
    rps: client.rps,
    requests: req,
    durationS: d,
    p50: client.latency_us.p50,
    p99: client.latency_us.p99,
    max: client.latency_us.max,
    serverCpuS: srv,
    serverCpuUsPerReq: srv !== null && req ? (srv / req) * 1e6 : null,
    serverUserShare:
      client.server_cpu_ticks && srv ? client.server_cpu_ticks.utime / clkTck / srv : null,
    serverUtil: srv !== null && d ? srv / d : null,
    clientUtil: d ? cli / d : null,
    clientCpuUsPerReq: req ? (cli / req) * 1e6 : null,
    otherLoad: busy !== null && srv !== null && d ? Math.max(0, (busy - srv - cli) / d) : null,
    errors: client.errors,
    firstError: client.first_error,
    connected: client.connected,
    idleConnected: client.idle_connected,
  };
}

/** Group runs by key(run) and summarise the listed fields. */
export function summarizeRuns(runs, key, fields) {
  const groups = new Map();
  for (const r of runs) {
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const out = [];
  for (const [k, rs] of groups) {
    const s = { key: k, runs: rs.length, errors: rs.reduce((a, r) => a + (r.errors || 0), 0) };
    for (const f of fields) s[f] = summarize(rs.map((r) => r[f]));
    out.push(s);
  }
  return out;
}

export const ratio = (a, b) => (a != null && b != null && b !== 0 ? a / b : null);
