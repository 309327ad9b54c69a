// Messages for people: a short notice at the bottom of the page after an
// action (what changed, or the server's error), read out by screen readers
// (the area is aria-live) and gone after a while.

import { h } from './dom.js';

export function notify(message, kind = 'info') {
  const area = document.getElementById('notices');
  if (!area) return;
  const close = h('button', { type: 'button', class: 'quiet', 'aria-label': 'Dismiss' }, '×');
  const note = h('div', { class: `notice notice-${kind}`, testid: 'notice', role: kind === 'error' ? 'alert' : 'status' },
    h('span', {}, message), close);
  const remove = () => note.remove();
  close.addEventListener('click', remove);
  area.append(note);
  setTimeout(remove, kind === 'error' ? 12000 : 5000);
  while (area.children.length > 4) area.firstElementChild.remove();
}
