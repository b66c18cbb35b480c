// The reference runs: a shared case file (tests/browser/<dir>/cases.mjs, cases take `{pkg, open}`)
// run with the real nats.js v3 (@nats-io/* from tests/types) against nats-server 2.14, each case
// on a fresh server, so the package's behaviour is checked against what nats.js and nats-server
// do. Cases marked `contrailOnly` check what only the package has and are listed as skipped,
// loudly; without nats-server 2.14 or nats.js the whole run is one loud skip (set
// CONTRAIL_NATS_SERVER_214 or run scripts/interop; `npm ci` in tests/types).
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../browser/harness.mjs';
import { natsServer214, startServer } from '../browser/servers.mjs';

/** Where nats.js v3 is installed. */
const TYPES = join(ROOT, 'tests/types');

/** `require` for modules installed in tests/types. */
export const requireNatsJs = createRequire(join(TYPES, 'package.json'));

/**
 * Registers the cases. `what` names the run in the skip message; `label` tags each test name;
 * `modules` are the tests/types packages it needs; `pkg()` builds what the cases get as `pkg`
 * (nats.js under the package's names), called only when they run; `args` are handed to every
 * case besides `pkg` and `open`.
 */
export function registerNatsJsCases({ what, label, cases, contrailOnly = {}, modules, pkg, args = {}, timeout = 60_000 }) {
  const program = natsServer214();
  const missing = modules.find((m) => !existsSync(join(TYPES, 'node_modules', m)));
  if (!program || missing) {
    const why = !program
      ? 'no nats-server 2.14 (set CONTRAIL_NATS_SERVER_214 or run scripts/interop)'
      : `no ${missing} in tests/types (npm ci there)`;
    console.error(`\n!!! SKIPPED: ${what} did NOT run against nats.js and nats-server 2.14: ${why}\n`);
    test(`${what} against nats.js and nats-server 2.14`, { skip: why }, () => {});
    return;
  }
  const { jetstream, jetstreamManager } = requireNatsJs('@nats-io/jetstream');
  const { connect } = requireNatsJs('@nats-io/transport-node');
  const asPkg = pkg();
  for (const [name, run] of Object.entries(cases)) {
    const title = `${name} (${label})`;
    if (contrailOnly[name]) {
      test(title, { skip: `contrail only: ${contrailOnly[name]}` }, () => {});
      continue;
    }
    test(title, { timeout }, async () => {
      const servers = [];
      const open = async () => {
        const server = await startServer('nats-server', { program });
        servers.push(server);
        const nc = await connect({ servers: `127.0.0.1:${server.port}` });
        return {
          jetstream: (opts) => jetstream(nc, opts),
          jetstreamManager: (opts) => jetstreamManager(nc, opts),
          close: () => nc.close(),
        };
      };
      try {
        await run({ ...args, pkg: asPkg, open });
      } finally {
        for (const s of servers) await s.stop();
      }
    });
  }
}
