// Hash routes: #/jobs?…, #/jobs/<id>, #/batches/<id>, #/workers. Reads the
// hash into {name, id, params} and calls the listener on every change; the
// page never reloads, and the back button works.

const ROUTES = [
  { name: 'jobs', pattern: /^\/jobs\/?$/ },
  { name: 'job', pattern: /^\/jobs\/([^/?]+)$/ },
  { name: 'batch', pattern: /^\/batches\/([^/?]+)$/ },
  { name: 'workers', pattern: /^\/workers\/?$/ },
];

export function currentRoute() {
  const hash = window.location.hash.replace(/^#/, '') || '/jobs';
  const mark = hash.indexOf('?');
  const path = mark < 0 ? hash : hash.slice(0, mark);
  const params = new URLSearchParams(mark < 0 ? '' : hash.slice(mark + 1));
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (match) return { name: route.name, id: match[1] ? decodeURIComponent(match[1]) : null, params };
  }
  return { name: 'missing', id: null, params, path };
}

// '#/jobs?states=queued' from a path and an object of parameters (empty
// values left out).
export function href(path, params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

export function navigate(hash) {
  if (window.location.hash === hash) return;
  window.location.hash = hash;
}

// Hashes that are no route ('#top') are left to the browser.
export function onRouteChange(listener) {
  window.addEventListener('hashchange', () => {
    const hash = window.location.hash;
    if (hash === '' || hash.startsWith('#/')) listener(currentRoute());
  });
}
