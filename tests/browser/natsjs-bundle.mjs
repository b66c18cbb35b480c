// The real nats.js v3 (@nats-io/nats-core and @nats-io/jetstream, installed in tests/types) for a
// page: its npm builds are CommonJS, which a browser cannot import, so this walks their
// `require` graph from the installed files and wraps it in one classic script that defines
// `globalThis.natsjs = { core, jetstream }`. No bundler is installed for the page tests, and the
// modules need nothing of Node in a browser (WebSocket and crypto come from the page): the
// Node-only branches' builtins (`crypto` in tweetnacl) resolve to empty objects they never use.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = join(dirname(fileURLToPath(import.meta.url)), '..', 'types');
const ENTRIES = { core: '@nats-io/nats-core', jetstream: '@nats-io/jetstream' };

/** Whether nats.js v3 is installed (`npm ci` in tests/types). */
export function haveNatsJs() {
  return existsSync(join(TYPES, 'node_modules/@nats-io/jetstream/package.json'));
}

/** The script text that defines `globalThis.natsjs` (throws when nats.js is not installed). */
export async function natsjsBundle() {
  if (!haveNatsJs()) throw new Error(`nats.js v3 is not installed: run \`npm ci\` in ${TYPES}`);
  const fromTypes = createRequire(join(TYPES, 'package.json'));
  const ids = new Map(); // file -> module index
  const modules = []; // { source, deps: { spec: index | -1 } }
  const visit = async (file) => {
    if (ids.has(file)) return ids.get(file);
    const id = modules.length;
    ids.set(file, id);
    const mod = { source: await readFile(file, 'utf8'), deps: {} };
    modules.push(mod);
    const need = createRequire(file);
    for (const [, spec] of mod.source.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)) {
      if (spec in mod.deps) continue;
      mod.deps[spec] = isBuiltin(spec) ? -1 : await visit(need.resolve(spec));
    }
    return id;
  };
  const entries = {};
  for (const [name, pkg] of Object.entries(ENTRIES)) entries[name] = await visit(fromTypes.resolve(pkg));
  const defs = modules
    .map((m) => `[function (require, module, exports) {\n${m.source}\n}, ${JSON.stringify(m.deps)}]`)
    .join(',\n');
  return `(() => {
const defs = [${defs}];
const cache = [];
const load = (id) => {
  if (id < 0) return {};
  if (cache[id]) return cache[id].exports;
  const module = (cache[id] = { exports: {} });
  const [fn, deps] = defs[id];
  fn.call(module.exports, (spec) => load(deps[spec]), module, module.exports);
  return module.exports;
};
globalThis.natsjs = { ${Object.entries(entries).map(([n, id]) => `${n}: load(${id})`).join(', ')} };
})();`;
}
