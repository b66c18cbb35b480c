// Uploads of this browser's streams to a server: the package's `db.sync(conn, {stream, to})`
// started from the page (behind a confirmation), each with its own `connect()` to the server,
// and shown live from the upload's `events()`: online or not, pending, in flight, acknowledged,
// last error and when it retries, with pause, resume and stop. An upload lives as long as the
// page holds the database (the source): its cursor is the package's, kept in the database, so
// starting it again after a reload resumes where it stopped.

import { h, num, field, formDialog, confirmAction, say, table } from './ui.js';
import { current } from './live.js';
import { connect } from '../pkg/index.js';

let nextId = 1;
let lastUrl = '';

/** The uploads of a local source (kept on it; `Source.close` stops them). */
function registry(source) {
  source.uploads ??= { list: [], watchers: new Set() };
  return source.uploads;
}

/** Tells every panel showing `source`'s uploads that one changed. */
function changed(source) {
  for (const fn of registry(source).watchers) fn();
}

/** Asks for the server and the remote stream, confirms, and starts the upload. */
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
    'now and whenever the server is reachable while this page is open. The server stream must exist\n' +
    'and capture those subjects; stopping keeps the upload\'s place, so starting it again resumes there.');
  if (!ok) return;
  lastUrl = spec.url;
  run(source, spec);
}

/** Connects (waiting for the server as long as it takes), then starts the package's upload. */
async function run(source, spec) {
  const entry = { id: nextId++, ...spec, state: 'connecting', status: null, upload: null, nc: null, error: null };
  const reg = registry(source);
  reg.list.push(entry);
  changed(source);
  try {
    entry.nc = await connect({ servers: spec.url, name: 'contrail dashboard upload', maxReconnectAttempts: -1, waitOnFirstConnect: true });
    if (entry.state === 'stopped') return entry.nc.close();
    entry.upload = await source.nc.sync(entry.nc, { stream: spec.stream, to: spec.to, subjectPrefix: spec.prefix || undefined });
  } catch (e) {
    entry.state = 'failed';
    entry.error = e.message;
    await entry.nc?.close().catch(() => {});
    say(`Upload of ${spec.stream} not started: ${e.message}`, 'error');
    return changed(source);
  }
  entry.state = 'running';
  entry.status = entry.upload.status();
  changed(source);
  for await (const s of entry.upload.events()) {
    entry.status = s;
    changed(source);
  }
  // The iterator ends when the upload stops (by the user, or the database closing).
  entry.state = 'stopped';
  await entry.nc.close().catch(() => {});
  changed(source);
}

/** Stops one upload and closes its connection (its cursor stays in the database). */
function stop(source, entry) {
  const was = entry.state;
  entry.state = 'stopped';
  if (was === 'running') {
    entry.status = entry.upload.status();
    entry.upload.stop();
  }
  changed(source);
}

/** Stops every upload of `source` (when the page lets the database go). */
export function stopUploads(source) {
  for (const entry of source.uploads?.list ?? []) {
    if (entry.state === 'running' || entry.state === 'connecting') stop(source, entry);
  }
}

/**
 * The uploads of `source` (those of local stream `stream` only, when given), updated in place
 * as their events come, at most every 200 ms; with a button that starts another.
 */
export function uploadsPanel(source, stream = null) {
  const body = h('div', { class: 'scroll' });
  const rows = new Map();
  const el = h('section', { 'aria-labelledby': 'h-uploads', class: 'uploads' },
    h('div', { class: 'title' },
      h('h3', { id: 'h-uploads' }, stream ? 'Uploads of this stream' : 'Uploads to servers'),
      // Uploads run in the tab that holds the database (the package's rule).
      h('button', { id: 'new-upload', onclick: () => startUpload(source, stream ?? ''), disabled: source.nc.role === 'follower',
        title: source.nc.role === 'follower' ? 'Another tab holds this database: start uploads there.' : null }, 'Upload to a server…')),
    body);
  const tbody = h('tbody');
  const empty = h('p', { class: 'empty' }, 'None running. An upload sends a stream\'s messages to a server stream, exactly once, whenever it is reachable.');
  const tableEl = table(['Upload', 'Server', 'State', 'Pending', 'In flight', 'Acknowledged', 'Cursor', 'Last error', 'Retry at', ''], [], { id: 'uploads' });
  tableEl.tBodies[0].replaceWith(tbody);

  function render() {
    const mine = registry(source).list.filter((e) => !stream || e.stream === stream);
    for (const entry of mine) {
      let row = rows.get(entry.id);
      if (!row) {
        row = uploadRow(source, entry);
        rows.set(entry.id, row);
        tbody.append(row.tr);
      }
      row.update();
    }
    body.replaceChildren(mine.length ? tableEl : empty);
  }

  const reg = registry(source);
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

/** What an upload is doing, in one word. */
function stateOf(entry) {
  if (entry.state !== 'running') return entry.state;
  const s = entry.status;
  if (s.paused) return 'paused';
  return s.online ? 'online' : 'offline';
}

function uploadRow(source, entry) {
  const cell = (field, cls = '') => h('td', { class: cls, dataset: { field } });
  const c = {
    state: cell('state'), pending: cell('pending', 'n'), inFlight: cell('in-flight', 'n'), acked: cell('acknowledged', 'n'),
    cursor: cell('cursor', 'n'), error: cell('last-error', 'error'), retry: cell('retry-at'), actions: h('td', { class: 'actions' }),
  };
  const pause = h('button', { class: 'pause', onclick: () => {
    const paused = entry.status?.paused;
    if (paused) entry.upload.resume();
    else entry.upload.pause();
  } }, 'Pause');
  const stopButton = h('button', { class: 'stop danger', onclick: async () => {
    if (await confirmAction(`Stop uploading ${entry.stream} to ${entry.to}? What is not on the server yet stays here; starting the upload again resumes.`, 'Stop')) stop(source, entry);
  } }, 'Stop');
  c.actions.append(pause, stopButton);
  const tr = h('tr', { dataset: { upload: entry.id, stream: entry.stream, to: entry.to } },
    h('td', {}, `${entry.stream} → ${entry.to}`, entry.prefix ? h('small', {}, ` (${entry.prefix}…)`) : null),
    h('td', {}, entry.url),
    c.state, c.pending, c.inFlight, c.acked, c.cursor, c.error, c.retry, c.actions);
  return {
    tr,
    update() {
      const s = entry.status;
      const state = stateOf(entry);
      c.state.replaceChildren(h('span', { class: `state ${state}` }, state));
      c.pending.textContent = s ? num(s.pending) : '–';
      c.inFlight.textContent = s ? num(s.inFlight) : '–';
      c.acked.textContent = s ? `${num(s.acknowledged)}${s.duplicates ? ` (${num(s.duplicates)} dup.)` : ''}` : '–';
      c.cursor.textContent = s ? num(s.cursor) : '–';
      c.error.textContent = entry.error ?? s?.lastError ?? '';
      c.retry.textContent = s?.retryAt && entry.state === 'running' ? s.retryAt.toLocaleTimeString() : '';
      const live = entry.state === 'running';
      pause.hidden = !live;
      pause.textContent = s?.paused ? 'Resume' : 'Pause';
      pause.setAttribute('aria-pressed', s?.paused ? 'true' : 'false');
      stopButton.hidden = !(live || entry.state === 'connecting');
    },
  };
}
