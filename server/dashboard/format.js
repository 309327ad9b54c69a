// How the API's values are shown: state names and their CSS classes, times,
// and durations.

// The API's states (wire names) in the order a job moves through them.
export const STATES = ['queued', 'pending', 'render:dorender', 'finished', 'error',
  'manually_cancelled'];

const LABELS = {
  queued: 'queued',
  pending: 'pending',
  'render:dorender': 'rendering',
  finished: 'finished',
  error: 'error',
  manually_cancelled: 'cancelled',
};

export function stateLabel(state) {
  return LABELS[state] || state;
}

// A class name for a state ('render:dorender' has a colon CSS would need escaped).
export function stateClass(state) {
  return `state-${(LABELS[state] || 'unknown').replace(/[^a-z]/g, '')}`;
}

// '14:03:07' today, '2026-12-04 14:03' another day, '—' for none.
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, '0');
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time.slice(0, 5)}`;
}

// '4.2 s', '3 min 20 s', '2 h 5 min'.
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  const s = Number(seconds);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function formatProgress(progress) {
  const value = Number(progress) || 0;
  return `${value % 1 === 0 ? value : value.toFixed(1)}%`;
}

// The first and last characters of a long id, for narrow columns.
export function shortId(id) {
  return id && id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id || '';
}
