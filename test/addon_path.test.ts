// Where the native addons load from (native.ts addonPath): a source build
// first, else the prebuild matching this platform, architecture and libc, by
// node-gyp-build's rules; with neither, an error that says what to run.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { addonPath, loadedAddonPath } from '../src/native.js';
import { sanitizedChildEnv } from './leaks.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
let root = '';

/** A package root inside the clone (so node-gyp-build resolves from its node_modules), with these files. */
function fakeRoot(files: string[]): string {
  root = mkdtempSync(join(repo, '.addon-path-'));
  writeFileSync(join(root, 'package.json'), '{ "name": "coio" }\n');
  for (const f of files) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    copyFileSync(loadedAddonPath, join(root, f));
  }
  return root;
}

afterEach(() => {
  if (root !== '') rmSync(root, { recursive: true, force: true });
  root = '';
});

const tuple = `${process.platform}-${process.arch}`;
const libc = process.platform === 'linux' ? 'glibc' : undefined;
const tagged = (name: string, tag = libc): string => `${name}.napi${tag === undefined ? '' : `.${tag}`}.node`;

test('a prebuild matching this platform is found for each addon by its name', () => {
  const r = fakeRoot([`prebuilds/${tuple}/${tagged('coio')}`, `prebuilds/${tuple}/${tagged('coio_tls')}`, `prebuilds/other-arch/${tagged('coio')}`]);
  expect(addonPath('coio', r)).toBe(join(r, 'prebuilds', tuple, tagged('coio')));
  expect(addonPath('coio_tls', r)).toBe(join(r, 'prebuilds', tuple, tagged('coio_tls')));
});

test('a source build in build/Release wins over a prebuild', () => {
  const r = fakeRoot([`prebuilds/${tuple}/${tagged('coio')}`, 'build/Release/coio.node']);
  expect(addonPath('coio', r)).toBe(join(r, 'build', 'Release', 'coio.node'));
});

test.runIf(process.platform === 'linux')('a prebuild for the other libc is not taken: the error says what to run', () => {
  const r = fakeRoot([`prebuilds/${tuple}/${tagged('coio', 'musl')}`, `prebuilds/linux-nothere/${tagged('coio')}`]);
  let err: (Error & { code?: string }) | undefined;
  try {
    addonPath('coio', r);
  } catch (e) {
    err = e as Error & { code?: string };
  }
  expect(err?.code).toBe('ERR_COIO_NO_ADDON');
  expect(err?.message).toContain(`no native addon for ${tuple}`);
  expect(err?.message).toContain('prebuilds shipped: ');
  expect(err?.message).toContain('`npm rebuild coio`');
});

test('the addon this process loaded is a file addonPath finds (or COIO_ADDON_PATH)', () => {
  // Under scripts/asan.sh, test/setup.ts has moved COIO_ADDON_PATH out of the
  // environment (into sanitizedChildEnv) after loading the sanitized addon.
  const override = process.env.COIO_ADDON_PATH || sanitizedChildEnv().COIO_ADDON_PATH;
  expect(loadedAddonPath).toBe(override || addonPath('coio'));
});
