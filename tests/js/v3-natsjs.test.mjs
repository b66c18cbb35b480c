// The cases of tests/browser/v3/cases.mjs run with the real nats.js v3 against nats-server 2.14
// (natsjs.mjs): the reference the package's behaviour is checked against. The package's own
// names map onto nats.js's (`open()` connects; `nc.jetstream()` is `jetstream(nc)`...). Cases
// marked `contrailOnly` check what only the package has (its error classes where nats.js wraps,
// its extras).
import { cases, contrailOnly } from '../browser/v3/cases.mjs';
import { registerNatsJsCases, requireNatsJs } from './natsjs.mjs';

/** nats.js v3 under the package's names, for the cases. */
function natsjsAsPkg() {
  const js = requireNatsJs('@nats-io/jetstream');
  const internal = requireNatsJs('@nats-io/jetstream/internal');
  const core = requireNatsJs('@nats-io/nats-core');
  const { connect } = requireNatsJs('@nats-io/transport-node');
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

registerNatsJsCases({
  what: 'the v3 cases',
  label: 'nats.js',
  cases,
  contrailOnly,
  modules: ['@nats-io/jetstream'],
  pkg: natsjsAsPkg,
  timeout: 30_000,
});
