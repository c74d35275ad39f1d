// Building dist/ for the tests that run the package as a user does (the
// examples and the README's snippets import 'coio', which resolves to
// dist/): `npm run build:ts` when dist/ is missing or older than src/.
//
// Test files run in parallel processes: builds are serialized with a lock
// directory, so whoever gets the lock second finds dist/ fresh and skips
// the build instead of compiling everything again (scripts/build-ts.mjs
// swaps the new dist/ in with renames, so readers never see it half-built).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lockDir = join(root, 'node_modules', '.cache', 'coio-build-dist.lock');
/** A lock older than this is left over from a killed run. */
const STALE_LOCK_MS = 5 * 60_000;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function distIsFresh(): boolean {
  const built = [join(root, 'dist/esm/index.js'), join(root, 'dist/cjs/index.js')];
  const srcTime = newestMtime(join(root, 'src'));
  return built.every((f) => existsSync(f) && statSync(f).mtimeMs >= srcTime);
}

async function acquireLock(): Promise<void> {
  mkdirSync(dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > STALE_LOCK_MS) rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Build dist/ unless it is up to date with src/ (call it in a beforeAll with a long timeout). */
export async function ensureDist(): Promise<void> {
  if (distIsFresh()) return;
  await acquireLock();
  try {
    if (distIsFresh()) return;
    await new Promise<void>((resolve, reject) => {
      // What `npm run build:ts` runs.
      execFile(process.execPath, [join(root, 'scripts/build-ts.mjs')], { cwd: root, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err) reject(new Error(`building dist/ (npm run build:ts) failed:\n${stdout}${stderr}`));
        else resolve();
      });
    });
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
