// @nats-io/jetstream + @nats-io/kv (the official JavaScript clients) against a running server.
// Usage: node interop.mjs 127.0.0.1:PORT
// Runs every check, prints one line per check and a closing 'N passed, N failed' line, exits
// non-zero when any failed. Every wait is bounded.

import { connect, headers } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";

const server = process.argv[2] ?? "127.0.0.1:4222";
const checks = [];
const check = (name, fn) => checks.push({ name, fn });
const assert = (cond, what) => {
  if (!cond) throw new Error(`assertion failed: ${what}`);
};
const text = (data) => new TextDecoder().decode(data);

check("core request/reply and no responders", async (nc) => {
  const sub = nc.subscribe("js.echo");
  (async () => {
    for await (const m of sub) m.respond(m.data);
  })();
  await nc.flush();
  const r = await nc.request("js.echo", "hi", { timeout: 5000 });
  assert(text(r.data) === "hi", "echo");
  let noResponders = false;
  try {
    await nc.request("js.nobody", "x", { timeout: 5000 });
  } catch (e) {
    noResponders = String(e.message ?? e).toLowerCase().includes("no responders") || e.code === "503";
  }
  assert(noResponders, "503 no responders");
});

check("publish with dedup and expectations", async (nc) => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "JS", subjects: ["js.s.>"], storage: StorageType.Memory });
  const js = jetstream(nc);
  const a = await js.publish("js.s.a", "one", { msgID: "id-1" });
  const b = await js.publish("js.s.a", "one", { msgID: "id-1" });
  assert(a.seq === 1 && !a.duplicate, "first ack");
  assert(b.seq === 1 && b.duplicate, "duplicate ack");
  let refused = false;
  try {
    await js.publish("js.s.a", "two", { expect: { lastSequence: 7 } });
  } catch {
    refused = true;
  }
  assert(refused, "expected last sequence mismatch refused");
  const info = await jsm.streams.info("JS");
  assert(info.state.messages === 1, `messages ${info.state.messages}`);
});

check("pull consumer fetch, next, consume and every ack", async (nc) => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "JSPULL", subjects: ["pull.js.>"], storage: StorageType.File });
  const js = jetstream(nc);
  for (let i = 0; i < 10; i++) await js.publish("pull.js.x", `m${i}`);
  await jsm.consumers.add("JSPULL", { durable_name: "c", ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get("JSPULL", "c");
  const batch = await c.fetch({ max_messages: 3, expires: 2000 });
  const got = [];
  for await (const m of batch) {
    got.push(text(m.data));
    if (got.length === 1) await m.ackAck();
    // A nak with a reply is answered once the server has taken it: nats-server handles acks on
    // the consumer's own goroutine, so a fire-and-forget nak may lose the race with next() below.
    else if (got.length === 2) await nc.request(m.reply, "-NAK", { timeout: 2000 });
    else m.term();
  }
  assert(got.join() === "m0,m1,m2", got.join());
  const again = await c.next({ expires: 2000 });
  assert(again && text(again.data) === "m1" && again.info.deliveryCount === 2, "nak redelivered");
  again.working();
  again.ack();
  const seen = [];
  const messages = await c.consume({ max_messages: 4 });
  for await (const m of messages) {
    seen.push(text(m.data));
    m.ack();
    if (seen.length === 7) break;
  }
  assert(seen.join() === "m3,m4,m5,m6,m7,m8,m9", seen.join());
  const ci = await jsm.consumers.info("JSPULL", "c");
  assert(ci.delivered.stream_seq === 10, `delivered ${ci.delivered.stream_seq}`);
});

check("ordered consumer reads everything in order", async (nc) => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "JSORD", subjects: ["ord.js.>"], storage: StorageType.Memory });
  const js = jetstream(nc);
  for (let i = 0; i < 20; i++) await js.publish(`ord.js.${i % 3}`, `m${i}`);
  const c = await js.consumers.get("JSORD");
  const messages = await c.consume();
  let i = 0;
  for await (const m of messages) {
    assert(text(m.data) === `m${i}`, `ordered ${i}`);
    i++;
    if (i === 20) break;
  }
});

check("work queue, purge, get and delete", async (nc) => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: "JSWQ", subjects: ["wq.js.>"], retention: RetentionPolicy.Workqueue, storage: StorageType.Memory,
  });
  const js = jetstream(nc);
  for (let i = 0; i < 4; i++) await js.publish(`wq.js.${i % 2}`, `m${i}`);
  const m = await jsm.streams.getMessage("JSWQ", { seq: 2 });
  assert(m && m.subject === "wq.js.1" && text(m.data) === "m1", "get by seq");
  const last = await jsm.streams.getMessage("JSWQ", { last_by_subj: "wq.js.0" });
  assert(last && last.seq === 3, "last by subject");
  assert(await jsm.streams.deleteMessage("JSWQ", 1), "delete message");
  const purged = await jsm.streams.purge("JSWQ", { filter: "wq.js.1" });
  assert(purged.purged === 2, `purged ${purged.purged}`);
  const names = [];
  for await (const n of jsm.streams.names()) names.push(n);
  assert(names.includes("JSWQ"), "listed");
  assert(await jsm.streams.delete("JSWQ"), "deleted");
});

check("key-value put, get, update, delete", async (nc) => {
  const kvm = new Kvm(nc);
  const kv = await kvm.create("JSKV", { history: 3 });
  const r1 = await kv.put("color", "red");
  const r2 = await kv.update("color", "blue", r1);
  const e = await kv.get("color");
  assert(e && e.string() === "blue" && e.revision === r2, "get");
  await kv.delete("color");
  const gone = await kv.get("color");
  assert(gone === null || gone.operation === "DEL", "deleted");
});

let passed = 0;
let failed = 0;
for (const { name, fn } of checks) {
  let nc;
  try {
    nc = await connect({ servers: server, timeout: 5000, maxReconnectAttempts: 0 });
    await Promise.race([
      fn(nc),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 30 s")), 30000)),
    ]);
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  } finally {
    await nc?.close().catch(() => {});
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
