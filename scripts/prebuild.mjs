// Build the prebuilt addons shipped in the npm package, with prebuildify:
// prebuilds/<platform>-<arch>/coio.napi.<libc>.node and coio_tls.napi.<libc>.node
// (N-API, so one file serves every Node version >= 20; stripped). Run by
// `npm pack` / `npm publish` (prepack), or `npm run prebuild`, on each
// platform to ship: linux-x64 (glibc) here; linux-arm64, musl (Alpine) and
// darwin the same way on those machines, into the same prebuilds/ tree.
// src/native.ts loads them with node-gyp-build's matching rules.
//
// prebuildify takes the one addon it finds in build/Release; coio has two
// (the TLS addon is its own file, loaded on the first TLS call). So the
// addons are built once, in a scratch copy of the sources (the clone's
// build/ stays as it is), and each prebuildify pass is shown only its own.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const prebuildify = require('prebuildify');
const ADDONS = ['coio', 'coio_tls'];

// node-gyp needs Node's headers: where this machine kind ships them (as CI does).
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) process.env.npm_config_nodedir = '/usr';

const scratch = mkdtempSync(join(tmpdir(), 'coio-prebuild-'));
try {
  cpSync(join(root, 'binding.gyp'), join(scratch, 'binding.gyp'));
  cpSync(join(root, 'native'), join(scratch, 'native'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
  // A clone's own build (npm install / npm run build:native) newer than every
  // source is the same release build: reuse it rather than compile again
  // (COIO_PREBUILD_FRESH=1 compiles anyway).
  const release = join(root, 'build', 'Release');
  const newestSource = Math.max(statSync(join(root, 'binding.gyp')).mtimeMs, ...readdirSync(join(root, 'native')).map((f) => statSync(join(root, 'native', f)).mtimeMs));
  const reusable = !process.env.COIO_PREBUILD_FRESH && ADDONS.every((n) => existsSync(join(release, `${n}.node`)) && statSync(join(release, `${n}.node`)).mtimeMs > newestSource);
  if (reusable) {
    mkdirSync(join(scratch, 'build', 'all'), { recursive: true });
    mkdirSync(join(scratch, 'build', 'Release'), { recursive: true });
    for (const n of ADDONS) cpSync(join(release, `${n}.node`), join(scratch, 'build', 'all', `${n}.node`));
    console.log('prebuild: reusing build/Release (newer than native/ and binding.gyp)');
  }
  // The node-gyp prebuildify runs: the real one, once; then only the addon asked for is left in build/Release.
  const gyp = join(scratch, 'node-gyp-one.mjs');
  writeFileSync(
    gyp,
    `import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
const release = 'build/Release', all = 'build/all';
if (!existsSync(all)) {
  execFileSync(process.execPath, [${JSON.stringify(require.resolve('node-gyp/bin/node-gyp.js'))}, ...process.argv.slice(2), '-j', 'max'], { stdio: 'inherit' });
  mkdirSync(all);
  for (const f of readdirSync(release)) if (f.endsWith('.node')) renameSync(release + '/' + f, all + '/' + f);
}
for (const f of readdirSync(release)) if (f.endsWith('.node')) rmSync(release + '/' + f);
cpSync(all + '/' + process.env.COIO_PREBUILD_NAME + '.node', release + '/' + process.env.COIO_PREBUILD_NAME + '.node');
`,
  );
  const out = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  rmSync(out, { recursive: true, force: true });
  for (const name of ADDONS) {
    process.env.COIO_PREBUILD_NAME = name;
    await new Promise((resolve, reject) =>
      prebuildify(
        {
          cwd: scratch,
          out: root,
          targets: [process.versions.node],
          napi: true,
          strip: true,
          tagLibc: true,
          name: `${name}.napi`,
          nodeGyp: `"${process.execPath}" "${gyp}"`,
          shell: true,
          quiet: false,
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  const files = readdirSync(out).sort();
  if (files.length !== ADDONS.length) throw new Error(`prebuild: expected ${ADDONS.length} addons in ${out}, found ${files.join(', ')}`);
  console.log(`prebuilds: ${files.map((f) => `prebuilds/${process.platform}-${process.arch}/${f}`).join(', ')}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
