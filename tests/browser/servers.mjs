// NATS servers for page tests: Contrail (target/debug/contrail, or $CONTRAIL_BIN) and Debian's
// nats-server, each on free 127.0.0.1 ports with WebSocket on and a fresh store directory.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

/** The servers a suite can run against: Contrail always, nats-server when it is installed. */
export function serverKinds() {
  const kinds = ['contrail'];
  if (['/usr/sbin/nats-server', '/usr/bin/nats-server'].some(existsSync)) kinds.push('nats-server');
  return kinds;
}

async function freePort() {
  const srv = createServer();
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

async function waitForPort(port, child, log) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${log()}`);
    const up = await new Promise((ok) => {
      const s = createConnection({ port, host: '127.0.0.1' }, () => {
        s.end();
        ok(true);
      });
      s.on('error', () => ok(false));
    });
    if (up) return;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`port ${port} never opened: ${log()}`);
}

/**
 * Starts a server of `kind`. Contrail runs in the repository (it serves www/ and pkg/ on its
 * HTTP port). Returns `{ kind, port, wsPort, httpPort, wsUrl, httpUrl, stop }`.
 */
export async function startServer(kind) {
  const dir = await mkdtemp(join(tmpdir(), 'contrail-page-'));
  const [port, wsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const conf = join(dir, 'server.conf');
  await writeFile(conf, `websocket { port: ${wsPort}, no_tls: true }\n`);
  const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort), '-js', '-sd', join(dir, 'store'), '-c', conf];
  const program = kind === 'contrail' ? (process.env.CONTRAIL_BIN ?? join(ROOT, 'target/debug/contrail')) : 'nats-server';
  const child = spawn(program, args, { cwd: kind === 'contrail' ? ROOT : dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr.on('data', (d) => (output = (output + d).slice(-4000)));
  const log = () => output;
  await waitForPort(port, child, log);
  await waitForPort(wsPort, child, log);
  await waitForPort(httpPort, child, log);
  return {
    kind,
    port,
    wsPort,
    httpPort,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
