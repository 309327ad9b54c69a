// The jobs list (#/jobs): filters (state, tags, sort, page size) kept in the
// hash, paging by offset, rows kept in place and updated from the event
// stream (a new job appears, a row's state and progress bar move), a
// selection with bulk actions, and each row's own actions.

import { get, query } from '../api.js';
import { h, fill, setText } from '../dom.js';
import { formatTime } from '../format.js';
import { href, navigate } from '../router.js';
import { watch, refresher } from '../live.js';
import { ACTIONS, runJobAction, runBulkAction } from '../actions.js';
import { notify } from '../notice.js';
import { stateBadge, setBadge, progressBar, setProgress, jobLink, batchLink } from '../widgets.js';

const STATE_FILTERS = [
  ['', 'All states'],
  ['queued,pending,render:dorender', 'Not ended'],
  ['queued', 'Queued'],
  ['pending', 'Pending'],
  ['render:dorender', 'Rendering'],
  ['finished', 'Finished'],
  ['error', 'Error'],
  ['manually_cancelled', 'Cancelled'],
  ['error,manually_cancelled', 'Error or cancelled'],
];
const SORTS = [['newest_first', 'Newest first'], ['oldest_first', 'Oldest first'],
  ['priority', 'Priority']];
const SIZES = ['25', '50', '100'];
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

function filtersOf(params) {
  const limit = SIZES.includes(params.get('limit')) ? Number(params.get('limit')) : 25;
  const from = Math.max(0, Number.parseInt(params.get('from') || '0', 10) || 0);
  const sort = SORTS.some(([value]) => value === params.get('sort')) ? params.get('sort') : 'newest_first';
  return { states: params.get('states') || '', tags: params.get('tags') || '', sort, from, limit };
}

export function mount(main, route) {
  let filters = filtersOf(route.params);
  const rows = new Map();  // id -> {row, job, ...cells}
  const selected = new Set();

  // ---- Toolbar: filters and "open by id" ----
  const stateSelect = h('select', { id: 'filter-state', testid: 'filter-state' },
    STATE_FILTERS.map(([value, label]) => h('option', { value }, label)));
  const tagsInput = h('input', { id: 'filter', type: 'search', testid: 'filter-tags',
    placeholder: 'tags, e.g. promo,hd', 'aria-keyshortcuts': '/', autocomplete: 'off' });
  const sortSelect = h('select', { id: 'filter-sort', testid: 'filter-sort' },
    SORTS.map(([value, label]) => h('option', { value }, label)));
  const sizeSelect = h('select', { id: 'filter-size', testid: 'filter-size' },
    SIZES.map((size) => h('option', { value: size }, `${size} a page`)));
  const filterForm = h('form', { class: 'toolbar', role: 'search', testid: 'filters',
    'aria-label': 'Filter jobs' },
  h('label', { for: 'filter-state' }, 'State'), stateSelect,
  h('label', { for: 'filter' }, 'Tags'), tagsInput,
  h('label', { for: 'filter-sort' }, 'Sort'), sortSelect,
  h('label', { for: 'filter-size', class: 'sr-only' }, 'Page size'), sizeSelect,
  h('button', { type: 'submit' }, 'Apply'));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilters();
  });
  for (const select of [stateSelect, sortSelect, sizeSelect]) {
    select.addEventListener('change', applyFilters);
  }

  const findInput = h('input', { id: 'find-id', type: 'text', testid: 'find-id', class: 'mono',
    placeholder: 'job or batch id', autocomplete: 'off', spellcheck: 'false' });
  const findForm = h('form', { class: 'toolbar find', testid: 'find' },
    h('label', { for: 'find-id' }, 'Open'), findInput, h('button', { type: 'submit' }, 'Go'));
  findForm.addEventListener('submit', (event) => {
    event.preventDefault();
    openById(findInput.value.trim());
  });

  // ---- Selection and bulk actions ----
  const selectionCount = h('span', { testid: 'selection-count', class: 'muted' }, 'None selected');
  const bulkButtons = ACTIONS.map((action) => h('button', {
    type: 'button', testid: `bulk-${action.name}`, disabled: true,
    class: action.danger ? 'danger-outline' : '',
    onclick: async () => {
      const jobs = [...selected].map((id) => rows.get(id)?.job).filter(Boolean);
      if (await runBulkAction(action, jobs)) list.run();
    },
  }, `${action.label} selected`));
  const clearButton = h('button', { type: 'button', class: 'quiet', testid: 'bulk-clear', disabled: true,
    onclick: () => { selected.clear(); syncSelection(); } }, 'Clear selection');
  const bulkBar = h('div', { class: 'bulk', role: 'group', 'aria-label': 'Actions on selected jobs' },
    selectionCount, bulkButtons, clearButton);

  // ---- The table ----
  const selectAll = h('input', { type: 'checkbox', testid: 'select-all', 'aria-label': 'Select every job on this page' });
  selectAll.addEventListener('change', () => {
    for (const id of rows.keys()) {
      if (selectAll.checked) selected.add(id);
      else selected.delete(id);
    }
    syncSelection();
  });
  const tbody = h('tbody', { testid: 'jobs-body' });
  const table = h('table', { class: 'jobs', testid: 'jobs-table' },
    h('caption', { class: 'sr-only' }, 'Jobs'),
    h('thead', {}, h('tr', {},
      h('th', { class: 'col-select', scope: 'col' }, selectAll),
      ['Job', 'State', 'Progress', 'Tags', 'Batch', 'Attempts', 'Created', 'Actions']
        .map((title) => h('th', { scope: 'col' }, title)))),
    tbody);
  const message = h('p', { class: 'loading', testid: 'jobs-loading', role: 'status' }, 'Loading jobs…');

  // ---- Paging ----
  const prevButton = h('button', { type: 'button', testid: 'page-prev', onclick: () => page(-1) }, '← Previous');
  const nextButton = h('button', { type: 'button', testid: 'page-next', onclick: () => page(1) }, 'Next →');
  const range = h('span', { testid: 'page-range', class: 'muted' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' }, prevButton, range, nextButton);

  fill(main,
    h('div', { class: 'view-head' }, h('h1', {}, 'Jobs'), findForm),
    filterForm, bulkBar,
    h('div', { class: 'table-wrap' }, table), message, pager);

  function showFilters() {
    stateSelect.value = STATE_FILTERS.some(([value]) => value === filters.states) ? filters.states : '';
    if (document.activeElement !== tagsInput) tagsInput.value = filters.tags;
    sortSelect.value = filters.sort;
    sizeSelect.value = String(filters.limit);
  }

  function applyFilters() {
    navigate(href('/jobs', {
      states: stateSelect.value, tags: tagsInput.value.trim().replace(/\s+/g, ''),
      sort: sortSelect.value === 'newest_first' ? '' : sortSelect.value,
      limit: sizeSelect.value === '25' ? '' : sizeSelect.value,
    }));
  }

  function page(direction) {
    const from = Math.max(0, filters.from + direction * filters.limit);
    navigate(href('/jobs', {
      states: filters.states, tags: filters.tags,
      sort: filters.sort === 'newest_first' ? '' : filters.sort,
      limit: filters.limit === 25 ? '' : filters.limit, from: from || '',
    }));
  }

  async function openById(id) {
    if (!ULID.test(id)) {
      notify(`'${id}' is not a job or batch id (26 letters and digits).`, 'error');
      return;
    }
    const upper = id.toUpperCase();
    try {
      await get(`/jobs/${upper}`);
      navigate(`#/jobs/${upper}`);
      return;
    } catch (error) {
      if (error.status !== 404) {
        notify(error.message, 'error');
        return;
      }
    }
    try {
      await get(`/batches/${upper}`);
      navigate(`#/batches/${upper}`);
    } catch (error) {
      notify(error.status === 404 ? `No job or batch ${upper} in your team.` : error.message, 'error');
    }
  }

  // ---- Rows ----
  function makeRow(job) {
    const check = h('input', { type: 'checkbox', testid: 'row-select', 'aria-label': `Select job ${job.id}` });
    const entry = {
      job, check,
      row: h('tr', { testid: 'job-row' }),
      badge: stateBadge(job.status),
      bar: progressBar(job.progress, `Progress of ${job.id}`),
      tags: h('td', { class: 'tags', testid: 'job-tags' }),
      batch: h('td', {}),
      attempts: h('td', { class: 'num', testid: 'job-attempts' }),
      created: h('td', { class: 'time' }),
      buttons: new Map(),
    };
    check.addEventListener('change', () => {
      if (check.checked) selected.add(entry.job.id);
      else selected.delete(entry.job.id);
      syncSelection();
    });
    const actionsBox = h('div', { class: 'row-actions' });
    for (const action of ACTIONS) {
      const button = h('button', {
        type: 'button', class: `small${action.danger ? ' danger-outline' : ''}`,
        testid: `action-${action.name}`, 'aria-label': `${action.label} job ${job.id}`,
        onclick: async () => {
          if (await runJobAction(action, entry.job)) list.run();
        },
      }, action.label);
      entry.buttons.set(action, button);
      actionsBox.append(button);
    }
    entry.row.dataset.jobId = job.id;
    entry.row.append(
      h('td', { class: 'col-select' }, check),
      h('td', {}, jobLink(job.id)),
      h('td', {}, entry.badge),
      h('td', {}, entry.bar),
      entry.tags, entry.batch, entry.attempts, entry.created, h('td', {}, actionsBox));
    updateRow(entry, job);
    return entry;
  }

  function updateRow(entry, job) {
    entry.job = job;
    entry.row.dataset.state = job.status;
    setBadge(entry.badge, job.status);
    if (job.suspended) entry.badge.append(h('span', { class: 'flag' }, ' · held'));
    if (job.cancelRequested && job.status === 'render:dorender') entry.badge.append(h('span', { class: 'flag' }, ' · aborting'));
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

  function render(jobs) {
    const seen = new Set();
    let previous = null;
    for (const job of jobs) {
      let entry = rows.get(job.id);
      if (entry) updateRow(entry, job);
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
    syncSelection();
  }

  function syncSelection() {
    for (const [id, entry] of rows) entry.check.checked = selected.has(id);
    const count = selected.size;
    setText(selectionCount, count ? `${count} selected` : 'None selected');
    for (const button of bulkButtons) button.disabled = count === 0;
    clearButton.disabled = count === 0;
    selectAll.checked = count > 0 && count === rows.size;
    selectAll.indeterminate = count > 0 && count < rows.size;
  }

  // ---- Loading ----
  async function load() {
    const wanted = filters;
    let jobs;
    try {
      jobs = await get(`/jobs${query({
        states: wanted.states, tags: wanted.tags, sort: wanted.sort, from: wanted.from,
        limit: wanted.limit + 1,
      })}`);
    } catch (error) {
      if (wanted !== filters) return;
      message.hidden = false;
      message.className = 'error';
      message.setAttribute('data-testid', 'jobs-error');
      message.textContent = `Could not list jobs: ${error.message}`;
      render([]);
      return;
    }
    if (wanted !== filters) return;  // the filters changed meanwhile; that load follows
    const more = jobs.length > wanted.limit;
    render(jobs.slice(0, wanted.limit));
    message.className = 'muted';
    message.setAttribute('data-testid', 'jobs-empty');
    message.textContent = wanted.from > 0 ? 'No jobs on this page.' : 'No jobs match these filters.';
    message.hidden = rows.size > 0;
    prevButton.disabled = wanted.from === 0;
    nextButton.disabled = !more;
    setText(range, rows.size ? `${wanted.from + 1}–${wanted.from + rows.size}` : '');
  }

  const list = refresher(load, 500);
  showFilters();
  list.run();

  const stop = watch({
    resync: () => list.run(),
    onEvent(type, data) {
      const entry = rows.get(data.jobId);
      if (type === 'progress') {
        if (entry) {
          entry.job = { ...entry.job, progress: data.progress };
          setProgress(entry.bar, data.progress);
        }
        return;
      }
      if (type !== 'transition') return;
      if (entry && data.to) updateRow(entry, { ...entry.job, status: data.to });
      list.run();
    },
  });

  return {
    update(next) {
      filters = filtersOf(next.params);
      showFilters();
      list.run();
    },
    unmount() {
      stop();
      list.stop();
    },
  };
}
