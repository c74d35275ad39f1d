// Compile src/ into CommonJS in dist/cjs (whose package.json marks its .js
// files as CommonJS), and make dist/esm the ES module face of that same code:
// its declarations (.d.ts) and an index.js that re-exports dist/cjs by name.
// Run by `npm install` (prepare) and `npm run build:ts`.
//
// Why one implementation and not two builds: a process can load coio both
// ways (an ES module app with a CommonJS dependency that requires coio, a
// TypeScript project mixing .mts and .cts). Two builds would be two copies:
// two "running loop" slots (the CommonJS copy's getRunningLoop() throws
// inside the ESM copy's run()), two Future classes (a Task of one copy
// refuses the other's Futures), two views of the signal handlers. ES
// modules can import CommonJS on every Node version coio supports; the
// reverse (require of an ES module) only on recent ones. So the CommonJS
// build is the implementation and the ESM entry point a thin wrapper.
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

/** The names src/index.ts exports as values (not types only), sorted. */
function valueExports(file) {
  const ts = createRequire(import.meta.url)('typescript');
  const program = ts.createProgram([file], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(file));
  const names = [];
  for (const sym of checker.getExportsOfModule(moduleSymbol)) {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    if (target.flags & ts.SymbolFlags.Value) names.push(sym.name);
  }
  if (names.length === 0) throw new Error(`build-ts: found no exports in ${file}`);
  return names.sort();
}

function esmEntry(names) {
  return `// coio's ES module entry point: the CommonJS build (../cjs), re-exported.
// One implementation for both ways of loading coio, so a process that
// imports and requires it has one running loop, one set of classes and one
// addon (scripts/build-ts.mjs says why). Generated; do not edit.
import coio from '../cjs/index.js';

export const {
${names.map((n) => `  ${n},`).join('\n')}
} = coio;
`;
}

try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.cjs.json'), '--outDir', join(fresh, 'cjs')], { stdio: 'inherit', cwd: root });
  execFileSync(
    process.execPath,
    [tsc, '-p', join(root, 'tsconfig.json'), '--outDir', join(fresh, 'esm'), '--emitDeclarationOnly', '--sourceMap', 'false'],
    { stdio: 'inherit', cwd: root },
  );
  mkdirSync(join(fresh, 'cjs'), { recursive: true });
  writeFileSync(join(fresh, 'cjs/package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(join(fresh, 'esm/index.js'), esmEntry(valueExports(join(root, 'src/index.ts'))));
  const dist = join(root, 'dist');
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(fresh, dist);
} finally {
  rmSync(fresh, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
