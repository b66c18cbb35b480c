// The cases of tests/browser/pubsub/cases.mjs with pkg/pubsub.js running over the real nats.js v3
// against nats-server 2.14 (natsjs.mjs): pubsub.js uses only the public v3 API, so it must
// behave the same there.
import * as pubsub from '../../pkg/pubsub.js';
import { cases } from '../browser/pubsub/cases.mjs';
import { registerNatsJsCases, requireNatsJs } from './natsjs.mjs';

registerNatsJsCases({
  what: 'the pubsub cases',
  label: 'nats.js, nats-server 2.14',
  cases,
  modules: ['@nats-io/jetstream'],
  pkg: () => ({ headers: requireNatsJs('@nats-io/nats-core').headers }),
  args: { pubsub },
});
