// The jobs list (#/jobs): filters (state, tags, sort, page size) kept in the
// hash, paging by offset, "open by id", the bulk actions on the selection,
// and the table (job_table.js) kept current from the event stream: a new job
// appears, a row's state and progress bar move.

import { get, query } from '../api.js';
import { h, fill, setText } from '../dom.js';
import { href, navigate } from '../router.js';
import { watch, refresher } from '../live.js';
import { ACTIONS, runBulkAction } from '../actions.js';
import { notify } from '../notice.js';
import { createJobTable } from './job_table.js';

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

  // ---- The table, the selection and bulk actions ----
  const table = createJobTable({ onChanged: () => list.run(), onSelection: showSelection });
  const selectionCount = h('span', { testid: 'selection-count', class: 'muted' }, 'None selected');
  const bulkButtons = ACTIONS.map((action) => h('button', {
    type: 'button', testid: `bulk-${action.name}`, disabled: true,
    class: action.danger ? 'danger-outline' : '',
    onclick: async () => {
      if (await runBulkAction(action, table.selectedJobs())) list.run();
    },
  }, `${action.label} selected`));
  const clearButton = h('button', { type: 'button', class: 'quiet', testid: 'bulk-clear', disabled: true,
    onclick: () => table.clearSelection() }, 'Clear selection');
  const bulkBar = h('div', { class: 'bulk', role: 'group', 'aria-label': 'Actions on selected jobs' },
    selectionCount, bulkButtons, clearButton);
  const message = h('p', { class: 'loading', testid: 'jobs-loading', role: 'status' }, 'Loading jobs…');

  // ---- Paging ----
  const prevButton = h('button', { type: 'button', testid: 'page-prev', onclick: () => page(-1) }, '← Previous');
  const nextButton = h('button', { type: 'button', testid: 'page-next', onclick: () => page(1) }, 'Next →');
  const range = h('span', { testid: 'page-range', class: 'muted' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' }, prevButton, range, nextButton);

  fill(main,
    h('div', { class: 'view-head' }, h('h1', {}, 'Jobs'), findForm),
    filterForm, bulkBar,
    h('div', { class: 'table-wrap' }, table.element), message, pager);

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

  function showSelection(count) {
    setText(selectionCount, count ? `${count} selected` : 'None selected');
    for (const button of bulkButtons) button.disabled = count === 0;
    clearButton.disabled = count === 0;
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
      table.render([]);
      return;
    }
    if (wanted !== filters) return;  // the filters changed meanwhile; that load follows
    const more = jobs.length > wanted.limit;
    table.render(jobs.slice(0, wanted.limit));
    message.className = 'muted';
    message.setAttribute('data-testid', 'jobs-empty');
    message.textContent = wanted.from > 0 ? 'No jobs on this page.' : 'No jobs match these filters.';
    message.hidden = table.size > 0;
    prevButton.disabled = wanted.from === 0;
    nextButton.disabled = !more;
    setText(range, table.size ? `${wanted.from + 1}–${wanted.from + table.size}` : '');
  }

  const list = refresher(load, 500);
  showFilters();
  list.run();

  const stop = watch({
    resync: () => list.run(),
    onEvent(type, data) {
      table.apply(type, data);
      // A transition may add a job to this page, or take one off it.
      if (type === 'transition') list.run();
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
