// @nats-io/transport-node over TLS: connects trusting a test CA, publishes to JetStream and
// gets the PubAck.
// Usage: node tls.mjs 127.0.0.1:PORT CA_FILE
// Exits non-zero when the check fails. Every wait is bounded.

import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";

const [server, caFile] = process.argv.slice(2);
const bound = setTimeout(() => {
  console.error("FAIL timed out");
  process.exit(1);
}, 30_000);

const nc = await connect({ servers: server, tls: { caFile }, timeout: 5000, reconnect: false });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: "JSTLS", subjects: ["jstls.>"], storage: StorageType.Memory });
const ack = await jetstream(nc).publish("jstls.one", "over tls");
if (ack.stream !== "JSTLS" || ack.seq !== 1) {
  throw new Error(`unexpected ack ${JSON.stringify(ack)}`);
}
await nc.close();
clearTimeout(bound);
console.log("ok   @nats-io/transport-node publish over TLS got its PubAck");
