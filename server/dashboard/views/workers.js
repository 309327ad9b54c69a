// The render nodes (#/workers): every worker the server has seen, with its
// status (busy, idle, lost), tags, when it was last seen and the jobs it
// holds. Re-read on claims and ends from the stream, and every few seconds
// (last seen moves without any event).

import { get } from '../api.js';
import { h, fill } from '../dom.js';
import { formatTime } from '../format.js';
import { watch, refresher } from '../live.js';
import { jobLink } from '../widgets.js';

const POLL_MS = 5000;

export function mount(main) {
  const tbody = h('tbody', { testid: 'workers-body' });
  const status = h('p', { class: 'loading', testid: 'workers-loading', role: 'status' }, 'Loading workers…');
  fill(main,
    h('div', { class: 'view-head' }, h('h1', {}, 'Workers')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'jobs', testid: 'workers-table' },
      h('thead', {}, h('tr', {}, ['Worker', 'Status', 'Tags', 'Last seen', 'Lease', 'Jobs']
        .map((t) => h('th', { scope: 'col' }, t)))),
      tbody)),
    status);

  function show(workers) {
    status.hidden = workers.length > 0;
    status.className = 'muted';
    status.textContent = 'No worker has claimed a job yet.';
    fill(tbody, workers.map((worker) => {
      const row = h('tr', { testid: 'worker-row' },
        h('td', { class: 'mono' }, worker.name),
        h('td', {}, h('span', { class: `badge worker-${worker.status}`, testid: 'worker-status' }, worker.status)),
        h('td', {}, worker.tags.length ? worker.tags.join(', ') : '—'),
        h('td', { class: 'time', title: worker.lastSeen }, formatTime(worker.lastSeen)),
        h('td', { class: 'num' }, `${worker.leaseSeconds} s`),
        h('td', {}, worker.jobs.length
          ? worker.jobs.map((id, i) => [i ? ', ' : '', jobLink(id, { short: true })]) : '—'));
      row.dataset.worker = worker.name;
      return row;
    }));
  }

  const refresh = refresher(async () => {
    try {
      show((await get('/workers')).workers);
    } catch (error) {
      status.hidden = false;
      status.className = 'error';
      status.textContent = `Could not list workers: ${error.message}`;
    }
  }, 1000);
  refresh.run();
  const timer = setInterval(() => refresh.run(), POLL_MS);
  const stop = watch({
    resync: () => refresh.run(),
    onEvent: (type) => { if (type === 'transition') refresh.run(); },
  });
  return {
    unmount() {
      stop();
      refresh.stop();
      clearInterval(timer);
    },
  };
}
