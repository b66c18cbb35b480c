// The shared @nats-io/obj v3 cases (tests/browser/obj/cases.mjs) over the package's remote
// connection: the same Objm and ObjectStore, on `connect({servers: wsUrl}).jetstream()`, against
// a fresh server per case (Contrail, Debian's nats-server 2.9 and nats-server 2.14 when installed).
// Every case passes against Contrail and 2.14; the one Debian's 2.9.10 cannot pass is listed.
import { runRemoteCases } from './remote-cases.mjs';

const notOn = {
  'nats-server 2.9': {
    'objectstore - ttl / allow direct / stream metadata and entry metadata / compression':
      'nats-server 2.9 predates stream metadata and compression (2.10)',
  },
};

await runRemoteCases('obj', { timeout: 120_000, notOn });
