// Small DOM and formatting helpers shared by the dashboard's views. Everything a server or a
// user wrote (subjects, payloads, names) goes into the page as text, never as HTML.

/** An element: `h('a', {href: '#/'}, 'text', child)`. `on*` props become listeners. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** `n` with thousands separators. */
export function num(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : String(n ?? '–');
}

export function bytes(n) {
  if (typeof n !== 'number' || n < 0) return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A rate per second, compact: `12.3k/s`. */
export function rate(perSec) {
  if (!Number.isFinite(perSec) || perSec <= 0) return '0/s';
  if (perSec < 10) return `${perSec.toFixed(1)}/s`;
  if (perSec < 1000) return `${Math.round(perSec)}/s`;
  if (perSec < 1e6) return `${(perSec / 1e3).toFixed(1)}k/s`;
  return `${(perSec / 1e6).toFixed(1)}M/s`;
}

/** Nanoseconds as a readable duration (`0` reads as "unlimited" where `zero` says so). */
export function duration(ns, zero = '0') {
  if (!ns) return zero;
  let s = ns / 1e9;
  if (s < 1) return `${Math.round(ns / 1e6)} ms`;
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s >= 1 || parts.length === 0) parts.push(`${Math.round(s)}s`);
  return parts.join(' ');
}

/** A limit: -1 (or 0 where `zeroUnlimited`) reads as "unlimited". */
export function limit(n, format = num, zeroUnlimited = false) {
  return n === -1 || n === undefined || (zeroUnlimited && n === 0) ? 'unlimited' : format(n);
}

/** "3 s ago" style age of a Date. */
export function ago(date) {
  const s = (Date.now() - date.getTime()) / 1000;
  if (!Number.isFinite(s)) return '';
  if (s < 1) return 'now';
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A small inline SVG line of `values` (the newest last). */
export function sparkline(values, { width = 96, height = 22, label = 'rate' } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  if (values.length > 1) {
    const max = Math.max(...values, 1);
    const step = width / (values.length - 1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points.join(' '));
    svg.append(line);
  }
  return svg;
}

/** A horizontal bar of segments `[{value, class, label}]` over `total`. */
export function bar(segments, total, title = '') {
  const el = h('div', { class: 'bar', role: 'img', 'aria-label': title, title });
  const sum = Math.max(total, segments.reduce((a, s) => a + s.value, 0), 1);
  for (const s of segments) {
    if (s.value > 0) el.append(h('span', { class: s.class, style: `width:${Math.max(1, (s.value / sum) * 100).toFixed(2)}%` }));
  }
  return el;
}

/**
 * Asks before doing something: a modal dialog with `what` and a button `verb`. Resolves true
 * only when the user confirmed (Escape, Cancel or closing the dialog resolve false).
 */
export function confirmAction(what, verb = 'Confirm', details = null) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-label': 'Confirm' },
      h('form', { method: 'dialog' },
        h('p', {}, what),
        details ? h('pre', { class: 'details' }, details) : null,
        h('div', { class: 'actions' },
          h('button', { value: 'cancel', type: 'submit' }, 'Cancel'),
          h('button', { value: 'ok', type: 'submit', class: 'danger', id: 'confirm-ok' }, verb))));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector('button[value=cancel]').focus();
  });
}

/**
 * A modal form: `fields(form)` builds its inputs; resolves to `read(form)` on submit, or null.
 * `read` may throw to keep the dialog open with the error shown.
 */
export function formDialog(title, build, read, verb = 'Save') {
  return new Promise((resolve) => {
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { method: 'dialog' }, h('h2', {}, title), build(), error,
      h('div', { class: 'actions' },
        h('button', { value: 'cancel', type: 'button', onclick: () => dialog.close() }, 'Cancel'),
        h('button', { value: 'ok', type: 'submit', class: 'primary' }, verb)));
    const dialog = h('dialog', { class: 'form', 'aria-label': title }, form);
    let result = null;
    form.addEventListener('submit', (ev) => {
      try {
        result = read(form);
      } catch (e) {
        ev.preventDefault();
        error.textContent = e.message;
      }
    });
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok' ? result : null);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    form.querySelector('input, select, textarea')?.focus();
  });
}

/** A labelled input for a form dialog. */
export function field(label, input, hint = '') {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('small', {}, hint) : null);
}

/** The banner line: `say('text')`, `say('text', 'error')`. */
export function say(text, kind = 'info') {
  const el = document.getElementById('status');
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
}

/** A table with a header row; `rows` are arrays of cells (text or nodes) or ready `<tr>`s. */
export function table(headers, rows, props = {}) {
  return h('table', props,
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

/** A definition list from `[label, value]` pairs (values text or nodes). */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}
