// Runs coio's TypeScript sources outside vitest: in a child `node` process or
// a worker thread (where vitest's transform does not apply). Each call
// transpiles src/ and the given fixtures (type stripping only, with
// TypeScript's transpileModule) into a fresh directory under
// node_modules/.cache, where `bindings` and the package root resolve as from
// the package itself; the directory is removed after the test file.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function transpileFile(from: string, to: string): void {
  const out = ts.transpileModule(readFileSync(from, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, sourceMap: false },
    fileName: from,
  });
  mkdirSync(dirname(to), { recursive: true });
  writeFileSync(to, out.outputText);
}

/**
 * Transpile src/ and `fixtures` (paths relative to the repository root) and
 * return a function mapping a fixture's path to its compiled .js file.
 */
export function buildFixtures(fixtures: string[]): (fixture: string) => string {
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'coio-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const name of readdirSync(join(root, 'src'))) {
    if (name.endsWith('.ts')) transpileFile(join(root, 'src', name), join(dir, 'src', name.replace(/\.ts$/, '.js')));
  }
  for (const fixture of fixtures) transpileFile(join(root, fixture), join(dir, fixture.replace(/\.ts$/, '.js')));
  return (fixture) => join(dir, fixture.replace(/\.ts$/, '.js'));
}
