// The message browser: a page of messages newest first, by subject filter, from a sequence or a
// time; a message's headers and its payload as JSON, text or hex. It never reads more than a
// page: each page walks back from its top sequence in windows, reading a window's sequences at
// once (no filter) or asking the stream for the next message matching the filter inside it
// (`next_by_subj`), so a 1,000,000-message stream costs about one request per message shown,
// and a sparse subject a few more per window.

import { h, num, bytes, ago, table, say } from './ui.js';
import { deleteMessage } from './actions.js';

const PAGE = 25;
/** Requests one page may take before it gives up on filling itself (a very sparse filter). */
const MAX_REQUESTS = 400;
/** Bytes of a payload shown before "Show all". */
const SHOWN_BYTES = 4096;

const td = new TextDecoder();

/**
 * Up to `count` messages with sequence at most `top`, newest first, whose subject matches
 * `filter`. Returns `{msgs, exhausted}` (`exhausted`: nothing older is left to look at).
 */
export async function pageBefore(source, stream, { top, first, filter = '>', count = PAGE }) {
  const out = [];
  let hi = top;
  let window = count;
  let requests = 0;
  while (out.length < count && hi >= first && requests < MAX_REQUESTS) {
    const lo = Math.max(first, hi - window + 1);
    const found = [];
    if (filter === '>' && hi === top) {
      // No filter, first window: every sequence at once (a deleted one reads as null). Later
      // windows (the first had gaps) jump over them with next_by_subj instead.
      requests += hi - lo + 1;
      const got = await Promise.all(Array.from({ length: hi - lo + 1 }, (_, i) => source.jsm.streams.getMessage(stream, { seq: lo + i })));
      found.push(...got.filter(Boolean));
    } else {
      for (let seq = lo; seq <= hi && requests < MAX_REQUESTS; ) {
        requests++;
        const m = await source.jsm.streams.getMessage(stream, { next_by_subj: filter, seq });
        if (!m || m.seq > hi) break;
        found.push(m);
        seq = m.seq + 1;
      }
    }
    out.push(...found.reverse());
    // An empty window doubles; one with matches guesses the next from their density.
    window = found.length === 0 ? window * 2 : Math.max(1, count - out.length) * Math.ceil(window / found.length);
    hi = lo - 1;
  }
  return { msgs: out.slice(0, count), exhausted: hi < first };
}

/**
 * The first message stored at or after `at` (matching `filter`), or null. Asks the stream with
 * `start_time` (nats-server 2.11+, Contrail); a server that refuses it (2.9, 2.10) is searched by
 * sequence instead, times rising with sequences: about 20 reads for a million messages.
 */
export async function firstAtOrAfter(source, stream, at, filter, state) {
  const streams = source.jsm.streams;
  try {
    return await streams.getMessage(stream, { start_time: at.toISOString(), ...(filter ? { next_by_subj: filter } : {}) });
  } catch {
    // Fall through to the search.
  }
  let lo = Math.max(1, state.first_seq);
  let hi = state.last_seq + 1;
  for (let steps = 0; lo < hi && steps < 64; steps++) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await streams.getMessage(stream, { next_by_subj: '>', seq: mid });
    if (!m || m.time >= at) hi = mid;
    else lo = m.seq + 1;
  }
  if (lo > state.last_seq) return null;
  return streams.getMessage(stream, { next_by_subj: filter || '>', seq: lo });
}

export function messageBrowser(source, stream, params) {
  const view = {
    filter: params.get('filter') ?? '',
    top: params.has('seq') ? Number(params.get('seq')) : null,
    /** Lowest sequence shown after a jump to a time: the page starts at that time. */
    floor: 0,
    state: null,
    shownTop: 0,
    loading: false,
    selected: null,
  };
  const filter = h('input', { type: 'search', value: view.filter, placeholder: 'subject filter (orders.*.eu, >)', 'aria-label': 'Message subject filter', 'data-filter': true, id: 'msg-filter' });
  const seq = h('input', { type: 'number', min: 1, placeholder: 'sequence', 'aria-label': 'Jump to sequence', id: 'msg-seq', value: view.top ?? '' });
  const time = h('input', { type: 'datetime-local', step: 1, 'aria-label': 'Jump to time', id: 'msg-time' });
  const live = h('input', { type: 'checkbox', checked: true, id: 'msg-live' });
  const newer = h('span', { class: 'muted', id: 'msg-newer' });
  const list = h('div', { class: 'scroll', id: 'messages' });
  const detail = h('div', { class: 'detail', id: 'message-detail' });
  const olderBtn = h('button', { 'data-older': true, id: 'msg-older', onclick: () => older() }, 'Older ›');
  const newerBtn = h('button', { 'data-newer': true, onclick: () => newerPage() }, '‹ Newer');

  const controls = h('form', { class: 'inline msg-controls', onsubmit: (ev) => { ev.preventDefault(); apply(); } },
    filter, seq, time, h('button', { id: 'msg-go' }, 'Go'),
    h('button', { type: 'button', id: 'msg-newest', onclick: () => { view.filter = filter.value.trim(); view.top = null; view.floor = 0; seq.value = ''; time.value = ''; load(); } }, 'Newest'),
    h('label', { class: 'check' }, live, ' follow new'));
  const el = h('div', { class: 'browser' }, controls, newer, list, h('div', { class: 'pager' }, newerBtn, olderBtn), detail);

  async function apply() {
    view.filter = filter.value.trim();
    view.top = null;
    view.floor = 0;
    if (seq.value) view.top = Number(seq.value);
    else if (time.value) {
      const at = new Date(time.value);
      try {
        const m = await firstAtOrAfter(source, stream, at, view.filter, view.state);
        if (!m) {
          say(`No message at or after ${at.toLocaleString()}.`, 'error');
          return;
        }
        // The page opens at the first message at or after the time, newer ones above it.
        view.top = m.seq + PAGE - 1;
        view.floor = m.seq;
      } catch (e) {
        say(`Time jump failed: ${e.message}`, 'error');
        return;
      }
    }
    load();
  }

  async function load() {
    if (!view.state) return;
    if (view.loading) {
      view.again = true;
      return;
    }
    view.loading = true;
    try {
      const top = Math.min(view.top ?? view.state.last_seq, view.state.last_seq);
      const { msgs, exhausted } = await pageBefore(source, stream, { top, first: Math.max(1, view.state.first_seq, view.floor), filter: view.filter || '>' });
      view.shownTop = view.top === null ? view.state.last_seq : top;
      view.bottom = msgs.length ? msgs[msgs.length - 1].seq : top;
      olderBtn.disabled = exhausted && msgs.length < PAGE;
      newerBtn.disabled = view.top === null;
      render(msgs);
      newer.textContent = '';
    } catch (e) {
      list.replaceChildren(h('p', { class: 'error' }, e.message));
    } finally {
      view.loading = false;
      if (view.again) {
        view.again = false;
        load();
      }
    }
  }

  function older() {
    if (view.bottom > 1) {
      view.top = view.bottom - 1;
      view.floor = 0;
      load();
    }
  }

  function newerPage() {
    if (view.top === null) return;
    const next = view.shownTop + PAGE;
    view.floor = 0;
    view.top = view.state && next >= view.state.last_seq ? null : next;
    load();
  }

  function render(msgs) {
    if (!msgs.length) {
      list.replaceChildren(h('p', { class: 'empty' }, view.filter ? `No messages on ${view.filter} here.` : 'No messages.'));
      return;
    }
    list.replaceChildren(table(['Seq', 'Subject', 'Time', 'Size', 'Payload'], msgs.map((m) =>
      h('tr', { dataset: { seq: m.seq }, class: view.selected === m.seq ? 'selected' : '' },
        h('td', { class: 'n' }, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); show(m); } }, String(m.seq))),
        h('td', {}, m.subject),
        h('td', { title: m.time.toISOString() }, `${m.time.toLocaleTimeString()} · ${ago(m.time)}`),
        h('td', { class: 'n' }, bytes(m.data.length)),
        h('td', { class: 'data' }, preview(m.data))))));
  }

  function show(m) {
    view.selected = m.seq;
    for (const tr of list.querySelectorAll('tr[data-seq]')) tr.classList.toggle('selected', Number(tr.dataset.seq) === m.seq);
    detail.replaceChildren(messageDetail(m, () => deleteMessage(source, stream, m.seq, () => { detail.replaceChildren(); load(); })));
    detail.querySelector('h4')?.focus();
  }

  return {
    el,
    refresh: () => {
      view.top = null;
      return load();
    },
    /** The stream's state changed (the page's 1 s tick): follow the newest, or say how many came. */
    stateChanged(state) {
      const before = view.state;
      view.state = state;
      if (!before) return load();
      if (state.last_seq === before.last_seq && state.first_seq === before.first_seq && state.messages === before.messages) return;
      // Following the newest, unless the keyboard is in the list (a reload would take its focus).
      if (view.top === null && live.checked && !list.contains(document.activeElement)) return load();
      const fresh = state.last_seq - view.shownTop;
      newer.textContent = fresh > 0 ? `${num(fresh)} newer message(s) since this page was read.` : '';
    },
  };
}

/** The first bytes of a payload as one line of text. */
function preview(data) {
  return td.decode(data.subarray(0, 160)).replace(/[\u0000-\u001f\u007f]/g, '·');
}

/** Headers, and the payload as JSON, text or hex, truncated with a way to see it all. */
export function messageDetail(m, onDelete) {
  const hdrs = m.header;
  const headerRows = [];
  for (const k of hdrs?.keys?.() ?? []) for (const v of hdrs.values(k)) headerRows.push([k, v]);
  let mode = 'json';
  let all = false;
  const text = td.decode(m.data);
  let json = null;
  try {
    json = m.data.length ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (json === null) mode = isText(m.data) ? 'text' : 'hex';
  const body = h('pre', { class: 'payload', id: 'payload', tabindex: 0 });
  const more = h('button', { id: 'payload-all', onclick: () => { all = true; draw(); } });
  const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': 'Payload format' },
    ['json', 'text', 'hex'].map((k) => h('button', { dataset: { mode: k }, onclick: () => { mode = k; draw(); } }, k.toUpperCase())));
  function draw() {
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
    const limit = all ? Infinity : SHOWN_BYTES;
    let out;
    if (mode === 'hex') out = hex(m.data.subarray(0, Math.min(m.data.length, limit)));
    else if (mode === 'json' && json !== null) out = JSON.stringify(json, null, 2);
    else out = mode === 'json' ? '(not JSON)\n' + text : text;
    const cut = !all && (mode === 'hex' ? m.data.length > limit : out.length > limit);
    body.textContent = cut && mode !== 'hex' ? out.slice(0, limit) : out;
    more.hidden = !cut;
    more.textContent = `Show all ${bytes(m.data.length)}`;
  }
  draw();
  return h('article', { 'aria-label': `Message ${m.seq}` },
    h('h4', { tabindex: -1 }, `#${m.seq} · ${m.subject}`),
    h('p', { class: 'muted' }, `${m.time.toISOString()} · ${bytes(m.data.length)}`),
    headerRows.length ? table(['Header', 'Value'], headerRows, { id: 'headers' }) : h('p', { class: 'muted' }, 'No headers.'),
    tabs, body, more,
    onDelete ? h('p', {}, h('button', { class: 'danger', id: 'delete-message', onclick: onDelete }, 'Delete message…')) : null);
}

function isText(data) {
  const sample = data.subarray(0, 512);
  for (const b of sample) if (b < 9 || (b > 13 && b < 32)) return false;
  return true;
}

/** Classic hex dump: offset, 16 bytes, their printable characters. */
function hex(data) {
  const lines = [];
  for (let i = 0; i < data.length; i += 16) {
    const row = data.subarray(i, i + 16);
    const hexes = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const chars = [...row].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hexes.padEnd(47)}  ${chars}`);
  }
  return lines.join('\n');
}
