// The package as npm ships it: `npm pack` in pkg/, unpacked into a fresh directory, imported from
// there. The other package tests import pkg/ in place, where every file is present whether or not
// package.json's "files" lists it; this one fails when a module the package imports is left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../pkg');

/** Packs pkg/ and unpacks the tarball; returns the unpacked package's directory. */
function packAndUnpack(into) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', into], { cwd: pkgDir, encoding: 'utf8' });
  const [{ filename }] = JSON.parse(out);
  execFileSync('tar', ['-xzf', join(into, filename), '-C', into]);
  return join(into, 'package');
}

/** The relative modules a JavaScript file imports (static `from './x.js'` and `import('./x.js')`). */
function relativeImports(source) {
  const found = [];
  for (const m of source.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) found.push(m[1]);
  return found;
}

test('every module the packed package imports is in the tarball, and it opens and publishes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'contrail-pack-'));
  try {
    const root = packAndUnpack(dir);
    const missing = [];
    for (const file of readdirSync(root, { recursive: true })) {
      if (!String(file).endsWith('.js')) continue;
      const path = join(root, String(file));
      for (const spec of relativeImports(readFileSync(path, 'utf8'))) {
        if (!existsSync(resolve(dirname(path), spec))) missing.push(`${file} imports ${spec}`);
      }
    }
    assert.deepEqual(missing, [], 'modules left out of package.json "files"');

    const { open } = await import(pathToFileURL(join(root, 'index.js')).href);
    const c = await open();
    const jsm = await c.jetstreamManager();
    await jsm.streams.add({ name: 'PACKED', subjects: ['packed.>'] });
    const ack = await c.jetstream().publish('packed.one', 'hello');
    assert.deepEqual([ack.stream, ack.seq], ['PACKED', 1]);
    await c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
