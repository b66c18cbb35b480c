// The Publisher and Consumer cases (tests/browser/pubsub/cases.mjs) over the package's remote
// connection, against a fresh server per case (Contrail, Debian's nats-server 2.9 and
// nats-server 2.14 when installed).
import { runRemoteCases } from './remote-cases.mjs';

await runRemoteCases('pubsub', { modules: { pubsub: '/pkg/pubsub.js' } });
