// A consumer's page: its position, what it still owes and what waits for acks (live), its
// configuration, and deleting it.

import { h, num, duration, facts, say } from './ui.js';
import { every } from './live.js';
import { link } from './app.js';
import { lagBar } from './stream.js';
import { deleteConsumer } from './actions.js';

export function consumerPage(source, stream, name) {
  const state = h('div');
  const config = h('div');
  const root = h('div', { class: 'consumer' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: link('/') }, 'Streams'), ' / ', h('a', { href: link(`/s/${encodeURIComponent(stream)}`) }, stream), ' / '),
    h('div', { class: 'title' }, h('h2', { tabindex: -1 }, name),
      h('div', { class: 'actions' }, h('button', { class: 'danger', id: 'delete-consumer', onclick: () => deleteConsumer(source, stream, name) }, 'Delete…'))),
    state,
    h('h3', {}, 'Configuration'), config);
  every(2000, async () => {
    let c;
    let si;
    try {
      [c, si] = await Promise.all([source.jsm.consumers.info(stream, name), source.jsm.streams.info(stream)]);
    } catch (e) {
      say(`${stream} / ${name}: ${e.message}`, 'error');
      state.replaceChildren(h('p', { class: 'empty' }, e.message));
      return;
    }
    const lag = c.num_pending + c.num_ack_pending;
    state.replaceChildren(facts([
      ['Lag', lagBar(c, si.state, lag)],
      ['Pending (not delivered)', h('span', { id: 'consumer-pending' }, num(c.num_pending))],
      ['Ack pending', num(c.num_ack_pending)],
      ['Redelivered', num(c.num_redelivered)],
      ['Waiting pulls', num(c.num_waiting)],
      ['Delivered up to', `stream #${num(c.delivered?.stream_seq ?? 0)} (consumer #${num(c.delivered?.consumer_seq ?? 0)})`],
      ['Acked up to', `stream #${num(c.ack_floor?.stream_seq ?? 0)}`],
      ['Last active', c.delivered?.last_active ? new Date(c.delivered.last_active).toLocaleString() : '–'],
      ['Created', new Date(c.created).toLocaleString()],
    ]));
    const k = c.config;
    const text = JSON.stringify(k);
    if (config.dataset.rendered !== text) {
      config.dataset.rendered = text;
      config.replaceChildren(facts([
        ['Kind', k.deliver_subject ? `push to ${k.deliver_subject}` : 'pull'],
        ['Durable', k.durable_name ?? '(ephemeral)'],
        ['Filter', k.filter_subject || (k.filter_subjects ?? []).join(', ') || '(every subject)'],
        ['Deliver policy', k.deliver_policy + (k.opt_start_seq ? ` from #${k.opt_start_seq}` : '') + (k.opt_start_time ? ` from ${k.opt_start_time}` : '')],
        ['Ack policy', k.ack_policy],
        ['Ack wait', duration(k.ack_wait)],
        ['Max deliveries', k.max_deliver > 0 ? num(k.max_deliver) : 'unlimited'],
        ['Max ack pending', k.max_ack_pending > 0 ? num(k.max_ack_pending) : 'unlimited'],
        ['Backoff', (k.backoff ?? []).map((b) => duration(b)).join(', ') || 'none'],
        ['Replay', k.replay_policy],
      ]), h('details', {}, h('summary', {}, 'JSON'), h('pre', {}, JSON.stringify(k, null, 2))));
    }
  }, {
    view: 'consumer',
    // Its stream changed or went, or it did (created, deleted, a message terminated or given up).
    on: (a) => a.data?.stream === stream && (a.kind === 'stream_action' || a.data?.consumer === name),
  });
  return root;
}
