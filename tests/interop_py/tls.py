"""nats-py over TLS: connects trusting a test CA, publishes to JetStream and gets the PubAck.

Usage: python tls.py tls://127.0.0.1:PORT CA_FILE
Exits non-zero (with the traceback) when the check fails. Every wait is bounded.
"""

import asyncio
import ssl
import sys

import nats
from nats.js.api import StorageType, StreamConfig


async def main(url, ca_file):
    context = ssl.create_default_context(cafile=ca_file)
    nc = await nats.connect(url, tls=context, connect_timeout=5, max_reconnect_attempts=0)
    assert nc.connected_server_version is not None
    js = nc.jetstream(timeout=5)
    await js.add_stream(StreamConfig(name="PYTLS", subjects=["pytls.>"], storage=StorageType.MEMORY))
    ack = await js.publish("pytls.one", b"over tls")
    assert (ack.stream, ack.seq) == ("PYTLS", 1), ack
    await nc.close()
    print("ok   nats-py publish over TLS got its PubAck")


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), timeout=30))
