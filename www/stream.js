// A stream's page: its state (live), its configuration in words, its consumers with their lag,
// its subjects with per-subject counts (paged), the message browser, and the actions on it.

import { h, num, bytes, rate, bar, sparkline, duration, limit, facts, table, say } from './ui.js';
import { every, sample } from './live.js';
import { link } from './app.js';
import { messageBrowser } from './messages.js';
import { editStream, deleteStream, purgeStream, publish, createConsumer } from './actions.js';
import { streamOrigins } from './links.js';
import { uploadsPanel } from './uploads.js';

const SUBJECTS_SHOWN = 100;

export function streamPage(source, name, params) {
  const state = h('div', { class: 'state' });
  const config = h('div', { class: 'config' });
  const consumers = h('div', { class: 'scroll' });
  const origins = h('div', { class: 'scroll' });
  const originsBox = h('section', { 'aria-labelledby': 'h-origins', hidden: true }, h('h3', { id: 'h-origins' }, 'Copied from'), origins);
  const subjects = subjectsPanel(source, name);
  const messages = messageBrowser(source, name, params);
  let info = null;
  const root = h('div', { class: 'stream' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: link('/') }, 'Streams'), ' / '),
    h('div', { class: 'title' },
      h('h2', { tabindex: -1, id: 'stream-title' }, name),
      h('div', { class: 'actions' },
        h('button', { class: 'primary', id: 'publish', onclick: () => publish(source, info, messages.refresh) }, 'Publish'),
        h('button', { id: 'purge', onclick: () => purgeStream(source, name, messages.refresh) }, 'Purge…'),
        h('button', { id: 'edit', onclick: () => info && editStream(source, info) }, 'Edit…'),
        h('button', { id: 'new-consumer', onclick: () => createConsumer(source, name) }, 'New consumer'),
        h('button', { class: 'danger', id: 'delete-stream', onclick: () => deleteStream(source, name) }, 'Delete…'))),
    state,
    originsBox,
    source.kind === 'local' ? uploadsPanel(source, name) : null,
    h('section', { 'aria-labelledby': 'h-messages' }, h('h3', { id: 'h-messages' }, 'Messages'), messages.el),
    h('section', { 'aria-labelledby': 'h-consumers' }, h('h3', { id: 'h-consumers' }, 'Consumers'), consumers),
    h('section', { 'aria-labelledby': 'h-subjects' }, h('h3', { id: 'h-subjects' }, 'Subjects'), subjects.el),
    h('details', { class: 'config-box' }, h('summary', {}, 'Configuration'), config));

  // Advisories about this stream (its config, its consumers, messages given up on).
  const about = (a) => a.data?.stream === name;
  every(2000, async () => {
    try {
      info = await source.jsm.streams.info(name);
    } catch (e) {
      say(`${name}: ${e.message}`, 'error');
      state.replaceChildren(h('p', { class: 'empty' }, `Stream ${name} is not there (${e.message}).`));
      return;
    }
    renderState(state, info);
    const copied = streamOrigins(info);
    originsBox.hidden = !copied;
    if (copied) origins.replaceChildren(copied);
    messages.stateChanged(info.state);
    subjects.stateChanged(info.state);
    if (!config.dataset.rendered || config.dataset.rendered !== JSON.stringify(info.config)) {
      config.dataset.rendered = JSON.stringify(info.config);
      config.replaceChildren(renderConfig(info.config));
    }
  }, { view: 'stream', on: about });
  every(5000, async () => {
    info ??= await source.jsm.streams.info(name);
    const list = [];
    for await (const c of source.jsm.consumers.list(name)) list.push(c);
    // Kept as it is while the keyboard is in it (a rebuild would take its focus).
    if (!consumers.contains(document.activeElement)) consumers.replaceChildren(consumerTable(list, info.state, name));
  }, { view: 'consumers', on: about });
  return root;
}

function renderState(el, si) {
  const s = si.state;
  const { rate: r, history } = sample(si.config.name, s);
  el.replaceChildren(facts([
    ['Messages', h('span', { id: 'stream-messages' }, num(s.messages))],
    ['Bytes', bytes(s.bytes)],
    ['Sequences', s.messages ? `${num(s.first_seq)} – ${num(s.last_seq)}` : `none (last ${num(s.last_seq)})`],
    ['First / last', s.messages ? `${new Date(s.first_ts).toLocaleString()} / ${new Date(s.last_ts).toLocaleString()}` : '–'],
    ['Subjects', num(s.num_subjects ?? 0)],
    ['Deleted', num(s.num_deleted ?? 0)],
    ['Consumers', num(s.consumer_count)],
    ['Publish rate', h('span', {}, h('span', { id: 'stream-rate' }, rate(r)), ' ', sparkline(history, { width: 140, label: 'publish rate' }))],
  ]));
}

/** The configuration in words; the raw JSON underneath for the rest. */
function renderConfig(c) {
  const yes = (v) => (v ? 'yes' : 'no');
  return h('div', {},
    facts([
      ['Subjects', (c.subjects ?? []).join(', ') || '(none)'],
      c.description ? ['Description', c.description] : null,
      ['Storage', `${c.storage}, ${c.num_replicas ?? 1} replica(s)${c.compression && c.compression !== 'none' ? `, ${c.compression}` : ''}`],
      ['Retention', c.retention],
      ['Discard', `${c.discard}${c.discard_new_per_subject ? ' (per subject)' : ''}`],
      ['Max messages', limit(c.max_msgs)],
      ['Max bytes', limit(c.max_bytes, bytes)],
      ['Max age', duration(c.max_age, 'unlimited')],
      ['Max per subject', limit(c.max_msgs_per_subject, num, true)],
      ['Max message size', limit(c.max_msg_size, bytes)],
      ['Duplicate window', duration(c.duplicate_window, 'none')],
      ['Deny delete / purge', `${yes(c.deny_delete)} / ${yes(c.deny_purge)}`],
      ['Rollups', yes(c.allow_rollup_hdrs)],
      ['Direct get', yes(c.allow_direct)],
      ['Per-message TTLs', c.allow_msg_ttl ? `yes${c.subject_delete_marker_ttl ? `, markers kept ${duration(c.subject_delete_marker_ttl)}` : ''}` : 'no'],
      ['Sealed', yes(c.sealed)],
    ]),
    h('details', {}, h('summary', {}, 'JSON'), h('pre', {}, JSON.stringify(c, null, 2))));
}

function consumerTable(list, streamState, stream) {
  if (!list.length) return h('p', { class: 'empty' }, 'No consumers.');
  return table(['Name', 'Kind', 'Filter', 'Delivered', 'Ack floor', 'Pending', 'Ack pending', 'Redelivered', 'Waiting', 'Lag'],
    list.map((c) => {
      const name = c.name;
      const lag = c.num_pending + c.num_ack_pending;
      return h('tr', { dataset: { consumer: name } },
        h('td', {}, h('a', { href: link(`/s/${encodeURIComponent(stream)}/c/${encodeURIComponent(name)}`) }, name)),
        h('td', {}, c.config.deliver_subject ? 'push' : 'pull', c.config.durable_name ? '' : ' (ephemeral)'),
        h('td', {}, c.config.filter_subject || (c.config.filter_subjects ?? []).join(' ') || '>'),
        h('td', { class: 'n' }, num(c.delivered?.stream_seq ?? 0)),
        h('td', { class: 'n' }, num(c.ack_floor?.stream_seq ?? 0)),
        h('td', { class: 'n', dataset: { field: 'pending' } }, num(c.num_pending)),
        h('td', { class: 'n', dataset: { field: 'ack-pending' } }, num(c.num_ack_pending)),
        h('td', { class: 'n' }, num(c.num_redelivered)),
        h('td', { class: 'n' }, num(c.num_waiting)),
        h('td', {}, lagBar(c, streamState, lag)));
    }), { id: 'consumers' });
}

/** Acked, waiting for an ack and not yet delivered, against what the stream holds. */
export function lagBar(c, streamState, lag) {
  const total = Math.max(streamState.messages, lag, 1);
  return h('span', { class: 'usage' },
    bar([
      { value: Math.max(0, total - lag), class: 'ok' },
      { value: c.num_ack_pending, class: 'warn' },
      { value: c.num_pending, class: 'hot' },
    ], total, `${num(c.num_ack_pending)} awaiting ack, ${num(c.num_pending)} not delivered`),
    h('small', {}, num(lag)));
}

/** Subjects with their counts, a page at a time, narrowed by a filter the server applies. */
function subjectsPanel(source, stream) {
  const filter = h('input', { type: 'search', placeholder: 'filter, e.g. orders.eu.>', 'aria-label': 'Subject filter', id: 'subjects-filter' });
  const list = h('div', { class: 'scroll' });
  const pager = h('div', { class: 'pager' });
  const note = h('span', { class: 'muted' });
  // The server answers its subjects in pages of `limit` (100,000 on nats-server and Contrail), in
  // subject order; only the server page holding the rows shown is fetched.
  let total = 0;
  let limit = Infinity;
  let cache = new Map();
  let page = 0;
  let token = 0;

  async function serverPage(offset) {
    if (!cache.has(offset)) {
      const r = await source.subjects(stream, filter.value.trim() || '>', offset);
      total = r.total;
      limit = r.limit > 0 ? r.limit : Infinity;
      cache.set(offset, r.subjects.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
    }
    return cache.get(offset);
  }

  async function show() {
    const mine = ++token;
    try {
      await serverPage(0);
      const pages = Math.max(1, Math.ceil(total / SUBJECTS_SHOWN));
      page = Math.max(0, Math.min(page, pages - 1));
      const first = page * SUBJECTS_SHOWN;
      const offset = Number.isFinite(limit) ? Math.floor(first / limit) * limit : 0;
      const entries = await serverPage(offset);
      if (mine !== token) return;
      const slice = entries.slice(first - offset, first - offset + SUBJECTS_SHOWN);
      list.replaceChildren(slice.length
        ? table(['Subject', 'Messages'], slice.map(([s, n]) => h('tr', {},
          h('td', {}, h('a', { href: link(`/s/${encodeURIComponent(stream)}?filter=${encodeURIComponent(s)}`) }, s)),
          h('td', { class: 'n' }, num(n)))), { id: 'subjects' })
        : h('p', { class: 'empty' }, 'No subjects.'));
      pager.replaceChildren(
        h('button', { disabled: page === 0, onclick: () => { page--; show(); } }, 'Previous'),
        h('span', { id: 'subjects-page' }, ` ${num(slice.length ? first + 1 : 0)}–${num(first + slice.length)} of ${num(total)} `),
        h('button', { disabled: page >= pages - 1, id: 'subjects-next', onclick: () => { page++; show(); } }, 'Next'),
        note);
    } catch (e) {
      list.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }

  /** Forgets what was read; `fromStart` goes back to the first page (a new filter). */
  function reload(fromStart) {
    cache = new Map();
    note.textContent = '';
    if (fromStart) page = 0;
    return show();
  }

  const form = h('form', { class: 'inline', onsubmit: (ev) => { ev.preventDefault(); reload(true); } },
    filter, h('button', {}, 'Show'));
  const el = h('div', {}, form, list, pager);
  // When the number of subjects changes the page is read again, at most every 5 s, and only while
  // they are few; beyond 10,000 the page says so and waits for "Show".
  let known = null;
  let lastLoad = 0;
  return {
    el,
    stateChanged(state) {
      const n = state.num_subjects ?? 0;
      if (known === null) {
        known = n;
        lastLoad = performance.now();
        list.replaceChildren(h('p', { class: 'muted' }, 'Loading subjects…'));
        reload(true);
      } else if (n !== known && performance.now() - lastLoad > 5000) {
        known = n;
        if (n <= 10_000 && !el.contains(document.activeElement)) {
          lastLoad = performance.now();
          reload(false);
        } else {
          note.textContent = ` (now ${num(n)}: Show reads them again)`;
        }
      }
    },
  };
}
