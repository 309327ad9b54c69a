// Small pieces several views draw: a state badge, a progress bar (its width
// set through the CSSOM, which the CSP allows, never a style attribute), and
// links to jobs and batches.

import { h, setText } from './dom.js';
import { stateClass, stateLabel, formatProgress, shortId } from './format.js';

export function stateBadge(state) {
  const badge = h('span', { testid: 'job-state' });
  setBadge(badge, state);
  return badge;
}

export function setBadge(badge, state) {
  badge.className = `badge ${stateClass(state)}`;
  badge.dataset.state = state;
  setText(badge, stateLabel(state));
}

export function progressBar(progress, label = 'Progress') {
  const fill = h('span', { class: 'bar-fill' });
  const text = h('span', { class: 'bar-text', testid: 'progress-text' });
  const bar = h('span', {
    class: 'bar', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0,
    'aria-valuemax': 100, testid: 'job-progress',
  }, h('span', { class: 'bar-track' }, fill), text);
  setProgress(bar, progress);
  return bar;
}

export function setProgress(bar, progress) {
  const value = Math.max(0, Math.min(100, Number(progress) || 0));
  bar.setAttribute('aria-valuenow', String(value));
  bar.querySelector('.bar-fill').style.width = `${value}%`;
  setText(bar.querySelector('.bar-text'), formatProgress(value));
}

export function jobLink(id, { short = false, testid = 'job-link' } = {}) {
  return h('a', { href: `#/jobs/${encodeURIComponent(id)}`, class: 'mono', testid, title: id },
    short ? shortId(id) : id);
}

export function batchLink(id, { short = true } = {}) {
  if (!id) return '—';
  return h('a', { href: `#/batches/${encodeURIComponent(id)}`, class: 'mono', testid: 'batch-link',
    title: id }, short ? shortId(id) : id);
}
