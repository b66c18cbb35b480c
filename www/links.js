// Sync as a server sees it: its outbound links (Contrail's `/linkz`: state, since, reconnects,
// last error, the far server, traffic) and, for each stream that is a mirror or has sources,
// where it copies from and how far behind it is (StreamInfo's `mirror` and `sources`: lag,
// last contact, error). The overview shows both; a stream's page shows its own with a lag bar.

import { h, num, bytes, bar, duration, ago, table } from './ui.js';
import { every } from './live.js';
import { serverMonitoring } from './source.js';
import { link } from './app.js';

/**
 * The overview's "Links" and "Mirrors and sources" panel. `streams()` gives the latest stream
 * infos (the overview reads them once a second already). Hidden while there is nothing to show.
 */
export function syncOverview(source, streams) {
  const links = h('div', { class: 'scroll' });
  const copies = h('div', { class: 'scroll' });
  const linksBox = h('section', { hidden: true, 'aria-labelledby': 'h-links' }, h('h3', { id: 'h-links' }, 'Links to other servers'), links);
  const copiesBox = h('section', { hidden: true, 'aria-labelledby': 'h-copies' }, h('h3', { id: 'h-copies' }, 'Mirrors and sources'), copies);
  const el = h('div', { class: 'sync' }, linksBox, copiesBox);
  if (source.kind === 'server') {
    every(1000, async () => {
      // Contrail's /linkz, when the page is served by the server it is connected to.
      const list = (await serverMonitoring(source, '/linkz'))?.links;
      linksBox.hidden = !list?.length;
      if (list?.length && !links.contains(document.activeElement)) links.replaceChildren(linksTable(list));
    });
  }
  every(1000, () => {
    const rows = [];
    for (const si of streams()) {
      for (const [role, s] of originsOf(si)) rows.push(copyRow(si, role, s));
    }
    copiesBox.hidden = rows.length === 0;
    if (rows.length && !copies.contains(document.activeElement)) {
      copies.replaceChildren(table(['Stream', 'Kind', 'From', 'Through', 'Lag', 'Last contact', 'Error'], rows, { id: 'mirrors' }));
    }
  });
  return el;
}

function linksTable(list) {
  return table(['Name', 'URL', 'State', 'Since', 'Reconnects', 'Last error', 'Far server', 'Messages in / out', 'Bytes in / out'],
    list.map((l) => h('tr', { dataset: { link: l.name } },
      h('td', {}, l.name, l.domain ? h('small', {}, ` domain ${l.domain}`) : null),
      h('td', {}, l.url),
      h('td', { dataset: { field: 'state' } }, h('span', { class: `state ${l.state}` }, l.state)),
      h('td', { title: l.since ?? '' }, l.since ? ago(new Date(l.since)) : '–'),
      h('td', { class: 'n', dataset: { field: 'reconnects' } }, num(l.reconnects)),
      h('td', { class: 'error', dataset: { field: 'last-error' } }, l.last_error ?? ''),
      h('td', { dataset: { field: 'far-server' } }, [l.server_name || l.server_id, l.version].filter(Boolean).join(' ') || '–'),
      h('td', { class: 'n' }, `${num(l.in_msgs)} / ${num(l.out_msgs)}`),
      h('td', { class: 'n' }, `${bytes(l.in_bytes)} / ${bytes(l.out_bytes)}`))),
  { id: 'links' });
}

/** `[role, sourceInfo]` for a stream's mirror and each of its sources. */
export function originsOf(si) {
  const out = [];
  if (si.mirror) out.push(['mirror', si.mirror]);
  for (const s of si.sources ?? []) out.push(['source', s]);
  return out;
}

/** Where a mirror or source is read: the domain (from `$JS.<domain>.API`) or the API prefix. */
function through(s) {
  const api = s.external?.api;
  if (!api) return 'this server';
  const domain = /^\$JS\.(.+)\.API$/.exec(api)?.[1];
  return domain ? `domain ${domain}` : api;
}

/** Time since the origin was last heard from (`active` is nanoseconds; -1: never). */
function contact(s) {
  return typeof s.active === 'number' && s.active >= 0 ? `${duration(s.active)} ago` : 'never';
}

function errorText(e) {
  if (!e) return '';
  return typeof e === 'string' ? e : e.description ?? JSON.stringify(e);
}

function copyRow(si, role, s) {
  const name = si.config.name;
  return h('tr', { dataset: { stream: name, origin: s.name } },
    h('td', {}, h('a', { href: link(`/s/${encodeURIComponent(name)}`) }, name)),
    h('td', {}, role),
    h('td', {}, s.name, s.filter_subject ? h('small', {}, ` ${s.filter_subject}`) : null),
    h('td', {}, through(s)),
    h('td', { class: 'n', dataset: { field: 'lag' } }, num(s.lag ?? 0)),
    h('td', { dataset: { field: 'active' } }, contact(s)),
    h('td', { class: 'error', dataset: { field: 'error' } }, errorText(s.error)));
}

/** A stream page's mirror and sources, each with a lag bar; empty when it has neither. */
export function streamOrigins(si) {
  const origins = originsOf(si);
  if (!origins.length) return null;
  const copied = si.state.messages;
  return table(['Kind', 'From', 'Through', 'Lag', 'Last contact', 'Error'],
    origins.map(([role, s]) => {
      const lag = s.lag ?? 0;
      return h('tr', { dataset: { origin: s.name } },
        h('td', {}, role),
        h('td', {}, s.name, s.filter_subject ? h('small', {}, ` ${s.filter_subject}`) : null),
        h('td', {}, through(s)),
        h('td', {}, h('span', { class: 'usage' },
          bar([{ value: copied, class: 'ok' }, { value: lag, class: 'hot' }], copied + lag, `${num(lag)} behind the origin`),
          h('small', { dataset: { field: 'lag' } }, num(lag)))),
        h('td', { dataset: { field: 'active' } }, contact(s)),
        h('td', { class: 'error', dataset: { field: 'error' } }, errorText(s.error)));
    }), { id: 'stream-origins' });
}
