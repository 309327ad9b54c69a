// Keeps a view current: opens the event stream for it, shows the stream's
// state in the header, and while the stream is down (a restarting server, a
// proxy that cuts it) re-reads the view every few seconds instead, so the
// page is never silently stale. Also the coalescing refresher views use so
// that a burst of events costs one request, never one per event.

import { EventStream } from './stream.js';

const LABELS = {
  connecting: 'Connecting…',
  live: 'Live',
  offline: 'Offline: polling',
  denied: 'Signed out',
};

function showStatus(status) {
  const badge = document.getElementById('live');
  if (!badge) return;
  badge.hidden = false;
  badge.dataset.status = status;
  badge.textContent = LABELS[status] || status;
}

// query: the stream's filter ('', '?batch=ID', '?job=ID'); onEvent(type,
// data); resync(): re-read everything. Returns a function that stops it all.
export function watch({ query = '', onEvent, resync, pollMs = 5000 }) {
  let poller = null;
  const stream = new EventStream({
    query,
    onEvent,
    onResync: resync,
    onStatus(status) {
      showStatus(status);
      clearInterval(poller);
      poller = null;
      if (status === 'offline') poller = setInterval(resync, pollMs);
    },
  }).start();
  return () => {
    stream.close();
    clearInterval(poller);
  };
}

// Wraps an async `load`: run() asks for a run; runs never overlap, calls that
// arrive meanwhile are folded into one more run after it, and runs are at
// least `gapMs` apart. stop() ends it (a run under way finishes unseen).
export function refresher(load, gapMs = 400) {
  let running = false;
  let again = false;
  let stopped = false;
  let timer = null;
  let last = 0;
  async function go() {
    timer = null;
    if (stopped) return;
    running = true;
    again = false;
    last = Date.now();
    try {
      await load();
    } catch (error) {
      console.warn('refresh failed:', error);
    } finally {
      running = false;
    }
    if (again && !stopped) schedule();
  }
  function schedule() {
    if (timer !== null) return;
    timer = setTimeout(go, Math.max(0, last + gapMs - Date.now()));
  }
  return {
    run() {
      if (stopped) return;
      if (running) again = true;
      else schedule();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
