// The dashboard: streams, consumers and messages of one source at a time, refreshed every two
// seconds. A source is a server (NATS over WebSocket, see nats-ws.js) or this browser's own
// engine (IndexedDB, the npm package); sources.js gives both the same shape.
//
// The page starts on the server that serves it when /varz says where its WebSocket listener is,
// and otherwise on this browser's "contrail-demo" database (the live demo's). `?db=NAME` or
// `?server=ws://...` pick a source from the URL.

import { BrowserSource, ServerSource } from './sources.js';

const $ = (id) => document.getElementById(id);
const PAGE = 25;
const REFRESH_MS = 2000;

const view = {
  source: null,
  stream: null,
  /** Highest sequence of the message page shown; null follows the newest. */
  top: null,
  /** Lowest sequence of the message page shown (where "Older" continues). */
  bottom: null,
  /** The last stream list read, by name. */
  streams: new Map(),
  timer: null,
};

function status(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

/** A table row of text cells (never HTML: subjects and payloads are anyone's). */
function tr(cells, attrs = {}) {
  const row = document.createElement('tr');
  for (const [k, v] of Object.entries(attrs)) row.setAttribute(k, v);
  for (const c of cells) {
    const td = document.createElement('td');
    if (typeof c === 'object' && c !== null) {
      td.textContent = c.text;
      td.className = c.className ?? '';
      if (c.title) td.title = c.title;
    } else td.textContent = String(c ?? '');
    row.append(td);
  }
  return row;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function preview(data) {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(data.subarray(0, 200));
  return text.replace(/[\u0000-\u001f]/g, '·');
}

async function use(makeSource) {
  clearTimeout(view.timer);
  const old = view.source;
  view.source = null;
  view.stream = null;
  view.top = null;
  $('stream-pane').hidden = true;
  try {
    await old?.close();
  } catch {
    // A source that already failed has nothing left to close.
  }
  try {
    view.source = await makeSource();
    status(`Connected: ${view.source.label}.`);
    await refresh();
  } catch (e) {
    status(`Cannot open the source: ${e.message}`, true);
  }
}

async function refresh() {
  clearTimeout(view.timer);
  const source = view.source;
  if (!source) return;
  try {
    await renderStreams(source);
    if (view.stream) await renderStream(source, view.stream);
  } catch (e) {
    status(`${source.label}: ${e.message}`, true);
  }
  if (source === view.source) view.timer = setTimeout(refresh, REFRESH_MS);
}

async function renderStreams(source) {
  const streams = await source.streams();
  const body = $('streams').tBodies[0];
  body.replaceChildren(
    ...streams.map((s) =>
      tr(
        [s.config.name, s.config.subjects?.join(' ') ?? '', s.state.messages, bytes(s.state.bytes), s.state.last_seq, s.state.consumer_count],
        { 'data-name': s.config.name, class: s.config.name === view.stream ? 'selected' : '' },
      ),
    ),
  );
  if (view.stream && !streams.some((s) => s.config.name === view.stream)) {
    view.stream = null;
    $('stream-pane').hidden = true;
  }
  view.streams = new Map(streams.map((s) => [s.config.name, s]));
}

async function renderStream(source, name) {
  const info = view.streams.get(name);
  if (!info) return;
  const st = info.state;
  $('stream-pane').hidden = false;
  $('stream-title').textContent = name;
  $('stream-state').textContent =
    `${st.messages} messages, ${bytes(st.bytes)}, sequences ${st.first_seq}–${st.last_seq}` +
    `, ${info.config.retention} retention, ${info.config.storage} storage`;
  $('stream-config').textContent = JSON.stringify(info.config, null, 2);

  const consumers = await source.consumers(name);
  $('consumers').tBodies[0].replaceChildren(
    ...consumers.map((c) =>
      tr([
        c.name,
        c.config.deliver_subject ? 'push' : 'pull',
        c.config.filter_subject ?? c.config.filter_subjects?.join(' ') ?? '',
        c.num_pending,
        c.num_ack_pending,
        c.num_redelivered,
        c.ack_floor?.stream_seq ?? 0,
      ]),
    ),
  );

  // Walk down from the top of the page; deleted sequences answer "not found" and are skipped.
  const top = Math.min(view.top ?? st.last_seq, st.last_seq);
  const rows = [];
  for (let seq = top, tries = 0; seq >= st.first_seq && seq > 0 && rows.length < PAGE && tries < PAGE * 4; seq--, tries++) {
    try {
      const m = await source.message(name, seq);
      if (m) rows.push(m);
    } catch {
      // Deleted or expired since the info was read.
    }
  }
  $('messages').tBodies[0].replaceChildren(
    ...rows.map((m) =>
      tr([m.seq, m.subject, m.time.toISOString(), bytes(m.data.length), { text: preview(m.data), className: 'data', title: m.headers ?? '' }]),
    ),
  );
  view.bottom = rows.length ? rows[rows.length - 1].seq : null;
}

$('streams').addEventListener('click', (ev) => {
  const row = ev.target.closest('tr[data-name]');
  if (!row) return;
  view.stream = row.dataset.name;
  view.top = null;
  refresh();
});

$('older').addEventListener('click', () => {
  if (view.bottom > 1) view.top = view.bottom - 1;
  refresh();
});

$('newest').addEventListener('click', () => {
  view.top = null;
  refresh();
});

$('server-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const url = $('server-url').value.trim();
  history.replaceState(null, '', `?server=${encodeURIComponent(url)}`);
  use(() => ServerSource.connect(url));
});

$('browser-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('db-name').value.trim();
  history.replaceState(null, '', `?db=${encodeURIComponent(name)}`);
  use(() => BrowserSource.open(name));
});

$('create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const subjects = $('create-subjects').value.split(/[\s,]+/).filter(Boolean);
    await view.source?.addStream({ name: $('create-name').value.trim(), subjects });
    view.stream = $('create-name').value.trim();
    await refresh();
  } catch (e) {
    status(`Create failed: ${e.message}`, true);
  }
});

$('publish-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const ack = await view.source?.publish($('publish-subject').value.trim(), $('publish-data').value);
    status(`Published: ${ack.stream} #${ack.seq}.`);
    view.top = null;
    await refresh();
  } catch (e) {
    status(`Publish failed: ${e.message}`, true);
  }
});

/** The WebSocket URL of the server that serves this page, from its /varz. */
async function ownServer() {
  try {
    const varz = await (await fetch('/varz')).json();
    if (!varz.websocket?.port) return null;
    return `ws://${location.hostname}:${varz.websocket.port}`;
  } catch {
    return null;
  }
}

async function start() {
  const params = new URLSearchParams(location.search);
  const server = params.get('server') ?? (params.has('db') ? null : await ownServer());
  if (server) {
    $('server-url').value = server;
    return use(() => ServerSource.connect(server));
  }
  const db = params.get('db') ?? 'contrail-demo';
  $('db-name').value = db;
  return use(() => BrowserSource.open(db));
}

start();
