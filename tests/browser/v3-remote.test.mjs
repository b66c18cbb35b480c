// The shared @nats-io/jetstream v3 cases (tests/browser/v3/cases.mjs) over the package's remote
// connection: `open` is `connect({servers: wsUrl})`, so the same JetStreamClient and
// JetStreamManager talk to a server over WebSocket instead of the local engine. Each case gets a
// fresh server (Contrail, and Debian's nats-server when installed) because cases create streams
// with fixed names. Cases that check what only the local engine has are listed in `localOnly`
// with why, and are reported as skipped.
import { runRemoteCases } from './remote-cases.mjs';

/** Cases that check the local engine itself, not the API shape; by name, with why. */
const localOnly = {
  'timestamps carry only the precision the clock had':
    "the server's clock has nanoseconds; this checks the local engine invents none below Date.now()'s milliseconds",
};

await runRemoteCases('v3', { localOnly });
