"""nats-py against a running server: core NATS, JetStream (mirrors and sources too) and KV, as a
Python user drives them.

Usage: python interop.py nats://127.0.0.1:PORT
Runs every check, prints one line per check and a closing 'N passed, N failed' line, and exits
non-zero when any check failed. Every wait is bounded.
"""

import asyncio
import sys
import traceback

import nats
from nats.errors import NoRespondersError, TimeoutError as NatsTimeout
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import NotFoundError

URL = sys.argv[1] if len(sys.argv) > 1 else "nats://127.0.0.1:4222"
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


async def connect():
    return await nats.connect(URL, connect_timeout=5, max_reconnect_attempts=0)


@check
async def core_pub_sub_with_wildcards_and_queue_groups():
    nc = await connect()
    got, queued = [], []

    async def on_any(msg):
        got.append(msg.data)

    async def on_queue(msg):
        queued.append(msg.data)

    await nc.subscribe("py.*", cb=on_any)
    for _ in range(2):
        await nc.subscribe("py.q", queue="workers", cb=on_queue)
    await nc.flush()
    for i in range(10):
        await nc.publish("py.q", str(i).encode())
    await nc.flush()
    for _ in range(50):
        if len(got) == 10 and len(queued) == 10:
            break
        await asyncio.sleep(0.05)
    assert len(got) == 10, got
    assert len(queued) == 10, queued
    await nc.close()


@check
async def request_reply_and_no_responders():
    nc = await connect()

    async def echo(msg):
        await msg.respond(msg.data.upper())

    await nc.subscribe("py.echo", cb=echo)
    await nc.flush()
    reply = await nc.request("py.echo", b"hi", timeout=5)
    assert reply.data == b"HI", reply.data
    try:
        await nc.request("py.nobody", b"x", timeout=5)
        raise AssertionError("expected no responders")
    except NoRespondersError:
        pass
    await nc.close()


@check
async def publish_dedup_and_stream_info():
    nc = await connect()
    js = nc.jetstream(timeout=5)
    await js.add_stream(StreamConfig(name="PY", subjects=["py.js.>"], storage=StorageType.MEMORY))
    ack = await js.publish("py.js.a", b"one", headers={"Nats-Msg-Id": "m1"})
    assert (ack.stream, ack.seq) == ("PY", 1), ack
    dup = await js.publish("py.js.a", b"one", headers={"Nats-Msg-Id": "m1"})
    assert dup.duplicate and dup.seq == 1, dup
    info = await js.stream_info("PY")
    assert info.state.messages == 1, info.state
    await nc.close()


@check
async def pull_fetch_ack_nak_term_and_ack_sync():
    nc = await connect()
    js = nc.jetstream(timeout=5)
    await js.add_stream(StreamConfig(name="PULL", subjects=["pull.>"], storage=StorageType.FILE))
    for i in range(3):
        await js.publish("pull.x", f"m{i}".encode())
    sub = await js.pull_subscribe("pull.x", durable="py", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    msgs = await sub.fetch(3, timeout=5)
    assert [m.data for m in msgs] == [b"m0", b"m1", b"m2"], msgs
    await msgs[0].ack_sync(timeout=5)
    await msgs[1].nak()
    await msgs[2].term()
    again = await sub.fetch(1, timeout=5)
    assert again[0].data == b"m1" and again[0].metadata.num_delivered == 2, again[0].metadata
    await again[0].in_progress()
    await again[0].ack_sync(timeout=5)
    info = await js.consumer_info("PULL", "py")
    assert info.num_ack_pending == 0 and info.ack_floor.stream_seq == 3, info
    try:
        await sub.fetch(1, timeout=0.5)
        raise AssertionError("expected nothing left")
    except NatsTimeout:
        pass
    await nc.close()


@check
async def push_and_ordered_consumers():
    nc = await connect()
    js = nc.jetstream(timeout=5)
    await js.add_stream(StreamConfig(name="PUSH", subjects=["push.>"], storage=StorageType.MEMORY))
    for i in range(5):
        await js.publish("push.x", f"m{i}".encode())
    sub = await js.subscribe("push.x", durable="pusher", manual_ack=True)
    for i in range(5):
        msg = await sub.next_msg(timeout=5)
        assert msg.data == f"m{i}".encode(), msg.data
        await msg.ack()
    ordered = await js.subscribe("push.x", ordered_consumer=True)
    for i in range(5):
        msg = await ordered.next_msg(timeout=5)
        assert msg.data == f"m{i}".encode(), msg.data
    await nc.close()


@check
async def work_queue_and_purge_and_get_and_delete():
    nc = await connect()
    js = nc.jetstream(timeout=5)
    await js.add_stream(StreamConfig(name="WQPY", subjects=["wq.>"], retention=RetentionPolicy.WORK_QUEUE,
                                     storage=StorageType.MEMORY))
    for i in range(4):
        await js.publish(f"wq.{i % 2}", f"m{i}".encode())
    msg = await js.get_msg("WQPY", 2)
    assert msg.data == b"m1" and msg.subject == "wq.1", msg
    last = await js.get_last_msg("WQPY", "wq.0")
    assert last.seq == 3, last
    assert await js.delete_msg("WQPY", 1)
    purged = await js.purge_stream("WQPY", subject="wq.1")
    assert purged, purged
    info = await js.stream_info("WQPY")
    assert info.state.messages == 1, info.state
    await js.delete_stream("WQPY")
    try:
        await js.stream_info("WQPY")
        raise AssertionError("stream should be gone")
    except NotFoundError:
        pass
    await nc.close()


@check
async def key_value_put_get_update_delete():
    nc = await connect()
    js = nc.jetstream(timeout=5)
    kv = await js.create_key_value(bucket="PYKV", history=3)
    rev1 = await kv.put("color", b"red")
    rev2 = await kv.update("color", b"blue", last=rev1)
    entry = await kv.get("color")
    assert entry.value == b"blue" and entry.revision == rev2, entry
    await kv.delete("color")
    keys = []
    try:
        keys = await kv.keys()
    except Exception:  # nats-py raises NoKeysError when the bucket is empty
        keys = []
    assert "color" not in keys, keys
    await nc.close()



async def wait_for_messages(js, stream, count):
    """The stream's info once it holds `count` messages (bounded: about 10 s)."""
    for _ in range(200):
        info = await js.stream_info(stream)
        if info.state.messages >= count:
            return info
        await asyncio.sleep(0.05)
    raise AssertionError(f"{stream} holds {info.state.messages} messages, expected {count}")


@check
async def mirror_and_sources_follow_their_origins():
    nc = await connect()
    js = nc.jetstream(timeout=5)
    await js.add_stream(StreamConfig(name="PYORIG", subjects=["orig.>"], storage=StorageType.FILE))
    await js.add_stream(StreamConfig(name="PYOTHER", subjects=["other.>"], storage=StorageType.MEMORY))
    for i in range(5):
        await js.publish(f"orig.{i % 2}", f"o{i}".encode())
    await js.publish("other.x", b"x0")
    assert await js.delete_msg("PYORIG", 2)

    await js.add_stream(StreamConfig(name="PYMIRROR", mirror=StreamSource(name="PYORIG"),
                                     storage=StorageType.FILE))
    await js.add_stream(StreamConfig(name="PYSOURCED", storage=StorageType.MEMORY,
                                     sources=[StreamSource(name="PYORIG", filter_subject="orig.0"),
                                              StreamSource(name="PYOTHER")]))
    # Followed after they were made, too.
    await js.publish("orig.0", b"o5")
    await js.publish("other.y", b"x1")

    info = await wait_for_messages(js, "PYMIRROR", 5)
    assert (info.state.first_seq, info.state.last_seq) == (1, 6), info.state
    assert info.mirror is not None and info.mirror.name == "PYORIG", info.mirror
    # The mirror keeps the origin's sequences; the deleted one stays a gap.
    for seq, data in [(1, b"o0"), (3, b"o2"), (6, b"o5")]:
        msg = await js.get_msg("PYMIRROR", seq)
        assert msg.data == data, (seq, msg.data)
    try:
        await js.get_msg("PYMIRROR", 2)
        raise AssertionError("origin's deleted message appeared in the mirror")
    except NotFoundError:
        pass
    try:
        await js.publish("orig.0", b"direct", stream="PYMIRROR")
        raise AssertionError("a mirror took a publish")
    except Exception as e:  # nats-py raises an APIError or NoStreamResponseError
        if isinstance(e, AssertionError):
            raise

    # orig.0 carried o0, o2, o4 and o5 (the filtered source); PYOTHER x0 and x1.
    info = await wait_for_messages(js, "PYSOURCED", 6)
    assert info.state.messages == 6, info.state
    assert sorted(src.name for src in info.sources) == ["PYORIG", "PYOTHER"], info.sources
    got = []
    for seq in range(1, 7):
        msg = await js.get_msg("PYSOURCED", seq)
        origin = (msg.headers or {}).get("Nats-Stream-Source", "")
        got.append((msg.data, origin.split(" ")[0]))
    assert sorted(got) == [(b"o0", "PYORIG"), (b"o2", "PYORIG"), (b"o4", "PYORIG"),
                           (b"o5", "PYORIG"), (b"x0", "PYOTHER"), (b"x1", "PYOTHER")], got
    await nc.close()

async def main():
    passed = failed = 0
    for fn in CHECKS:
        try:
            await asyncio.wait_for(fn(), timeout=30)
            passed += 1
            print(f"ok   {fn.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main()) else 0)
