// Key-value buckets and object stores, read with the package's Kvm and Objm (the @nats-io/kv and
// @nats-io/obj shapes): a bucket's keys and a key's value and history; a store's objects and a
// download of each. Changes go behind a confirmation like every other action.

import { Kvm, Objm } from '../pkg/index.js';
import { h, num, bytes, facts, table, say, confirmAction, formDialog, field } from './ui.js';
import { link } from './app.js';
import { uploadObject } from './actions.js';

/** Keys listed at most (a filter narrows them). */
const KEYS_SHOWN = 500;

function crumbs(what) {
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: link('/') }, 'Overview'), ` / ${what} / `);
}

export function kvPage(source, bucket) {
  const status = h('div');
  const keys = h('div', { class: 'scroll' });
  const detail = h('div', { class: 'detail' });
  const filter = h('input', { type: 'search', placeholder: 'key filter (a.*, >)', 'aria-label': 'Key filter', 'data-filter': true });
  let kv;
  const root = h('div', {}, crumbs('KV'),
    h('div', { class: 'title' }, h('h2', { tabindex: -1 }, bucket),
      h('div', { class: 'actions' }, h('button', { class: 'primary', id: 'kv-put', onclick: () => put() }, 'Put…'))),
    status,
    h('form', { class: 'inline', onsubmit: (ev) => { ev.preventDefault(); loadKeys(); } }, filter, h('button', {}, 'Show')),
    keys, detail);

  async function loadKeys() {
    keys.replaceChildren(h('p', { class: 'muted' }, 'Loading keys…'));
    const list = [];
    const it = await kv.keys(filter.value.trim() || '>');
    for await (const k of it) {
      list.push(k);
      if (list.length >= KEYS_SHOWN) break;
    }
    it.stop?.();
    list.sort();
    keys.replaceChildren(list.length
      ? table(['Key'], list.map((k) => h('tr', {}, h('td', {}, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); showKey(k); } }, k)))), { id: 'kv-keys' })
      : h('p', { class: 'empty' }, 'No keys.'),
    list.length >= KEYS_SHOWN ? h('p', { class: 'muted' }, `The first ${KEYS_SHOWN} keys; a filter narrows them.`) : '');
  }

  async function showKey(key) {
    const entry = await kv.get(key);
    const history = [];
    const it = await kv.history({ key });
    for await (const e of it) history.push(e);
    const rows = history.reverse().slice(0, 50).map((e) => [num(e.revision), e.operation, e.created.toLocaleString(), bytes(e.length ?? e.value?.length ?? 0)]);
    detail.replaceChildren(h('article', {},
      h('h4', { tabindex: -1 }, key),
      entry ? facts([['Revision', num(entry.revision)], ['Operation', entry.operation], ['Updated', entry.created.toLocaleString()]]) : null,
      entry && entry.operation === 'PUT' ? h('pre', { class: 'payload', id: 'kv-value' }, entry.string()) : h('p', { class: 'muted' }, 'Deleted.'),
      h('h4', {}, 'History'), table(['Revision', 'Operation', 'Time', 'Size'], rows),
      h('p', {}, h('button', { onclick: () => put(key, entry?.string()) }, 'Edit…'), ' ',
        h('button', { class: 'danger', onclick: () => remove(key) }, 'Delete…'))));
    detail.querySelector('h4').focus();
  }

  async function put(key = '', value = '') {
    const r = await formDialog(key ? `Put ${key}` : 'Put a key', () => h('div', {},
      field('Key', h('input', { name: 'key', required: true, value: key, readOnly: !!key, id: 'kv-key' })),
      field('Value', h('textarea', { name: 'value', rows: 5, id: 'kv-new-value' }, value ?? ''))),
    (f) => ({ key: f.elements.key.value.trim(), value: f.elements.value.value }), 'Put…');
    if (!r || !(await confirmAction(`Put ${r.key} in ${bucket}?`, 'Put', r.value.slice(0, 500)))) return;
    try {
      const rev = await kv.put(r.key, r.value);
      say(`Put ${r.key} (revision ${rev}).`, 'ok');
      await loadKeys();
      await showKey(r.key);
    } catch (e) {
      say(`Put failed: ${e.message}`, 'error');
    }
  }

  async function remove(key) {
    if (!(await confirmAction(`Delete ${key} from ${bucket}? (A delete marker; the history stays.)`, 'Delete key'))) return;
    try {
      await kv.delete(key);
      say(`Deleted ${key}.`, 'ok');
      showKey(key);
    } catch (e) {
      say(`Delete failed: ${e.message}`, 'error');
    }
  }

  (async () => {
    try {
      kv = await new Kvm(source.js).open(bucket);
      const st = await kv.status();
      status.replaceChildren(facts([
        ['Values', num(st.values)], ['History', num(st.history)], ['Size', bytes(st.size)],
        ['Storage', st.storage], ['TTL', st.ttl ? `${st.ttl / 1000} s` : 'none'],
        ['Stream', h('a', { href: link(`/s/KV_${encodeURIComponent(bucket)}`) }, `KV_${bucket}`)],
      ]));
      await loadKeys();
    } catch (e) {
      status.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  })();
  return root;
}

export function objPage(source, store) {
  const status = h('div');
  const list = h('div', { class: 'scroll' });
  const detail = h('div', { class: 'detail' });
  const root = h('div', {}, crumbs('Objects'),
    h('div', { class: 'title' }, h('h2', { tabindex: -1 }, store),
      h('div', { class: 'actions' }, h('button', { class: 'primary', id: 'upload', onclick: () => os && uploadObject(os, store, load) }, 'Upload…'))),
    status, list, detail);
  let os;

  async function show(info) {
    detail.replaceChildren(h('article', {},
      h('h4', { tabindex: -1 }, info.name),
      facts([['Size', bytes(info.size)], ['Chunks', num(info.chunks)], ['Modified', new Date(info.mtime).toLocaleString()],
        ['Digest', info.digest], info.description ? ['Description', info.description] : null]),
      h('p', {}, h('button', { onclick: () => download(info) }, 'Download'), ' ',
        h('button', { class: 'danger', onclick: () => remove(info.name) }, 'Delete…'))));
  }

  async function download(info) {
    try {
      const data = await os.getBlob(info.name);
      const url = URL.createObjectURL(new Blob([data]));
      const a = h('a', { href: url, download: info.name.split('/').pop() || 'object' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      say(`Download failed: ${e.message}`, 'error');
    }
  }

  async function remove(name) {
    if (!(await confirmAction(`Delete object ${name} from ${store}?`, 'Delete object'))) return;
    try {
      await os.delete(name);
      say(`Deleted ${name}.`, 'ok');
      detail.replaceChildren();
      load();
    } catch (e) {
      say(`Delete failed: ${e.message}`, 'error');
    }
  }

  async function load() {
    const entries = (await os.list()).filter((e) => !e.deleted);
    list.replaceChildren(entries.length
      ? table(['Name', 'Size', 'Modified'], entries.map((e) => h('tr', {},
        h('td', {}, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); show(e); } }, e.name)),
        h('td', { class: 'n' }, bytes(e.size)), h('td', {}, new Date(e.mtime).toLocaleString()))), { id: 'objects' })
      : h('p', { class: 'empty' }, 'No objects.'));
  }

  (async () => {
    try {
      os = await new Objm(source.js).open(store);
      const st = await os.status();
      status.replaceChildren(facts([['Size', bytes(st.size)], ['Storage', st.storage], ['Sealed', st.sealed ? 'yes' : 'no'],
        ['Stream', h('a', { href: link(`/s/OBJ_${encodeURIComponent(store)}`) }, `OBJ_${store}`)]]));
      await load();
    } catch (e) {
      status.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  })();
  return root;
}
