// The dashboard's entry point: shows the sign-in form until a client token
// works, then the view the hash names (jobs, a job, a batch, workers),
// swapping views as the hash changes. Also the page-wide keys: / focuses the
// filter; Esc closes a dialog (the <dialog> does that itself).

import { getToken, clearToken, get } from './api.js';
import { h, fill } from './dom.js';
import { currentRoute, onRouteChange } from './router.js';
import * as login from './views/login.js';
import * as jobs from './views/jobs.js';
import * as job from './views/job.js';
import * as batch from './views/batch.js';
import * as workers from './views/workers.js';

const VIEWS = { jobs, job, batch, workers };

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signout = document.getElementById('signout');
const team = document.getElementById('team');
const live = document.getElementById('live');

let view = null;  // {name, id, handle: {update?, unmount}}

function unmount() {
  if (view && view.handle && view.handle.unmount) view.handle.unmount();
  view = null;
}

function showRoute(route) {
  if (!getToken()) {
    showLogin('');
    return;
  }
  if (view && view.name === route.name && view.id === route.id && view.handle.update) {
    view.handle.update(route);
    return;
  }
  unmount();
  const module = VIEWS[route.name];
  if (!module) {
    fill(main, h('h1', {}, 'Not found'),
      h('p', {}, 'No page here. ', h('a', { href: '#/jobs' }, 'Go to the jobs list.')));
    view = { name: route.name, id: null, handle: {} };
    return;
  }
  fill(main, h('p', { class: 'loading' }, 'Loading…'));
  view = { name: route.name, id: route.id, handle: module.mount(main, route) || {} };
  for (const link of nav.querySelectorAll('a')) {
    const current = link.getAttribute('href') === `#/${route.name === 'workers' ? 'workers' : 'jobs'}`;
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function showShell(signedIn) {
  nav.hidden = !signedIn;
  signout.hidden = !signedIn;
  if (!signedIn) {
    live.hidden = true;
    team.textContent = '';
  }
}

// The team's name from any job of it (the API has no "who am I"; a team with
// no job yet shows none).
async function showTeam() {
  try {
    const [first] = await get('/jobs?limit=1&minimal=true');
    team.textContent = first && first.team ? `team ${first.team}` : '';
  } catch {
    team.textContent = '';
  }
}

function showLogin(reason) {
  unmount();
  showShell(false);
  view = { name: 'login', id: null, handle: login.mount(main, {
    reason,
    onSignedIn() {
      view = null;
      signedIn();
    },
  }) };
}

function signedIn() {
  showShell(true);
  showTeam();
  if (['', '#', '#/'].includes(window.location.hash)) {
    history.replaceState(null, '', '#/jobs');  // no hashchange: shown just below
  }
  showRoute(currentRoute());
}

window.addEventListener('cascade:unauthorized', () => {
  if (!getToken()) return;
  clearToken();
  showLogin('The server no longer accepts this token (it may have restarted with new tokens). Sign in again.');
});

// Not a link to #main: the hash is the router's.
document.getElementById('skip').addEventListener('click', () => main.focus());

signout.addEventListener('click', () => {
  clearToken();
  showLogin('');
});

document.addEventListener('keydown', (event) => {
  if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable
    || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
  const filter = document.getElementById('filter');
  if (filter) {
    event.preventDefault();
    filter.focus();
    filter.select();
  }
});

onRouteChange((route) => {
  if (getToken()) showRoute(route);
});

if (getToken()) signedIn();
else showLogin('');
