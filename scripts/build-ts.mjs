// Compile src/ twice: ESM into dist/esm (the package is "type": "module") and
// CommonJS into dist/cjs, whose package.json marks its .js files as CommonJS.
// Run by `npm install` (prepare) and `npm run build:ts`.
//
// The output is built in a fresh directory and swapped in with renames, so a
// program or test using dist/ never sees it half-written, and a build that
// fails leaves the previous dist/ in place.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const fresh = join(root, `dist.tmp-${process.pid}`);
const old = join(root, `dist.old-${process.pid}`);

try {
  for (const [project, sub] of [['tsconfig.json', 'esm'], ['tsconfig.cjs.json', 'cjs']]) {
    execFileSync(process.execPath, [tsc, '-p', join(root, project), '--outDir', join(fresh, sub)], { stdio: 'inherit', cwd: root });
  }
  mkdirSync(join(fresh, 'cjs'), { recursive: true });
  writeFileSync(join(fresh, 'cjs/package.json'), '{ "type": "commonjs" }\n');
  const dist = join(root, 'dist');
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(fresh, dist);
} finally {
  rmSync(fresh, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
