// One job (#/jobs/<id>): state, progress, attempts, times and error, the
// actions its state allows, its relatives, the family graph and the tail of
// its render log. The stream filtered to its family keeps it current; the
// log is re-read every few seconds while it renders.

import { get } from '../api.js';
import { h, fill, setText } from '../dom.js';
import { formatTime, formatDuration } from '../format.js';
import { watch, refresher } from '../live.js';
import { ACTIONS, runJobAction } from '../actions.js';
import { svgFromText } from '../graph.js';
import { stateBadge, setBadge, progressBar, setProgress, jobLink, batchLink } from '../widgets.js';

const LOG_LINES = 200;
const LOG_POLL_MS = 2000;

export function mount(main, route) {
  const id = route.id;
  let job = null;

  const heading = h('h1', { class: 'mono', testid: 'job-id' }, id);
  const badge = stateBadge('queued');
  badge.hidden = true;
  const bar = progressBar(0, 'Progress');
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Job actions' });
  const buttons = ACTIONS.map((action) => {
    const button = h('button', {
      type: 'button', testid: `action-${action.name}`, hidden: true,
      class: action.danger ? 'danger-outline' : '',
      onclick: async () => {
        if (job && await runJobAction(action, job)) refresh.run();
      },
    }, action.label);
    actions.append(button);
    return [action, button];
  });
  const facts = h('dl', { class: 'facts', testid: 'job-stats' });
  const relatives = h('div', { class: 'relatives', testid: 'job-relatives' });
  const errorBox = h('p', { class: 'error', testid: 'job-error', role: 'alert', hidden: true });
  const graphBox = h('div', { class: 'graph', testid: 'job-graph' }, h('p', { class: 'loading' }, 'Drawing the family…'));
  const log = h('pre', { class: 'log', testid: 'job-log', tabindex: 0, 'aria-label': 'Render log, last lines' }, 'Loading the log…');
  const logNote = h('p', { class: 'muted', testid: 'job-log-note' });
  const status = h('p', { class: 'loading', testid: 'job-loading', role: 'status' }, 'Loading the job…');

  fill(main,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', 'Job'),
    h('div', { class: 'view-head' }, heading, badge, actions),
    status, errorBox,
    h('div', { class: 'job-grid' },
      h('section', { class: 'card', 'aria-labelledby': 'h-stats' },
        h('h2', { id: 'h-stats' }, 'Progress'), bar, facts, relatives),
      h('section', { class: 'card', 'aria-labelledby': 'h-graph' },
        h('h2', { id: 'h-graph' }, 'Family'), graphBox)),
    h('section', { class: 'card', 'aria-labelledby': 'h-log' },
      h('h2', { id: 'h-log' }, 'Log tail'), logNote, log));

  function fact(term, value, testid) {
    return [h('dt', {}, term), h('dd', { testid }, value)];
  }

  function show(next) {
    job = next;
    status.hidden = true;
    badge.hidden = false;
    setBadge(badge, job.status);
    setProgress(bar, job.progress);
    for (const [action, button] of buttons) button.hidden = !action.allowed(job);
    const stats = job.stats || {};
    fill(facts,
      fact('Attempts', `${job.attempts} of ${job.maxAttempts}`, 'job-attempts'),
      fact('Created', formatTime(stats.createdAt), 'job-created'),
      fact('Started', formatTime(stats.startedAt), 'job-started'),
      fact('Finished', formatTime(stats.finishedAt), 'job-finished'),
      fact('Failed', formatTime(stats.errorAt), 'job-error-at'),
      fact('Updated', formatTime(stats.updatedAt), 'job-updated'),
      fact('Render time', formatDuration(stats.renderDuration), 'job-duration'),
      fact('Priority', String(job.priority), 'job-priority'),
      fact('Held', job.suspended ? 'yes (suspended)' : 'no', 'job-suspended'),
      job.retryAt ? fact('Retry at', formatTime(job.retryAt), 'job-retry-at') : null,
      job.cancelRequested ? fact('Abort', 'requested', 'job-abort') : null,
      fact('Template', job.templateId || '— (join)', 'job-template'),
      fact('Tags', job.tags.length ? job.tags.join(', ') : '—', 'job-tags'),
      fact('Output', job.outputUrl || '—', 'job-output'));
    errorBox.hidden = !stats.error;
    setText(errorBox, stats.error ? `Error: ${stats.error}` : '');
    const links = (ids) => ids.map((other, i) => [i ? ', ' : '', jobLink(other, { short: true, testid: 'relative-link' })]);
    fill(relatives,
      h('dl', { class: 'facts' },
        fact('Batch', batchLink(job.batchId, { short: false })),
        fact('Parent', job.parentId ? jobLink(job.parentId, { testid: 'relative-link' }) : '—'),
        fact('Children', job.children.length ? links(job.children) : '—'),
        fact('Waits for', job.dependsOn.length ? links(job.dependsOn) : '—')));
  }

  async function loadJob() {
    try {
      show(await get(`/jobs/${encodeURIComponent(id)}`));
    } catch (error) {
      status.hidden = false;
      status.className = 'error';
      status.textContent = error.status === 404 ? `No job ${id} in your team.` : `Could not read the job: ${error.message}`;
    }
  }

  async function loadGraph() {
    try {
      const svg = svgFromText(await get(`/jobs/${encodeURIComponent(id)}/graph.svg`, { as: 'text' }));
      svg.setAttribute('aria-label', `The family of job ${id}`);
      fill(graphBox, svg);
    } catch (error) {
      fill(graphBox, h('p', { class: 'muted', testid: 'job-graph-missing' },
        error.status === 404 && job ? 'The server draws no graph for this job.' : `No graph: ${error.message}`));
    }
  }

  async function loadLog() {
    try {
      const text = await get(`/jobs/${encodeURIComponent(id)}/logs`, { as: 'text' });
      const lines = text.replace(/\n$/, '').split('\n');
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      setText(log, lines.slice(-LOG_LINES).join('\n'));
      setText(logNote, lines.length > LOG_LINES ? `The last ${LOG_LINES} of ${lines.length} lines.` : `${lines.length} line${lines.length === 1 ? '' : 's'}.`);
      if (atBottom) log.scrollTop = log.scrollHeight;
    } catch (error) {
      setText(log, error.status === 404 ? 'Nothing logged yet.' : `Could not read the log: ${error.message}`);
      setText(logNote, '');
    }
  }

  const refresh = refresher(async () => {
    await loadJob();
    await loadLog();
  }, 300);
  const graph = refresher(loadGraph, 1000);
  refresh.run();
  graph.run();
  const logTimer = setInterval(() => {
    if (job && job.status === 'render:dorender') loadLog();
  }, LOG_POLL_MS);

  const stop = watch({
    query: `?job=${encodeURIComponent(id)}`,
    resync() {
      refresh.run();
      graph.run();
    },
    onEvent(type, data) {
      if (type === 'progress') {
        if (data.jobId === id && job) {
          job = { ...job, progress: data.progress };
          setProgress(bar, data.progress);
        }
        return;
      }
      if (type !== 'transition') return;
      if (data.jobId === id) refresh.run();
      graph.run();  // a relative's state is drawn too
    },
  });

  return {
    unmount() {
      stop();
      refresh.stop();
      graph.stop();
      clearInterval(logTimer);
    },
  };
}
