// The dashboard: one source at a time (a server over WebSocket, or a database of this browser),
// views chosen by the URL's hash so the back button, bookmarks and links work:
//   #/                    overview: streams, KV buckets, object stores, server health
//   #/s/NAME              a stream: state, config, consumers, subjects, messages
//   #/s/NAME/c/CONSUMER   a consumer
//   #/kv/BUCKET, #/obj/STORE
// The source is in the query: `?server=ws://host:port` or `?db=NAME`. Without either, the page
// reads the server that serves it (its /varz names the WebSocket port), or else this browser's
// "contrail" database.

import { h, say } from './ui.js';
import { Source, ownServer, localDatabases } from './source.js';
import { askCredentials, rememberCredentials } from './credentials.js';
import { advise, leaveView } from './live.js';
import { overview } from './overview.js';
import { streamPage } from './stream.js';
import { consumerPage } from './consumer.js';
import { kvPage, objPage } from './buckets.js';

const app = { source: null, opening: null };
const main = () => document.getElementById('view');

/** Opens a source (closing the one before) and shows the current route on it. */
async function use(make, describe) {
  leaveView();
  const old = app.source;
  app.source = null;
  await old?.close();
  say(`Connecting to ${describe}…`);
  try {
    app.source = await make();
    say(`Connected: ${app.source.label}.`, 'ok');
    document.getElementById('source-kind').textContent = app.source.kind === 'server' ? 'server' : 'local';
    watchStatus(app.source);
    app.source.watchAdvisories(advise);
    route();
  } catch (e) {
    if (e?.name === 'AuthorizationError' && make.withCredentials) {
      // Credentials are asked for and kept in this page's memory only (credentials.js).
      const creds = await askCredentials(describe);
      if (creds) return use(make.withCredentials(creds), describe);
    }
    say(`Cannot open ${describe}: ${e.message}`, 'error');
    main().replaceChildren(h('p', { class: 'empty' }, 'Pick a server or a local database above.'));
  }
}

/**
 * A server connection that can be retried with credentials; those it is accepted with are kept
 * in memory, so uploads to the same server (uploads.js) go on without asking again.
 */
function serverSource(url, creds = {}) {
  const make = async () => {
    const source = await Source.server(url, creds);
    rememberCredentials(source.nc.getServer(), creds);
    return source;
  };
  make.withCredentials = (again) => serverSource(url, again);
  return make;
}

/** Shows the connection's disconnects and reconnects in the banner. */
async function watchStatus(source) {
  if (source.kind !== 'server' || typeof source.nc.status !== 'function') return;
  for await (const s of source.nc.status()) {
    if (app.source !== source) return;
    if (s.type === 'disconnect' || s.type === 'reconnecting') say(`Disconnected from ${source.where}; reconnecting…`, 'error');
    else if (s.type === 'reconnect') {
      say(`Connected: ${source.label}.`, 'ok');
      route();
    } else if (s.type === 'close') say(`Connection to ${source.where} closed.`, 'error');
  }
}

/** Renders the view the hash names. */
export function route() {
  leaveView();
  const source = app.source;
  const view = main();
  if (!source) return;
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  let render;
  if (parts[0] === 's' && parts[1] && parts[2] === 'c' && parts[3]) render = consumerPage(source, parts[1], parts[3]);
  else if (parts[0] === 's' && parts[1]) render = streamPage(source, parts[1], params);
  else if (parts[0] === 'kv' && parts[1]) render = kvPage(source, parts[1]);
  else if (parts[0] === 'obj' && parts[1]) render = objPage(source, parts[1]);
  else render = overview(source);
  view.replaceChildren(render);
  // Moving to a new view moves the focus with it (keyboard and screen-reader users).
  view.querySelector('h2')?.focus({ preventScroll: false });
}

/** Links between views keep the page's query (its source). */
export function link(hash) {
  return `${location.search}#${hash}`;
}

function setQuery(key, value) {
  history.replaceState(null, '', `?${key}=${encodeURIComponent(value)}${location.hash}`);
}

async function start() {
  const params = new URLSearchParams(location.search);
  const dbs = await localDatabases();
  document.getElementById('db-list').replaceChildren(...dbs.map((d) => h('option', { value: d })));
  document.getElementById('server-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const url = document.getElementById('server-url').value.trim();
    if (!url) return;
    setQuery('server', url);
    use(serverSource(url), url);
  });
  document.getElementById('db-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = document.getElementById('db-name').value.trim();
    if (!name) return;
    setQuery('db', name);
    use(() => Source.local(name), `database "${name}"`);
  });
  window.addEventListener('hashchange', route);
  keyboard();
  const server = params.get('server') ?? (params.has('db') ? null : await ownServer());
  if (server) {
    document.getElementById('server-url').value = server;
    return use(serverSource(server), server);
  }
  const db = params.get('db') ?? 'contrail';
  document.getElementById('db-name').value = db;
  return use(() => Source.local(db), `database "${db}"`);
}

/**
 * Keys: `/` focuses the view's filter, `g` goes to the overview, `j`/`k` move through the rows
 * of the focused table (Enter opens the row's link), `[`/`]` page the message browser.
 */
function keyboard() {
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const typing = ev.target.closest?.('input, textarea, select, [contenteditable]');
    if (typing || document.querySelector('dialog[open]')) return;
    if (ev.key === '/') {
      const filter = document.querySelector('#view [data-filter]');
      if (filter) {
        ev.preventDefault();
        filter.focus();
      }
    } else if (ev.key === 'g') {
      location.hash = '#/';
    } else if (ev.key === 'j' || ev.key === 'k') {
      const links = [...document.querySelectorAll('#view tbody a')];
      if (!links.length) return;
      const at = links.indexOf(document.activeElement);
      const next = ev.key === 'j' ? Math.min(links.length - 1, at + 1) : Math.max(0, at - 1);
      links[next].focus();
      ev.preventDefault();
    } else if (ev.key === ']' || ev.key === '[') {
      document.querySelector(ev.key === ']' ? '#view [data-older]' : '#view [data-newer]')?.click();
    }
  });
}

start();
