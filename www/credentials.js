// Credentials for servers that ask for them: the form that asks (the main connection's and the
// uploads' alike) and what this page signed in with, by server URL, so the uploads to a server
// the dashboard is signed in to go on without asking again. Kept in this page's memory only
// (never localStorage or IndexedDB): a reload forgets them, as it forgets the main connection's.

import { h, formDialog, field } from './ui.js';

/** Server URL (as the package names it: `getServer()`, an upload's `server`) → `{user, pass}` or `{token}`. */
const signedIn = new Map();

/** Asks for a user and password, or a token; resolves to them, or null when cancelled. */
export function askCredentials(describe, why = '') {
  return formDialog(`${describe} asks for credentials`, () => h('div', {},
    why ? h('p', { class: 'error' }, why) : null,
    field('User', h('input', { name: 'user', autocomplete: 'username', id: 'cred-user' })),
    field('Password', h('input', { name: 'pass', type: 'password', autocomplete: 'current-password', id: 'cred-pass' })),
    field('or token', h('input', { name: 'token', type: 'password', id: 'cred-token' }))),
  (f) => {
    const [user, pass, token] = ['user', 'pass', 'token'].map((k) => f.elements[k].value);
    if (token) return { token };
    if (!user) throw new Error('Give a user and password, or a token.');
    return { user, pass };
  }, 'Connect');
}

/** Whether `creds` carries anything a server could check. */
const given = (creds) => !!(creds?.token || creds?.user);

/** Keeps (in memory) the credentials a connection to `server` was accepted with. */
export function rememberCredentials(server, creds) {
  if (given(creds)) signedIn.set(server, creds);
}

/** The credentials this page signed in to `server` with, if any. */
export function credentialsFor(server) {
  return signedIn.get(server);
}

/** Forgets `server`'s credentials when they were `creds` (the server refused them). */
export function forgetCredentials(server, creds) {
  if (signedIn.get(server) === creds) signedIn.delete(server);
}
