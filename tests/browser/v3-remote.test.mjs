// The shared @nats-io/jetstream v3 cases (tests/browser/v3/cases.mjs) over the package's remote
// connection: `open` is `connect({servers: wsUrl})`, so the same JetStreamClient and
// JetStreamManager talk to a server over WebSocket instead of the local engine. Each case gets a
// fresh server (Contrail, Debian's nats-server 2.9 and nats-server 2.14 when installed) because
// cases create streams with fixed names. Cases that check what only the local engine has, and
// those nats-server 2.9 is too old for, are listed with why and reported as skipped.
import { runRemoteCases } from './remote-cases.mjs';

/** Cases that check the local engine itself, not the API shape; by name, with why. */
const localOnly = {
  'timestamps carry only the precision the clock had':
    "the server's clock has nanoseconds; this checks the local engine invents none below Date.now()'s milliseconds",
};

/**
 * Cases Debian's nats-server 2.9.10 cannot pass, with why: each passes against 2.14 (the
 * reference nats.js v3 is checked against) and against Contrail.
 */
const before210 = 'nats-server 2.9 predates it';
const notOn = {
  'nats-server 2.9': {
    'jsm - consumer api action: add creates only, update updates only': `${before210}: the consumer create "action" is 2.10's (2.9 creates over an existing consumer)`,
    'jetstream - publish require last sequence by subject, last subject sequence subject': `${before210}: Nats-Expected-Last-Subject-Sequence-Subject is 2.11's`,
    'fetch - stream/consumer not found and no responders, then works again':
      "2.9 answers a pull request to a missing consumer with nothing (no 503), so the fetch ends on missed heartbeats instead of no responders",
    'ordered consumers - fetch deleted consumer, then the next fetch resets':
      "2.9 answers a pull request to a missing consumer with nothing (no 503), so the fetch ends on missed heartbeats instead of no responders",
  },
};

await runRemoteCases('v3', { localOnly, notOn });
