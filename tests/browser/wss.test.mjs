// A page in headless Chromium speaks NATS over wss to a server whose `websocket { tls {} }` uses a
// certificate from a test CA (made here with openssl), against Contrail and nats-server. Chromium
// trusts the test CA through --ignore-certificate-errors-spki-list (the CA's key hash, and only
// that key), so the check is real: a browser without it refuses the same server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, ROOT, launch } from './harness.mjs';
import { serverKinds } from './servers.mjs';

let dir, caSpki;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'contrail-wss-'));
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-subj', '/CN=Contrail Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(join(dir, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial',
    '-days', '2', '-extfile', 'ext.cnf', '-out', 'server-leaf.pem');
  // The chain the server presents: its certificate, then the CA's.
  const ca = await readFile(join(dir, 'ca.pem'), 'utf8');
  await writeFile(join(dir, 'server-chain.pem'), (await readFile(join(dir, 'server-leaf.pem'), 'utf8')) + ca);
  const spki = new X509Certificate(ca).publicKey.export({ type: 'spki', format: 'der' });
  caSpki = createHash('sha256').update(spki).digest('base64');
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts `kind` with wss on a port it picks; resolves to `{ wsPort, stop }` once it listens. */
async function startWss(kind) {
  const store = join(dir, `store-${kind}-${Date.now()}`);
  const conf = join(dir, `${kind}.conf`);
  await writeFile(conf, `websocket {\n  port: -1\n  tls {\n    cert_file: ${JSON.stringify(join(dir, 'server-chain.pem'))}\n    key_file: ${JSON.stringify(join(dir, 'server-key.pem'))}\n  }\n}\n`);
  const program = kind === 'contrail' ? (process.env.CONTRAIL_BIN ?? join(ROOT, 'target/debug/contrail')) : 'nats-server';
  const child = spawn(program, ['-a', '127.0.0.1', '-p', '-1', '-m', '0', '-js', '-sd', store, '-c', conf], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  };
  const wsPort = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no wss listener within 10 s: ${output}`)), 10_000);
    const onData = (data) => {
      output += data;
      const line = output.split('\n').find((l) => l.includes('Listening for websocket clients on'));
      const port = line && Number(line.trim().split(/\s+/).pop().split(':').pop());
      if (port) {
        clearTimeout(timer);
        resolve(port);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${output}`)));
  }).catch(async (err) => {
    await stop();
    throw err;
  });
  return { wsPort, stop };
}

/** In the page: opens wss, reads INFO, sends CONNECT + PING, waits for PONG (10 s bound). */
function natsOverWss(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let seen = '';
    const done = (result) => {
      clearTimeout(timer);
      ws.close();
      resolve(result);
    };
    const timer = setTimeout(() => done({ error: 'timeout', seen }), 10_000);
    ws.onerror = () => done({ error: 'websocket error', seen });
    ws.onmessage = (event) => {
      const hadInfo = seen.includes('INFO ');
      seen += typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data);
      if (!hadInfo && seen.includes('INFO ')) ws.send('CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n');
      if (seen.includes('PONG')) done({ info: seen.startsWith('INFO '), pong: true });
    };
  });
}

for (const kind of serverKinds()) {
  test(`Chromium speaks NATS over wss to ${kind} with a test CA`, async () => {
    const server = await startWss(kind);
    const trusting = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${caSpki}`],
    });
    const untrusting = await launch();
    try {
      const url = `wss://localhost:${server.wsPort}`;
      const page = await trusting.newPage();
      assert.deepEqual(await page.evaluate(natsOverWss, url), { info: true, pong: true });
      const refused = await (await untrusting.newPage()).evaluate(natsOverWss, url);
      assert.equal(refused.error, 'websocket error', 'a browser without the test CA must refuse the certificate');
    } finally {
      await trusting.close();
      await untrusting.close();
      await server.stop();
    }
  });
}
