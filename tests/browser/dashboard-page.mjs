// Helpers for the dashboard's page tests: the page's uncaught errors, its "Connected" banner, a
// bounded wait for a cell's text, nats.js v3 (from tests/types) to read what a server holds, and
// the upload tests' shared pieces (local writes, the uploads row, what a server stream holds).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

export const WAIT = { timeout: 20_000 };
const TYPES = join(ROOT, 'tests/types');

/** Whether nats.js is installed (npm ci in tests/types); the tests that need it skip loudly without. */
export const haveNatsJs = existsSync(join(TYPES, 'node_modules/@nats-io/transport-node'));

/** Uncaught errors of `page` (a test asserts there were none). */
export function pageErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/**
 * nats.js v3 on `server`'s client port (`auth`: `{token}` or `{user, pass}`): the connection,
 * the JetStream client and manager, and `headers()`.
 */
export async function natsjs(server, auth = {}) {
  const require = createRequire(join(TYPES, 'package.json'));
  const { connect } = require('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = require('@nats-io/jetstream');
  const { headers } = require('@nats-io/nats-core');
  const nc = await connect({ servers: `127.0.0.1:${server.port}`, ...auth });
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc), headers };
}

/** Waits until the page's banner says it is connected. */
export async function connected(page) {
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected'), null, WAIT);
}

/**
 * Waits (bounded) until the text of `selector` is `ok` (a string) or passes `ok` (a function run
 * in the page: it may not close over test variables); the error says what it read instead.
 */
export async function waitText(page, selector, ok, what, wait = WAIT) {
  if (typeof ok === 'string') {
    const want = ok;
    ok = new Function('t', `return t === ${JSON.stringify(want)}`);
  }
  try {
    await page.waitForFunction(
      ([sel, src]) => {
        const el = document.querySelector(sel);
        return !!el && new Function('t', `return (${src})(t)`)(el.textContent);
      },
      [selector, ok.toString()],
      wait,
    );
  } catch (e) {
    const now = await page.$eval(selector, (el) => el.textContent).catch(() => '(absent)');
    throw new Error(`${what}: ${selector} reads ${JSON.stringify(now)}`, { cause: e });
  }
}

/** Publishes ev.<i % 5> m<i> for i in from..to to the page's local database (through the package). */
export async function writeLocal(page, db, from, to) {
  await page.evaluate(async ([name, from, to]) => {
    const { open } = await import('/pkg/index.js');
    const nc = await open({ name });
    const js = nc.jetstream();
    for (let i = from; i <= to; i++) await js.publish(`ev.${i % 5}`, `m${i}`);
    await nc.close();
  }, [db, from, to]);
}

/** Every message of stream REMOTE on the server, as `<subject> <payload>`, by sequence. */
export async function remoteMessages(client) {
  const { state } = await client.jsm.streams.info('REMOTE');
  const got = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await client.jsm.streams.getMessage('REMOTE', { seq });
    got.push(`${m.subject} ${new TextDecoder().decode(m.data)}`);
  }
  return got;
}

/** What LOCAL's messages 1..n become on the server, in local order. */
export const uploaded = (n) => Array.from({ length: n }, (_, k) => `up.ev.${(k + 1) % 5} m${k + 1}`);

/** The row of the upload of LOCAL to REMOTE, and one of its cells. */
export const UPLOAD = '#uploads tr[data-stream="LOCAL"][data-to="REMOTE"]';
export const uploadCell = (field) => `${UPLOAD} td[data-field=${field}]`;
