// The jobs table of the jobs list: one row per job, kept in place across
// re-reads (a row is updated, never rebuilt, so focus and selection survive
// live updates), each row's actions, and the selection the bulk actions use.

import { h, fill, setText } from '../dom.js';
import { formatTime } from '../format.js';
import { ACTIONS, runJobAction } from '../actions.js';
import { stateBadge, setBadge, progressBar, setProgress, jobLink, batchLink } from '../widgets.js';

// onChanged(): an action took (the list re-reads); onSelection(count).
export function createJobTable({ onChanged, onSelection }) {
  const rows = new Map();  // id -> {row, job, check, badge, bar, cells, buttons}
  const selected = new Set();

  const selectAll = h('input', { type: 'checkbox', testid: 'select-all',
    'aria-label': 'Select every job on this page' });
  selectAll.addEventListener('change', () => {
    for (const id of rows.keys()) {
      if (selectAll.checked) selected.add(id);
      else selected.delete(id);
    }
    sync();
  });
  const tbody = h('tbody', { testid: 'jobs-body' });
  const element = h('table', { class: 'jobs', testid: 'jobs-table' },
    h('caption', { class: 'sr-only' }, 'Jobs'),
    h('thead', {}, h('tr', {},
      h('th', { class: 'col-select', scope: 'col' }, selectAll),
      ['Job', 'State', 'Progress', 'Tags', 'Batch', 'Attempts', 'Created', 'Actions']
        .map((title) => h('th', { scope: 'col' }, title)))),
    tbody);

  function makeRow(job) {
    const entry = {
      job,
      row: h('tr', { testid: 'job-row' }),
      check: h('input', { type: 'checkbox', testid: 'row-select', 'aria-label': `Select job ${job.id}` }),
      badge: stateBadge(job.status),
      bar: progressBar(job.progress, `Progress of ${job.id}`),
      tags: h('td', { class: 'tags', testid: 'job-tags' }),
      batch: h('td', {}),
      attempts: h('td', { class: 'num', testid: 'job-attempts' }),
      created: h('td', { class: 'time' }),
      buttons: new Map(),
    };
    entry.check.addEventListener('change', () => {
      if (entry.check.checked) selected.add(entry.job.id);
      else selected.delete(entry.job.id);
      sync();
    });
    const actions = h('div', { class: 'row-actions' });
    for (const action of ACTIONS) {
      const button = h('button', {
        type: 'button', class: `small${action.danger ? ' danger-outline' : ''}`,
        testid: `action-${action.name}`, 'aria-label': `${action.label} job ${job.id}`,
        onclick: async () => {
          if (await runJobAction(action, entry.job)) onChanged();
        },
      }, action.label);
      entry.buttons.set(action, button);
      actions.append(button);
    }
    entry.row.dataset.jobId = job.id;
    entry.row.append(
      h('td', { class: 'col-select' }, entry.check),
      h('td', {}, jobLink(job.id)),
      h('td', {}, entry.badge),
      h('td', {}, entry.bar),
      entry.tags, entry.batch, entry.attempts, entry.created, h('td', {}, actions));
    update(entry, job);
    return entry;
  }

  function update(entry, job) {
    entry.job = job;
    entry.row.dataset.state = job.status;
    setBadge(entry.badge, job.status);
    if (job.suspended) entry.badge.append(h('span', { class: 'flag' }, ' · held'));
    if (job.cancelRequested && job.status === 'render:dorender') {
      entry.badge.append(h('span', { class: 'flag' }, ' · aborting'));
    }
    setProgress(entry.bar, job.progress);
    setText(entry.tags, job.tags && job.tags.length ? job.tags.join(', ') : '—');
    if (entry.batch.dataset.batch !== (job.batchId || '')) {
      entry.batch.dataset.batch = job.batchId || '';
      fill(entry.batch, batchLink(job.batchId));
    }
    setText(entry.attempts, `${job.attempts}/${job.maxAttempts}`);
    setText(entry.created, formatTime(job.stats?.createdAt));
    entry.created.title = job.stats?.createdAt || '';
    for (const [action, button] of entry.buttons) button.hidden = !action.allowed(job);
  }

  function sync() {
    for (const [id, entry] of rows) entry.check.checked = selected.has(id);
    selectAll.checked = selected.size > 0 && selected.size === rows.size;
    selectAll.indeterminate = selected.size > 0 && selected.size < rows.size;
    onSelection(selected.size);
  }

  return {
    element,
    get size() {
      return rows.size;
    },

    // Shows exactly `jobs`, in their order, moving only rows that must move.
    render(jobs) {
      const seen = new Set();
      let previous = null;
      for (const job of jobs) {
        let entry = rows.get(job.id);
        if (entry) update(entry, job);
        else {
          entry = makeRow(job);
          rows.set(job.id, entry);
        }
        seen.add(job.id);
        const next = previous ? previous.nextSibling : tbody.firstChild;
        if (next !== entry.row) tbody.insertBefore(entry.row, next);
        previous = entry.row;
      }
      for (const [id, entry] of rows) {
        if (!seen.has(id)) {
          entry.row.remove();
          rows.delete(id);
          selected.delete(id);
        }
      }
      sync();
    },

    // An event of the stream, shown at once on its row (the re-read that
    // follows brings the rest of the job).
    apply(type, data) {
      const entry = rows.get(data.jobId);
      if (!entry) return;
      if (type === 'progress') {
        entry.job = { ...entry.job, progress: data.progress };
        setProgress(entry.bar, data.progress);
      } else if (type === 'transition' && data.to) {
        update(entry, { ...entry.job, status: data.to });
      }
    },

    selectedJobs() {
      return [...selected].map((id) => rows.get(id)?.job).filter(Boolean);
    },

    clearSelection() {
      selected.clear();
      sync();
    },
  };
}
