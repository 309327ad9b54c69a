// What can be done to jobs: cancel, abort, retry, suspend, resume, on one job
// or on a selection, each offered only in the states the API allows it (the
// server still decides: a job may have moved meanwhile, and its 409 message
// is shown). Destructive ones, and every bulk action, ask first.

import { post, patch } from './api.js';
import { confirmAction } from './dialog.js';
import { notify } from './notice.js';

const waiting = (job) => job.status === 'queued' || job.status === 'pending';
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const ACTIONS = [
  {
    name: 'cancel', label: 'Cancel', danger: true, allowed: waiting,
    ask: (n) => `Cancel ${plural(n, 'job')}? Jobs that depend on them are cancelled too.`,
    one: (id) => patch(`/jobs/${id}/cancel`),
    many: (ids) => post('/jobs/cancel', { jobs: ids }),
  },
  {
    name: 'abort', label: 'Abort', danger: true,
    allowed: (job) => job.status === 'render:dorender' && !job.cancelRequested,
    ask: (n) => `Abort ${plural(n, 'rendering job')}? The worker is asked to stop; the job ends cancelled.`,
    one: (id) => post(`/jobs/${id}/abort`),
  },
  {
    name: 'retry', label: 'Retry', danger: false,
    allowed: (job) => job.status === 'error' || job.status === 'manually_cancelled',
    ask: (n) => `Retry ${plural(n, 'job')}? Each comes back with the jobs that ended with it.`,
    one: (id) => post(`/jobs/${id}/retry`),
    many: (ids) => post('/jobs/retry', { jobs: ids }),
  },
  {
    name: 'suspend', label: 'Suspend', danger: false,
    allowed: (job) => waiting(job) && !job.suspended,
    ask: (n) => `Suspend ${plural(n, 'job')}? They keep their place but are not rendered until resumed.`,
    one: (id) => post(`/jobs/${id}/suspend`),
  },
  {
    name: 'resume', label: 'Resume', danger: false,
    allowed: (job) => waiting(job) && job.suspended,
    ask: (n) => `Resume ${plural(n, 'job')}?`,
    one: (id) => post(`/jobs/${id}/resume`),
  },
];

const PAST = { cancel: 'cancelled', abort: 'asked to abort', retry: 'retried', suspend: 'suspended',
  resume: 'resumed' };

export function actionByName(name) {
  return ACTIONS.find((action) => action.name === name);
}

// One job; cancel and abort ask first. Resolves true when the server took it.
export async function runJobAction(action, job) {
  if (action.danger && !(await confirmAction({
    title: `${action.label} job`, message: [action.ask(1), job.id], confirmLabel: action.label,
    danger: true,
  }))) return false;
  try {
    const answer = await action.one(job.id);
    const touched = Array.isArray(answer) && answer.length > 1 ? ` (${plural(answer.length, 'job')} with its family)` : '';
    notify(`Job ${job.id} ${PAST[action.name]}${touched}.`);
    return true;
  } catch (error) {
    notify(`${action.label} failed: ${error.message}`, 'error');
    return false;
  }
}

// A selection: only the jobs the action applies to are sent; the dialog says
// how many of the selection that is. Resolves true when anything changed.
export async function runBulkAction(action, jobs) {
  const fit = jobs.filter(action.allowed);
  if (fit.length === 0) {
    notify(`None of the ${plural(jobs.length, 'selected job')} can be ${PAST[action.name]} now.`, 'error');
    return false;
  }
  const message = [action.ask(fit.length)];
  const skipped = jobs.length - fit.length;
  if (skipped > 0) {
    message.push(`${plural(skipped, 'selected job')} ${skipped === 1 ? 'is' : 'are'} left out: `
      + `${action.name} does not apply to ${skipped === 1 ? 'its' : 'their'} state.`);
  }
  if (!(await confirmAction({
    title: `${action.label} ${plural(fit.length, 'job')}`, message, confirmLabel: action.label,
    danger: action.danger,
  }))) return false;
  const ids = fit.map((job) => job.id);
  try {
    if (action.many) {
      await action.many(ids);
      notify(`${plural(ids.length, 'job')} ${PAST[action.name]}.`);
      return true;
    }
    const results = await Promise.allSettled(ids.map((id) => action.one(id)));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) {
      notify(`${ids.length - failed.length} of ${ids.length} ${PAST[action.name]}; ${failed[0].reason.message}`, 'error');
    } else {
      notify(`${plural(ids.length, 'job')} ${PAST[action.name]}.`);
    }
    return failed.length < ids.length;
  } catch (error) {
    notify(`${action.label} failed: ${error.message}`, 'error');
    return false;
  }
}
