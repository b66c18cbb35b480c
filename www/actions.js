// What the dashboard changes, each behind a confirmation that says exactly what will happen:
// create, edit and delete a stream, purge it (all, a subject, keep the newest N), delete a
// message, create and delete a consumer, publish a message with headers.

import { headers, Kvm, Objm } from '../pkg/index.js';
import { h, field, formDialog, confirmAction, say, num } from './ui.js';

const SECOND = 1e9;

/** A number input's value, or `fallback` when empty. */
function numberOf(form, name, fallback) {
  const v = form.elements[name].value.trim();
  if (v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name}: not a number`);
  return n;
}

/** The inputs of a stream's configuration, filled from `c`. */
function streamFields(c = {}, editing = false) {
  const sel = (name, options, value) => h('select', { name }, options.map((o) => h('option', { value: o, selected: o === value }, o)));
  const n = (name, value, placeholder = 'unlimited') => h('input', { name, type: 'number', value: value > 0 ? value : '', placeholder });
  return h('div', { class: 'grid' },
    field('Name', h('input', { name: 'name', required: true, value: c.name ?? '', readOnly: editing, pattern: '[^.*>\\s]+', id: 'stream-name' })),
    field('Subjects', h('input', { name: 'subjects', value: (c.subjects ?? []).join(' '), placeholder: 'orders.> payments.*', id: 'stream-subjects' }), 'space separated'),
    field('Storage', sel('storage', ['file', 'memory'], c.storage ?? 'file')),
    field('Retention', sel('retention', ['limits', 'interest', 'workqueue'], c.retention ?? 'limits')),
    field('Discard', sel('discard', ['old', 'new'], c.discard ?? 'old')),
    field('Max messages', n('max_msgs', c.max_msgs)),
    field('Max bytes', n('max_bytes', c.max_bytes)),
    field('Max age (seconds)', n('max_age', c.max_age ? c.max_age / SECOND : 0)),
    field('Max per subject', n('max_msgs_per_subject', c.max_msgs_per_subject)),
    field('Description', h('input', { name: 'description', value: c.description ?? '' })));
}

function readStream(form, base = {}) {
  const subjects = form.elements.subjects.value.split(/[\s,]+/).filter(Boolean);
  return {
    ...base,
    name: form.elements.name.value.trim(),
    subjects,
    storage: form.elements.storage.value,
    retention: form.elements.retention.value,
    discard: form.elements.discard.value,
    max_msgs: numberOf(form, 'max_msgs', -1),
    max_bytes: numberOf(form, 'max_bytes', -1),
    max_age: Math.round(numberOf(form, 'max_age', 0) * SECOND),
    max_msgs_per_subject: numberOf(form, 'max_msgs_per_subject', -1),
    description: form.elements.description.value.trim() || undefined,
  };
}

async function attempt(what, fn) {
  try {
    const r = await fn();
    say(what, 'ok');
    return r;
  } catch (e) {
    say(`${what.replace(/\.$/, '')} failed: ${e.message}`, 'error');
    return undefined;
  }
}

export async function createStream(source) {
  const cfg = await formDialog('New stream', () => streamFields(), (f) => readStream(f), 'Create…');
  if (!cfg) return;
  if (!(await confirmAction(`Create stream ${cfg.name}?`, 'Create', JSON.stringify(cfg, null, 2)))) return;
  const made = await attempt(`Created stream ${cfg.name}.`, () => source.jsm.streams.add(cfg));
  if (made) location.hash = `#/s/${encodeURIComponent(cfg.name)}`;
}

export async function editStream(source, info) {
  const cfg = await formDialog(`Edit ${info.config.name}`, () => streamFields(info.config, true), (f) => readStream(f, info.config), 'Save…');
  if (!cfg) return;
  const changed = Object.keys(cfg).filter((k) => JSON.stringify(cfg[k]) !== JSON.stringify(info.config[k]));
  if (!changed.length) return say('Nothing changed.');
  const summary = changed.map((k) => `${k}: ${JSON.stringify(info.config[k])} → ${JSON.stringify(cfg[k])}`).join('\n');
  if (!(await confirmAction(`Change stream ${cfg.name}?`, 'Save', summary))) return;
  await attempt(`Updated stream ${cfg.name}.`, () => source.jsm.streams.update(cfg.name, cfg));
}

export async function deleteStream(source, name) {
  if (!(await confirmAction(`Delete stream ${name} and every message and consumer in it? This cannot be undone.`, 'Delete stream'))) return;
  if (await attempt(`Deleted stream ${name}.`, () => source.jsm.streams.delete(name))) location.hash = '#/';
}

export async function purgeStream(source, name, after) {
  const opts = await formDialog(`Purge ${name}`, () => h('div', {},
    h('fieldset', {}, h('legend', {}, 'Remove'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'what', value: 'all', checked: true }), ' every message'),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'what', value: 'subject' }), ' messages on subject ', h('input', { name: 'filter', placeholder: 'orders.eu', id: 'purge-filter' })),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'what', value: 'keep' }), ' all but the newest ', h('input', { name: 'keep', type: 'number', min: 0, size: 6, id: 'purge-keep' })))),
  (f) => {
    const what = f.elements.what.value;
    if (what === 'subject') {
      const filter = f.elements.filter.value.trim();
      if (!filter) throw new Error('Name the subject to purge.');
      return { filter };
    }
    if (what === 'keep') return { keep: numberOf(f, 'keep', 0) };
    return {};
  }, 'Purge…');
  if (!opts) return;
  const text = opts.filter ? `every message on ${opts.filter}` : opts.keep !== undefined ? `all but the newest ${num(opts.keep)} messages` : 'every message';
  if (!(await confirmAction(`Purge ${text} from ${name}? This cannot be undone.`, 'Purge'))) return;
  const r = await attempt(`Purging ${name}.`, () => source.jsm.streams.purge(name, opts));
  if (r) {
    say(`Purged ${num(r.purged)} message(s) from ${name}.`, 'ok');
    after?.();
  }
}

export async function deleteMessage(source, stream, seq, after) {
  if (!(await confirmAction(`Delete message #${seq} from ${stream}?`, 'Delete message'))) return;
  if (await attempt(`Deleted message #${seq}.`, () => source.jsm.streams.deleteMessage(stream, seq))) after?.();
}

/** Publishes a message with headers (`Name: value` lines) to a subject of the stream. */
export async function publish(source, info, after) {
  const first = (info?.config.subjects ?? [])[0] ?? '';
  const msg = await formDialog('Publish a message', () => h('div', {},
    field('Subject', h('input', { name: 'subject', required: true, value: first.replace(/\.?[>*]$/, first.endsWith('>') || first.endsWith('*') ? '.test' : ''), id: 'pub-subject' })),
    field('Headers', h('textarea', { name: 'headers', rows: 2, placeholder: 'Nats-Msg-Id: 42', id: 'pub-headers' }), 'one "Name: value" per line'),
    field('Payload', h('textarea', { name: 'data', rows: 5, placeholder: '{"hello": "world"}', id: 'pub-data' }))),
  (f) => {
    const hdrs = headers();
    let any = false;
    for (const line of f.elements.headers.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf(':');
      if (at < 1) throw new Error(`Header "${line}" has no "Name: value".`);
      hdrs.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
      any = true;
    }
    return { subject: f.elements.subject.value.trim(), data: f.elements.data.value, headers: any ? hdrs : undefined, lines: f.elements.headers.value.trim() };
  }, 'Publish…');
  if (!msg) return;
  const details = `${msg.subject}\n${msg.lines ? msg.lines + '\n' : ''}\n${msg.data.slice(0, 500)}`;
  if (!(await confirmAction(`Publish to ${msg.subject}?`, 'Publish', details))) return;
  const ack = await attempt(`Publishing to ${msg.subject}.`, () => source.js.publish(msg.subject, msg.data, { headers: msg.headers }));
  if (ack) {
    say(`Published: ${ack.stream} #${ack.seq}${ack.duplicate ? ' (duplicate)' : ''}.`, 'ok');
    after?.();
  }
}

export async function createConsumer(source, stream) {
  const cfg = await formDialog(`New consumer on ${stream}`, () => h('div', { class: 'grid' },
    field('Durable name', h('input', { name: 'durable', required: true, id: 'consumer-name', pattern: '[^.*>\\s]+' })),
    field('Filter subject', h('input', { name: 'filter', placeholder: '(every subject)' })),
    field('Ack policy', h('select', { name: 'ack' }, ['explicit', 'all', 'none'].map((o) => h('option', { value: o }, o)))),
    field('Deliver', h('select', { name: 'deliver' }, ['all', 'new', 'last', 'last_per_subject'].map((o) => h('option', { value: o }, o)))),
    field('Max deliveries', h('input', { name: 'max_deliver', type: 'number', placeholder: 'unlimited' }))),
  (f) => {
    const c = { durable_name: f.elements.durable.value.trim(), ack_policy: f.elements.ack.value, deliver_policy: f.elements.deliver.value };
    const filter = f.elements.filter.value.trim();
    if (filter) c.filter_subject = filter;
    const md = numberOf(f, 'max_deliver', 0);
    if (md > 0) c.max_deliver = md;
    return c;
  }, 'Create…');
  if (!cfg) return;
  if (!(await confirmAction(`Create consumer ${cfg.durable_name} on ${stream}?`, 'Create', JSON.stringify(cfg, null, 2)))) return;
  await attempt(`Created consumer ${cfg.durable_name}.`, () => source.jsm.consumers.add(stream, cfg));
}

export async function deleteConsumer(source, stream, name) {
  if (!(await confirmAction(`Delete consumer ${name} of ${stream}? Its position and pending acks are lost.`, 'Delete consumer'))) return;
  if (await attempt(`Deleted consumer ${name}.`, () => source.jsm.consumers.delete(stream, name))) location.hash = `#/s/${encodeURIComponent(stream)}`;
}

export async function createBucket(source) {
  const opts = await formDialog('New key-value bucket', () => h('div', { class: 'grid' },
    field('Name', h('input', { name: 'name', required: true, id: 'bucket-name', pattern: '[A-Za-z0-9_\\-]+' })),
    field('History', h('input', { name: 'history', type: 'number', min: 1, max: 64, value: 1 }), 'values kept per key (1-64)'),
    field('Storage', h('select', { name: 'storage' }, ['file', 'memory'].map((o) => h('option', { value: o }, o))))),
  (f) => ({ name: f.elements.name.value.trim(), history: numberOf(f, 'history', 1), storage: f.elements.storage.value }), 'Create…');
  if (!opts || !(await confirmAction(`Create the key-value bucket ${opts.name} (stream KV_${opts.name})?`, 'Create'))) return;
  const { name, ...rest } = opts;
  if (await attempt(`Created bucket ${name}.`, () => new Kvm(source.js).create(name, rest))) location.hash = `#/kv/${encodeURIComponent(name)}`;
}

export async function createObjectStore(source) {
  const opts = await formDialog('New object store', () => h('div', {},
    field('Name', h('input', { name: 'name', required: true, id: 'store-name', pattern: '[A-Za-z0-9_\\-]+' }))),
  (f) => ({ name: f.elements.name.value.trim() }), 'Create…');
  if (!opts || !(await confirmAction(`Create the object store ${opts.name} (stream OBJ_${opts.name})?`, 'Create'))) return;
  if (await attempt(`Created object store ${opts.name}.`, () => new Objm(source.js).create(opts.name))) location.hash = `#/obj/${encodeURIComponent(opts.name)}`;
}

/** Uploads a file the user picks into object store `os`, streamed chunk by chunk. */
export async function uploadObject(os, store, after) {
  const picked = await formDialog(`Upload to ${store}`, () => h('div', {},
    field('File', h('input', { name: 'file', type: 'file', required: true, id: 'upload-file' })),
    field('Name', h('input', { name: 'name', placeholder: '(the file\'s name)' }))),
  (f) => {
    const file = f.elements.file.files[0];
    if (!file) throw new Error('Pick a file.');
    return { file, name: f.elements.name.value.trim() || file.name };
  }, 'Upload…');
  if (!picked || !(await confirmAction(`Upload ${picked.name} (${picked.file.size.toLocaleString('en-US')} bytes) to ${store}?`, 'Upload'))) return;
  if (await attempt(`Uploaded ${picked.name}.`, () => os.put({ name: picked.name }, picked.file.stream()))) after?.();
}
