// A loopback TCP proxy a page test puts between a page and a server, to break the connection on
// command: the tests of sync, mirrors, links and the remote connection share it.
import { createServer, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy to `127.0.0.1:upstream` on a port the OS picked (`url` is its `ws://` address).
 * - `accepted()` counts the connections it took (a refused one is not counted), so a test can
 *   tell whether a client tried again; `attempts()` counts refused ones too (a client still
 *   trying while the proxy is down);
 * - `retarget(port)` points it at another upstream port (a server restarted on ports of its
 *   own): connections taken from then on go there, the ones it carries stay where they are;
 * - `cut()` drops every connection it carries (new ones are taken) and returns how many;
 * - `down()` does the same and refuses new connections until `up()`;
 * - `freeze()` drops what the server sends until the next cut (requests still arrive, replies
 *   are lost); `freezeAfter(bytes)` lets that many more bytes from the server through first, so
 *   a transfer stops part-way at a point no timing decides;
 * - `budgets[k]`, when given, is how many bytes the server may send over the k-th connection:
 *   past it that connection is cut mid-frame, and `cuts()` counts those cuts.
 */
export async function startProxy(upstream, budgets = []) {
  const pairs = new Set();
  let refusing = false;
  let frozen = false;
  /** Bytes from the server still let through before freezing (null: no freeze ahead). */
  let allowance = null;
  let accepted = 0;
  let attempts = 0;
  let cuts = 0;
  const server = createServer((client) => {
    attempts++;
    if (refusing) return client.destroy();
    const budget = budgets[accepted++] ?? Infinity;
    let sent = 0;
    const far = tcpConnect(upstream, '127.0.0.1');
    const pair = { client, far };
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      far.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    far.on('error', drop).on('close', drop);
    client.pipe(far);
    far.on('data', (bytes) => {
      if (frozen || sent >= budget) return;
      if (allowance !== null) {
        if (bytes.length >= allowance) {
          bytes = bytes.subarray(0, allowance);
          frozen = true;
          allowance = null;
        } else allowance -= bytes.length;
      }
      sent += bytes.length;
      if (sent < budget) return void client.write(bytes);
      client.write(bytes.subarray(0, bytes.length - (sent - budget)));
      cuts++;
      drop();
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const proxy = {
    url: `ws://127.0.0.1:${server.address().port}`,
    accepted: () => accepted,
    attempts: () => attempts,
    cuts: () => cuts,
    retarget(port) {
      upstream = port;
    },
    freeze() {
      frozen = true;
    },
    freezeAfter(bytes) {
      allowance = bytes;
    },
    cut() {
      frozen = false;
      allowance = null;
      const dropped = pairs.size;
      for (const { client, far } of pairs) {
        client.destroy();
        far.destroy();
      }
      pairs.clear();
      return dropped;
    },
    down() {
      refusing = true;
      return proxy.cut();
    },
    up() {
      refusing = false;
    },
    close() {
      proxy.down();
      return new Promise((ok) => server.close(ok));
    },
  };
  return proxy;
}
