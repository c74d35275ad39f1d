#!/usr/bin/env node
// npm run bench:peers [-- bun@VERSION deno@VERSION]
//
// Installs Bun (@oven/bun-linux-x64) and Deno (deno with @deno/linux-x64-glibc)
// from npm into bench/build/peers/: a folder of the benchmark only, git-ignored,
// never a dependency of coio. Their packages carry the binaries; no install
// script runs. `npm run bench` then measures their echo and HTTP servers beside
// coio's. Delete the folder to remove them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PEERS_DIR, PEER_PACKAGES, findPeers } from './lib/peers.mjs';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`bench:peers: only linux-x64 packages are wired up (this is ${process.platform}-${process.arch})`);
  process.exit(1);
}
const versions = Object.fromEntries(Object.entries(PEER_PACKAGES).map(([k, p]) => [k, p.version]));
for (const a of process.argv.slice(2)) {
  const m = /^(bun|deno)@(.+)$/.exec(a);
  if (!m) {
    console.error('usage: npm run bench:peers [-- bun@VERSION] [deno@VERSION]');
    process.exit(2);
  }
  versions[m[1]] = m[2];
}
mkdirSync(PEERS_DIR, { recursive: true });
// A package.json of its own, so npm installs here and not into the project.
writeFileSync(join(PEERS_DIR, 'package.json'), JSON.stringify({ name: 'coio-bench-peers', private: true }, null, 1) + '\n');
const specs = Object.entries(PEER_PACKAGES).flatMap(([k, p]) => p.packages(versions[k]));
console.error(`bench:peers: npm install ${specs.join(' ')} into ${PEERS_DIR}`);
execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '--prefix', PEERS_DIR, ...specs], {
  stdio: 'inherit',
});
const found = findPeers();
for (const [k, v] of Object.entries(found)) console.log(`${k}: ${v ? `${v.version} (${v.path})` : 'not found after install'}`);
if (Object.values(found).some((v) => v === null)) process.exit(1);
