// The cases of tests/browser/kv/cases.mjs and tests/browser/obj/cases.mjs run with the real
// @nats-io/kv and @nats-io/obj v3 against nats-server 2.14 (natsjs.mjs): the reference the
// package's KV and object store are checked against. Cases marked `contrailOnly` check what
// only the package does.
import * as kvCases from '../browser/kv/cases.mjs';
import * as objCases from '../browser/obj/cases.mjs';
import { registerNatsJsCases, requireNatsJs } from './natsjs.mjs';

/** @nats-io/kv, @nats-io/obj and nats.js v3 under the package's names, for the cases. */
function natsjsAsPkg() {
  const core = requireNatsJs('@nats-io/nats-core');
  return {
    ...requireNatsJs('@nats-io/jetstream'),
    ...requireNatsJs('@nats-io/kv'),
    ...requireNatsJs('@nats-io/obj'),
    headers: core.headers,
    nanos: core.nanos,
    InvalidArgumentError: core.errors.InvalidArgumentError,
    connect: requireNatsJs('@nats-io/transport-node').connect,
  };
}

for (const [lib, { cases, contrailOnly }] of [['@nats-io/kv', kvCases], ['@nats-io/obj', objCases]]) {
  registerNatsJsCases({
    what: `the ${lib} cases`,
    label: lib,
    cases,
    contrailOnly,
    modules: ['@nats-io/jetstream', '@nats-io/kv', '@nats-io/obj'],
    pkg: natsjsAsPkg,
  });
}
