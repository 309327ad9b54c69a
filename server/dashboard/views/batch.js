// One batch (#/batches/<id>): its top-level jobs counted by state (a stacked
// bar and a count per state that add up to the total, as the API counts
// them from one snapshot), the jobs themselves, and the batch's actions:
// cancel, suspend, resume, retry what failed, each confirmed first.

import { get, post } from '../api.js';
import { h, fill, setText } from '../dom.js';
import { STATES, stateClass, stateLabel } from '../format.js';
import { watch, refresher } from '../live.js';
import { confirmAction } from '../dialog.js';
import { notify } from '../notice.js';
import { stateBadge, jobLink } from '../widgets.js';

export function mount(main, route) {
  const id = route.id;
  let batch = null;

  const total = h('span', { testid: 'batch-total' }, '…');
  const statusBadge = h('span', { class: 'badge', testid: 'batch-status' });
  const stacked = h('div', { class: 'stacked', testid: 'batch-bar', role: 'img', 'aria-label': 'Jobs by state' });
  const counts = h('ul', { class: 'counts', testid: 'batch-counts' });
  const segments = new Map();
  const countCells = new Map();
  for (const state of STATES) {
    const segment = h('span', { class: `segment ${stateClass(state)}`, testid: 'batch-segment' });
    segment.dataset.state = state;
    segments.set(state, segment);
    stacked.append(segment);
    const number = h('span', { class: 'count-number', testid: 'batch-count' }, '0');
    number.dataset.state = state;
    countCells.set(state, number);
    counts.append(h('li', { class: 'count' },
      h('span', { class: `swatch ${stateClass(state)}`, 'aria-hidden': 'true' }), number,
      h('span', { class: 'count-label' }, stateLabel(state))));
  }
  const tbody = h('tbody', { testid: 'batch-jobs' });
  const status = h('p', { class: 'loading', testid: 'batch-loading', role: 'status' }, 'Loading the batch…');

  const batchAction = (name, label, danger, ask, call) => h('button', {
    type: 'button', testid: `batch-${name}`, class: danger ? 'danger-outline' : '',
    onclick: async () => {
      if (!batch) return;
      const target = call(batch);
      if (!target) return;
      if (!(await confirmAction({ title: `${label}`, message: [ask(batch), id], confirmLabel: label, danger }))) return;
      try {
        notify(await target());
      } catch (error) {
        notify(`${label} failed: ${error.message}`, 'error');
      }
      refresh.run();
    },
  }, label);

  const failedIds = (b) => b.jobs.filter((j) => j.status === 'error' || j.status === 'manually_cancelled').map((j) => j.id);
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Batch actions' },
    batchAction('cancel', 'Cancel batch', true,
      (b) => `Cancel every queued or pending job of this batch (${b.stats.pending} not ended)? Rendering jobs go on.`,
      () => async () => {
        const answer = await post(`/batches/${id}/cancel`);
        return `Batch: ${answer.cancelledCount} cancelled, ${answer.skippedCount} left as they were.`;
      }),
    batchAction('suspend', 'Suspend batch', false,
      () => 'Hold every queued or pending job of this batch until resumed?',
      () => async () => `${(await post(`/batches/${id}/suspend`)).jobs.length} jobs suspended.`),
    batchAction('resume', 'Resume batch', false,
      () => 'Let every held job of this batch be rendered again?',
      () => async () => `${(await post(`/batches/${id}/resume`)).jobs.length} jobs resumed.`),
    batchAction('retry', 'Retry failed', false,
      (b) => `Retry the ${failedIds(b).length} jobs of this batch that ended in error or were cancelled?`,
      (b) => {
        const ids = failedIds(b);
        if (!ids.length) {
          notify('No job of this batch ended in error or was cancelled.', 'error');
          return null;
        }
        return async () => `${(await post('/jobs/retry', { jobs: ids })).length} jobs retried.`;
      }));

  fill(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', 'Batch'),
    h('div', { class: 'view-head' }, h('h1', { class: 'mono', testid: 'batch-id' }, id), statusBadge, actions),
    status,
    h('section', { class: 'card', 'aria-labelledby': 'h-progress' },
      h('h2', { id: 'h-progress' }, 'Progress by state: ', total, ' jobs'), stacked, counts),
    h('section', { class: 'card', 'aria-labelledby': 'h-jobs' },
      h('h2', { id: 'h-jobs' }, 'Jobs'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'jobs' },
        h('thead', {}, h('tr', {}, ['#', 'Job', 'State', 'Output'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody))));

  function show(next) {
    batch = next;
    status.hidden = true;
    const byState = next.stats.byState || {};
    setText(total, String(next.stats.total));
    setText(statusBadge, next.status);
    statusBadge.dataset.status = next.status;
    for (const state of STATES) {
      const n = byState[state] || 0;
      setText(countCells.get(state), String(n));
      const segment = segments.get(state);
      segment.style.width = next.stats.total ? `${(100 * n) / next.stats.total}%` : '0%';
      segment.hidden = n === 0;
      segment.title = `${stateLabel(state)}: ${n}`;
    }
    stacked.setAttribute('aria-label', STATES.map((s) => `${stateLabel(s)} ${byState[s] || 0}`).join(', '));
    fill(tbody, next.jobs.map((job) => {
      const row = h('tr', { testid: 'batch-job-row' },
        h('td', { class: 'num' }, String(job.index)),
        h('td', {}, jobLink(job.id)),
        h('td', {}, stateBadge(job.status)),
        h('td', { class: 'mono' }, job.outputUrl || '—'));
      row.dataset.jobId = job.id;
      row.dataset.state = job.status;
      return row;
    }));
  }

  const refresh = refresher(async () => {
    try {
      show(await get(`/batches/${encodeURIComponent(id)}`));
    } catch (error) {
      status.hidden = false;
      status.className = 'error';
      status.textContent = error.status === 404 || error.status === 400
        ? `No batch ${id} in your team.` : `Could not read the batch: ${error.message}`;
    }
  }, 400);
  refresh.run();
  const stop = watch({
    query: `?batch=${encodeURIComponent(id)}`,
    resync: () => refresh.run(),
    onEvent: (type) => { if (type === 'transition') refresh.run(); },
  });
  return {
    unmount() {
      stop();
      refresh.stop();
    },
  };
}
