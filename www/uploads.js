// Uploads of this browser's streams to servers, as the package records them in the database:
// listed when the database opens (`db.uploads()`, so after a reload too), each going on over the
// dashboard's one connection to its server (`connect()`, then `db.uploads(conn)`), started from
// the page (`db.sync(url, ...)`, which records it at once, behind a confirmation) and shown live
// from its `events()`: online or not, paused, pending, in flight, acknowledged, reconnects, last
// error and retry time. Pause and resume; stop (in this page only: the database opened again
// runs it) and forget (its cursor and record deleted for good), both behind a confirmation.
// A server that asks for credentials: its uploads go on with those the dashboard signed in to it
// with (credentials.js, in memory only); without them, their rows ask to sign in, with the same
// form as the main connection's.
// In a follower tab (another tab holds the database) the rows are the writer's uploads, as the
// package hands them to followers: their status comes from the writer, and pause, resume, stop
// and forget are done by it; the list is asked again every few seconds (uploads started there).

import { h, num, field, formDialog, confirmAction, say, table } from './ui.js';
import { current } from './live.js';
import { connect } from '../pkg/index.js';
import { askCredentials, credentialsFor, rememberCredentials, forgetCredentials } from './credentials.js';

let lastUrl = '';

/**
 * The uploads of a local source, kept on it and read from its database once: `entries` by
 * upload name (`{upload, status, stopped}`), the dashboard's connections by server URL, and the
 * servers that refused them for want of credentials (`signIn`: URL → `{error, busy}`).
 */
function registry(source) {
  if (!source.uploads) {
    source.uploads = { entries: new Map(), conns: new Map(), signIn: new Map(), watchers: new Set(), closed: false, error: null };
    load(source);
  }
  return source.uploads;
}

/** Lists (and resumes) the uploads `source`'s database records: called when it opens. */
export function openUploads(source) {
  registry(source);
}

/** Tells every panel showing `source`'s uploads that one changed. */
function changed(source) {
  for (const fn of registry(source).watchers) fn();
}

/** How often a follower tab asks the writer for its uploads again. */
const FOLLOWER_RELIST_MS = 3000;

/** Lists the uploads the database records (they run in the tab that holds it; a follower asks it). */
async function load(source) {
  const reg = source.uploads;
  const follower = source.nc.role === 'follower';
  try {
    for (const upload of await source.nc.uploads()) track(source, upload);
    if (reg.error) {
      reg.error = null;
      changed(source);
    }
  } catch (e) {
    if (reg.closed) return;
    reg.error = `Uploads not read: ${e.message}`;
    changed(source);
  }
  if (follower && !reg.closed) setTimeout(() => reg.closed || load(source), FOLLOWER_RELIST_MS);
}

/** Shows `upload` and follows its events; it goes on over the dashboard's connection to its server. */
function track(source, upload) {
  const reg = registry(source);
  const known = reg.entries.get(upload.name);
  if (!known || known.upload !== upload || known.stopped) {
    let status;
    try {
      status = upload.status();
    } catch {
      return; // it ended meanwhile (the database closed): nothing to show
    }
    const entry = { upload, status, stopped: false };
    reg.entries.set(upload.name, entry);
    changed(source);
    (async () => {
      for await (const s of upload.events()) {
        entry.status = s;
        changed(source);
      }
      // The events end when the upload stops (stop, forget, or the database closing).
      entry.stopped = true;
      changed(source);
    })();
  }
  const server = reg.entries.get(upload.name).status.server;
  // A follower's uploads run in the writer, over its connections.
  if (server && source.nc.role !== 'follower') goOn(source, server);
}

/**
 * Hands the database the dashboard's connection to `server` (one per server, waiting for it as
 * long as it takes): every upload recorded for that server goes on over it. It connects with the
 * credentials this page signed in to `server` with, if any; refused for want of (right) ones, the
 * server's uploads wait for a sign-in on their rows.
 */
async function goOn(source, server, creds = credentialsFor(server)) {
  const reg = registry(source);
  let conn = reg.conns.get(server);
  if (!conn) {
    if (reg.signIn.has(server)) return; // waits for the sign-in on its row
    conn = connect({ servers: server, name: 'contrail dashboard upload', maxReconnectAttempts: -1, waitOnFirstConnect: true, ...creds });
    reg.conns.set(server, conn);
  }
  try {
    const nc = await conn;
    rememberCredentials(server, creds);
    if (!reg.closed) await source.nc.uploads(nc);
  } catch (e) {
    if (reg.conns.get(server) === conn) reg.conns.delete(server); // the next upload to it tries again
    if (reg.closed) return;
    if (e?.name === 'AuthorizationError') {
      forgetCredentials(server, creds);
      needsSignIn(source, server, e.message);
    } else {
      say(`Uploads to ${server} wait: ${e.message}`, 'error');
    }
  }
}

/** Marks `server`'s uploads as waiting for credentials (their rows offer to sign in). */
function needsSignIn(source, server, error) {
  const reg = registry(source);
  let waiting = reg.signIn.get(server);
  if (!waiting) reg.signIn.set(server, (waiting = {}));
  Object.assign(waiting, { error, busy: false });
  say(`Uploads to ${server} need credentials: sign in on their row.`, 'error');
  changed(source);
}

/**
 * Asks for `server`'s credentials with the main connection's form and connects with them: the
 * server's uploads go on over that connection, and the credentials are kept (in memory) for the
 * next uploads to it. Refused, the form asks again at once, saying so (as the main connection's
 * does); cancelled, the row still offers to sign in.
 */
async function signIn(source, server, why = null) {
  const reg = registry(source);
  const waiting = reg.signIn.get(server);
  if (!waiting || waiting.busy) return;
  const creds = await askCredentials(server, why ?? `Its uploads wait: ${waiting.error}`);
  if (!creds || reg.closed || reg.signIn.get(server) !== waiting) return;
  waiting.busy = true;
  changed(source);
  // Not waiting for a first connection: wrong credentials are told at once, not after a retry.
  const conn = connect({ servers: server, name: 'contrail dashboard upload', maxReconnectAttempts: -1, ...creds });
  reg.conns.set(server, conn);
  let nc;
  try {
    nc = await conn;
  } catch (e) {
    if (reg.conns.get(server) === conn) reg.conns.delete(server);
    if (reg.closed) return;
    if (e?.name === 'AuthorizationError') {
      needsSignIn(source, server, e.message);
      return signIn(source, server, `Refused: ${e.message}. Its uploads wait.`);
    }
    // Not reachable just now: its uploads wait for it with these credentials.
    reg.signIn.delete(server);
    changed(source);
    return goOn(source, server, creds);
  }
  rememberCredentials(server, creds);
  reg.signIn.delete(server);
  changed(source);
  if (reg.closed) return; // stopUploads closes the connection
  say(`Signed in to ${server}: its uploads go on.`, 'ok');
  try {
    await source.nc.uploads(nc);
  } catch (e) {
    say(`Uploads to ${server} wait: ${e.message}`, 'error');
  }
}

/** Closes the dashboard's upload connections when the page lets the database go (its uploads end with it). */
export function stopUploads(source) {
  const reg = source.uploads;
  if (!reg) return;
  reg.closed = true;
  for (const conn of reg.conns.values()) conn.then((nc) => nc.close()).catch(() => {});
  reg.conns.clear();
}

/** Asks for the server and the remote stream, confirms, and starts (records) the upload. */
export async function startUpload(source, stream = '') {
  const names = (await source.streams()).map((si) => si.config.name);
  if (!names.length) {
    say('This database has no stream to upload yet.', 'error');
    return;
  }
  const spec = await formDialog('Upload a stream to a server', () => h('div', {},
    field('Local stream', h('select', { name: 'stream', id: 'upload-stream' },
      names.map((n) => h('option', { value: n, selected: n === stream }, n)))),
    field('Server', h('input', { name: 'url', id: 'upload-url', value: lastUrl, placeholder: 'ws://127.0.0.1:8080', autocomplete: 'url' }),
      'NATS over WebSocket: Contrail, or nats-server with a websocket listener'),
    field('Server stream', h('input', { name: 'to', id: 'upload-to', placeholder: 'a stream that exists on the server' })),
    field('Subject prefix', h('input', { name: 'prefix', id: 'upload-prefix', placeholder: 'optional, e.g. device1.' }),
      'put before each subject, so the server stream can capture them')),
  (f) => {
    const [from, url, to, prefix] = ['stream', 'url', 'to', 'prefix'].map((k) => f.elements[k].value.trim());
    if (!/^wss?:\/\//i.test(url)) throw new Error('The server is a ws:// or wss:// URL.');
    if (!to) throw new Error('Name the server stream that takes the messages.');
    return { stream: from, url, to, prefix };
  }, 'Next');
  if (!spec) return;
  const ok = await confirmAction(`Upload every message of local stream ${spec.stream} to stream ${spec.to} on ${spec.url}?`, 'Start upload',
    `Each message is published once, in order (Nats-Msg-Id from this database), to ${spec.prefix || ''}<its subject>,\n` +
    'now and whenever the server is reachable while a tab holds this database. The server stream\n' +
    'must exist and capture those subjects. The upload is recorded here: it goes on after a reload.');
  if (!ok) return;
  lastUrl = spec.url;
  try {
    track(source, await source.nc.sync(spec.url, { stream: spec.stream, to: spec.to, subjectPrefix: spec.prefix || undefined }));
  } catch (e) {
    say(`Upload of ${spec.stream} not started: ${e.message}`, 'error');
  }
}

/** Stops an upload in this page, once confirmed (its cursor and record stay). */
async function stop(source, entry) {
  const { stream, to } = entry.status;
  if (!(await confirmAction(`Stop uploading ${stream} to ${to} in this page?`, 'Stop',
    'What is not on the server yet stays here. The upload is still recorded: it goes on when this\n' +
    'database is opened again (a reload) or started again. Forget it to end it for good.'))) return;
  entry.upload.stop();
  entry.stopped = true;
  changed(source);
}

/** Deletes an upload's cursor and record for good, once confirmed. */
async function forget(source, entry) {
  const { stream, to, server } = entry.status;
  if (!(await confirmAction(`Forget the upload of ${stream} to ${to} on ${server ?? 'its server'}?`, 'Forget',
    'It stops and its place (the local consumer that keeps its cursor) is deleted: it does not come\n' +
    'back after a reload, and starting it again sends every message again under a new origin id.'))) return;
  try {
    await entry.upload.forget();
    const reg = registry(source);
    if (reg.entries.get(entry.upload.name) === entry) reg.entries.delete(entry.upload.name);
    changed(source);
    say(`Forgot the upload of ${stream} to ${to}.`, 'ok');
  } catch (e) {
    say(`Upload not forgotten: ${e.message}`, 'error');
  }
}

/**
 * The uploads of `source` (those of local stream `stream` only, when given), updated in place
 * as their events come, at most every 200 ms; with a button that starts another.
 */
export function uploadsPanel(source, stream = null) {
  const follower = source.nc.role === 'follower';
  const body = h('div', { class: 'scroll' });
  const rows = new Map();
  const el = h('section', { 'aria-labelledby': 'h-uploads', class: 'uploads' },
    h('div', { class: 'title' },
      h('h3', { id: 'h-uploads' }, stream ? 'Uploads of this stream' : 'Uploads to servers'),
      // Uploads run in the tab that holds the database (the package's rule).
      h('button', { id: 'new-upload', onclick: () => startUpload(source, stream ?? ''), disabled: follower,
        title: follower ? 'Another tab holds this database: start uploads there.' : null }, 'Upload to a server…')),
    body);
  const tbody = h('tbody');
  const empty = h('p', { class: 'empty' }, follower
    ? 'None running in the tab that holds this database (start uploads there).'
    : 'None recorded. An upload sends a stream\'s messages to a server stream, exactly once, whenever it is reachable.');
  const tableEl = table(['Upload', 'Server', 'State', 'Pending', 'In flight', 'Acknowledged', 'Cursor', 'Reconnects', 'Last error', 'Retry at', ''], [], { id: 'uploads' });
  tableEl.tBodies[0].replaceWith(tbody);

  const reg = registry(source);
  // Always in the body (hidden while there is no error), so an error coming or going changes
  // only its text.
  const errorEl = h('p', { class: 'error', hidden: true });
  function render() {
    const mine = [...reg.entries.values()].filter((e) => !stream || e.status.stream === stream);
    for (const [entry, row] of rows) {
      if (!mine.includes(entry)) {
        row.tr.remove();
        rows.delete(entry);
      }
    }
    for (const entry of mine) {
      if (!rows.has(entry)) {
        rows.set(entry, uploadRow(source, entry));
        tbody.append(rows.get(entry).tr);
      }
      rows.get(entry).update();
    }
    errorEl.textContent = reg.error ?? '';
    errorEl.hidden = !reg.error;
    // Rows are updated in place; the body is rebuilt only when the table and the empty text
    // swap, since a rebuild takes the focus from a button in it (a status event can come
    // between a keyboard user's focus on "Sign in" and their Enter).
    const wanted = mine.length ? tableEl : empty;
    if (body.lastElementChild !== wanted) body.replaceChildren(errorEl, wanted);
  }

  const gen = current();
  let scheduled = false;
  const watcher = () => {
    if (current() !== gen) return reg.watchers.delete(watcher);
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      if (current() === gen) render();
    }, 200);
  };
  reg.watchers.add(watcher);
  render();
  return el;
}

/** What an upload is doing, in a word or two (`waiting`: its server's sign-in, if it asks for one). */
function stateOf(entry, waiting) {
  if (entry.stopped) return 'stopped';
  if (waiting) return waiting.busy ? 'signing in' : 'sign-in needed';
  if (entry.status.paused) return 'paused';
  return entry.status.online ? 'online' : 'offline';
}

function uploadRow(source, entry) {
  const cell = (field, cls = '') => h('td', { class: cls, dataset: { field } });
  const c = {
    state: cell('state'), pending: cell('pending', 'n'), inFlight: cell('in-flight', 'n'), acked: cell('acknowledged', 'n'),
    cursor: cell('cursor', 'n'), reconnects: cell('reconnects', 'n'), error: cell('last-error', 'error'), retry: cell('retry-at'),
    actions: h('td', { class: 'actions' }),
  };
  const pause = h('button', { class: 'pause', onclick: () => (entry.status.paused ? entry.upload.resume() : entry.upload.pause()) }, 'Pause');
  const stopButton = h('button', { class: 'stop', onclick: () => stop(source, entry) }, 'Stop');
  const forgetButton = h('button', { class: 'forget danger', onclick: () => forget(source, entry) }, 'Forget…');
  const s = entry.status;
  const signInButton = h('button', { class: 'sign-in primary', hidden: true, onclick: () => signIn(source, s.server),
    'aria-label': `Sign in to ${s.server} for its uploads` }, 'Sign in');
  c.actions.append(signInButton, pause, stopButton, forgetButton);
  const reg = registry(source);
  const tr = h('tr', { dataset: { upload: entry.upload.name, stream: s.stream, to: s.to, server: s.server ?? '' } },
    h('td', {}, `${s.stream} → ${s.to}`),
    h('td', { dataset: { field: 'server' } }, s.server ?? '–'),
    c.state, c.pending, c.inFlight, c.acked, c.cursor, c.reconnects, c.error, c.retry, c.actions);
  return {
    tr,
    update() {
      const s = entry.status;
      const waiting = entry.stopped || !s.server ? null : reg.signIn.get(s.server);
      const state = stateOf(entry, waiting);
      c.state.replaceChildren(h('span', { class: `state ${state.replace(/\W+/g, '-')}` }, state));
      c.pending.textContent = num(s.pending);
      c.inFlight.textContent = num(s.inFlight);
      c.acked.textContent = `${num(s.acknowledged)}${s.duplicates ? ` (${num(s.duplicates)} dup.)` : ''}`;
      c.cursor.textContent = num(s.cursor);
      c.reconnects.textContent = num(s.reconnects);
      c.error.textContent = waiting?.error ?? s.lastError ?? '';
      c.retry.textContent = s.retryAt && !entry.stopped ? s.retryAt.toLocaleTimeString() : '';
      pause.hidden = entry.stopped;
      pause.textContent = s.paused ? 'Resume' : 'Pause';
      pause.setAttribute('aria-pressed', s.paused ? 'true' : 'false');
      stopButton.hidden = entry.stopped;
      signInButton.hidden = !waiting;
      signInButton.disabled = !!waiting?.busy;
    },
  };
}
