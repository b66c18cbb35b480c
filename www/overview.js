// The overview: every stream with its live state and publish rate, the KV buckets and object
// stores among them, and the server's health (from its monitoring endpoints) or this browser's
// storage. Rows are kept and updated in place, so focus and scroll survive each refresh.

import { h, num, bytes, rate, bar, sparkline, facts, limit, table } from './ui.js';
import { every, sample } from './live.js';
import { serverMonitoring } from './source.js';
import { link } from './app.js';
import { createStream, createBucket, createObjectStore } from './actions.js';
import { syncOverview } from './links.js';
import { uploadsPanel } from './uploads.js';

const KV = 'KV_';
const OBJ = 'OBJ_';

export function overview(source) {
  const streamsBody = h('tbody');
  const rows = new Map();
  const empty = h('p', { class: 'empty', hidden: true }, 'No streams yet. Create one, or publish from an app.');
  const buckets = h('div', { class: 'cards' });
  const health = h('section', { class: 'health', 'aria-label': 'Health' });
  let latest = [];
  const root = h('div', { class: 'overview' },
    h('div', { class: 'title' },
      h('h2', { tabindex: -1 }, 'Streams'),
      h('button', { id: 'new-stream', class: 'primary', onclick: () => createStream(source) }, 'New stream')),
    health,
    h('div', { class: 'scroll' },
      h('table', { id: 'streams', class: 'streams' },
        h('thead', {}, h('tr', {}, ['Name', 'Subjects', 'Messages', 'Bytes', 'Used of limit', 'Sequences', 'Consumers', 'Rate'].map((t) => h('th', { scope: 'col' }, t)))),
        streamsBody)),
    empty,
    h('div', { class: 'title' }, h('h2', {}, 'Key-value buckets and object stores'),
      h('div', { class: 'actions' },
        h('button', { id: 'new-bucket', onclick: () => createBucket(source) }, 'New bucket'),
        h('button', { id: 'new-object-store', onclick: () => createObjectStore(source) }, 'New object store'))),
    buckets,
    // Sync: the server's links, mirrors and sources; this browser's uploads to servers.
    syncOverview(source, () => latest),
    source.kind === 'local' ? uploadsPanel(source) : null);

  every(2000, async () => {
    const streams = await source.streams();
    latest = streams;
    const seen = new Set();
    for (const si of streams) {
      const name = si.config.name;
      seen.add(name);
      let row = rows.get(name);
      if (!row) {
        row = streamRow(name);
        rows.set(name, row);
      }
      updateRow(row, si);
    }
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    // Keep rows in name order without rebuilding them; moved only when the order changed (a
    // moved row would lose the keyboard's focus).
    const order = streams.map((si) => rows.get(si.config.name).tr);
    if (order.some((tr, i) => streamsBody.children[i] !== tr)) streamsBody.append(...order);
    empty.hidden = streams.length > 0;
    // Rebuilt only when they changed, so a focused card keeps its focus.
    const cards = bucketCards(streams);
    const signature = cards.map((c) => c.textContent).join('\n');
    if (buckets.dataset.signature !== signature || buckets.childElementCount === 0) {
      buckets.dataset.signature = signature;
      buckets.replaceChildren(...cards);
      if (cards.length === 0) buckets.append(h('p', { class: 'empty' }, 'None yet.'));
    }
  }, { view: 'overview', on: (a) => a.kind === 'stream_action' || a.kind === 'consumer_action' });
  const healthFacts = h('div');
  const connections = h('div', { class: 'scroll' });
  const connBox = h('details', { hidden: true, id: 'connections' }, h('summary', {}, 'Connections'), connections);
  health.append(healthFacts, connBox);
  every(1000, () => renderHealth(source, healthFacts, connBox, connections));
  return root;
}

function streamRow(name) {
  const cells = {
    name: h('td', {}, h('a', { href: link(`/s/${encodeURIComponent(name)}`) }, name)),
    subjects: h('td', { class: 'subjects' }),
    messages: h('td', { class: 'n', dataset: { field: 'messages' } }),
    bytes: h('td', { class: 'n' }),
    used: h('td'),
    seqs: h('td', { class: 'n' }),
    consumers: h('td', { class: 'n' }),
    rate: h('td', { class: 'rate' }),
  };
  const tr = h('tr', { dataset: { name } }, Object.values(cells));
  return { tr, cells };
}

function updateRow({ cells }, si) {
  const { config: c, state: s } = si;
  const { rate: r, history } = sample(c.name, s);
  cells.subjects.textContent = (c.subjects ?? []).join(' ');
  cells.messages.textContent = num(s.messages);
  cells.bytes.textContent = bytes(s.bytes);
  cells.seqs.textContent = s.messages ? `${num(s.first_seq)}–${num(s.last_seq)}` : `– (last ${num(s.last_seq)})`;
  cells.consumers.textContent = num(s.consumer_count);
  cells.used.replaceChildren(usage(c, s));
  cells.rate.replaceChildren(h('span', { class: 'rate-n' }, rate(r)), ' ', sparkline(history, { label: `${c.name} publish rate` }));
}

/** How full the stream is against its tightest limit (messages or bytes). */
function usage(c, s) {
  const parts = [];
  if (c.max_msgs > 0) parts.push([s.messages / c.max_msgs, `${num(s.messages)} of ${num(c.max_msgs)} messages`]);
  if (c.max_bytes > 0) parts.push([s.bytes / c.max_bytes, `${bytes(s.bytes)} of ${bytes(c.max_bytes)}`]);
  if (!parts.length) return h('span', { class: 'muted' }, 'no limit');
  const [fraction, text] = parts.sort((a, b) => b[0] - a[0])[0];
  return h('span', { class: 'usage' }, bar([{ value: fraction, class: fraction > 0.9 ? 'hot' : 'ok' }], 1, text), h('small', {}, `${Math.round(fraction * 100)}%`));
}

function bucketCards(streams) {
  const out = [];
  for (const si of streams) {
    const name = si.config.name;
    if (name.startsWith(KV)) {
      const bucket = name.slice(KV.length);
      out.push(h('a', { class: 'card', href: link(`/kv/${encodeURIComponent(bucket)}`) },
        h('strong', {}, bucket), h('span', { class: 'tag' }, 'KV'),
        h('small', {}, `${num(si.state.num_subjects ?? 0)} keys · ${num(si.state.messages)} revisions · ${bytes(si.state.bytes)}`)));
    } else if (name.startsWith(OBJ)) {
      const store = name.slice(OBJ.length);
      out.push(h('a', { class: 'card', href: link(`/obj/${encodeURIComponent(store)}`) },
        h('strong', {}, store), h('span', { class: 'tag' }, 'objects'),
        h('small', {}, `${bytes(si.state.bytes)} in ${num(si.state.messages)} chunks and entries`)));
    }
  }
  return out;
}

const serverRates = { last: null };

/** Connections listed at most (from `/connz`). */
const CONNECTIONS_SHOWN = 20;

async function renderHealth(source, el, connBox, connections) {
  if (source.kind === 'local') {
    const info = await source.jsm.getAccountInfo();
    const b = info.browser_storage ?? {};
    el.replaceChildren(facts([
      ['Database', source.where],
      ['Role', source.nc.role ?? 'writer'],
      ['Streams', num(info.streams)],
      ['Stored', `${bytes(info.storage)} (IndexedDB) · ${bytes(info.memory)} memory`],
      ['Browser storage', b.quota ? `${bytes(b.usage)} of ${bytes(b.quota)}${b.persisted ? ' (persistent)' : ''}` : 'unknown'],
    ]));
    return;
  }
  const varz = await serverMonitoring(source, '/varz');
  if (!varz) {
    const info = await source.jsm.getAccountInfo();
    el.replaceChildren(facts([
      ['Server', `${source.nc.info?.server_name ?? ''} ${source.nc.info?.version ?? ''}`],
      ['Streams', num(info.streams)], ['Consumers', num(info.consumers)],
      ['Stored', `${bytes(info.storage)} file · ${bytes(info.memory)} memory`],
    ]));
    return;
  }
  const now = performance.now();
  const prev = serverRates.last;
  serverRates.last = { t: now, in: varz.in_msgs, out: varz.out_msgs, inBytes: varz.in_bytes };
  const dt = prev ? (now - prev.t) / 1000 : 0;
  const per = (k) => (prev && dt > 0 ? rate(Math.max(0, serverRates.last[k] - prev[k]) / dt) : '…');
  const js = varz.jetstream ?? {};
  const stats = js.stats ?? {};
  const cfg = js.config ?? {};
  el.replaceChildren(facts([
    ['Server', `${varz.server_name ?? varz.server_id} · ${varz.version} · up ${varz.uptime}`],
    ['Connections', h('span', { id: 'health-connections' }, `${num(varz.connections)} (${num(varz.total_connections)} since start)`)],
    ['Messages in / out', `${per('in')} / ${per('out')}`],
    ['JetStream file', h('span', { class: 'usage' },
      cfg.max_storage > 0 ? bar([{ value: stats.storage ?? 0, class: 'ok' }], cfg.max_storage) : null,
      `${bytes(stats.storage)} of ${limit(cfg.max_storage, bytes, true)}`)],
    ['JetStream memory', `${bytes(stats.memory)} of ${limit(cfg.max_memory, bytes, true)}`],
    ['API', `${num(stats.api?.total)} requests, ${num(stats.api?.errors)} errors`],
  ]));
  // The table is read only while it is open.
  connBox.hidden = false;
  if (!connBox.open) return;
  const connz = await serverMonitoring(source, `/connz?limit=${CONNECTIONS_SHOWN}`);
  if (!connz) return;
  connections.replaceChildren(table(['Name', 'Kind', 'Address', 'Up', 'In', 'Out', 'Subscriptions', 'Pending'],
    (connz.connections ?? []).map((c) => [c.name || '–', `${c.type ?? ''} ${c.lang ?? ''} ${c.version ?? ''}`.trim(), `${c.ip}:${c.port}`, c.uptime,
      `${num(c.in_msgs)} (${bytes(c.in_bytes)})`, `${num(c.out_msgs)} (${bytes(c.out_bytes)})`, num(c.subscriptions), bytes(c.pending_bytes)])),
  connz.total > CONNECTIONS_SHOWN ? h('p', { class: 'muted' }, `${num(CONNECTIONS_SHOWN)} of ${num(connz.total)} connections.`) : '');
}
