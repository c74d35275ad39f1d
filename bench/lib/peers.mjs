// Bun and Deno, the runtimes a JavaScript programmer picks for speed, as
// peers of the benchmark. They are never dependencies of the package:
// `npm run bench:peers` (bench/peers.mjs) installs their npm packages, which
// carry the binaries, into bench/build/peers/ (git-ignored), and the harness
// uses them when they are there.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEERS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'peers');

/** The pinned versions `npm run bench:peers` installs (override: npm run bench:peers -- bun@X deno@Y). */
export const PEER_PACKAGES = {
  bun: { version: '1.4.5', packages: (v) => [`@oven/bun-linux-x64@${v}`], bin: ['@oven/bun-linux-x64', 'bin', 'bun'] },
  deno: { version: '2.9.6', packages: (v) => [`deno@${v}`, `@deno/linux-x64-glibc@${v}`], bin: ['@deno/linux-x64-glibc', 'deno'] },
};

export const PEERS_HINT = 'npm run bench:peers (installs Bun and Deno from npm into bench/build/peers/, not into the package)';

/**
 * { bun: {path, version} | null, deno: {path, version} | null } of the
 * binaries in bench/build/peers/ (BENCH_BUN / BENCH_DENO: other binaries).
 */
export function findPeers() {
  const out = {};
  for (const [name, p] of Object.entries(PEER_PACKAGES)) {
    const env = process.env[`BENCH_${name.toUpperCase()}`];
    const path = env || join(PEERS_DIR, 'node_modules', ...p.bin);
    let version = null;
    if (existsSync(path)) {
      try {
        version = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
      } catch {}
    }
    out[name] = version ? { path, version: version.replace(/^deno /, '').replace(/ \(.*$/, '') } : null;
  }
  return out;
}
