// A confirmation question in a modal <dialog>: focus stays inside it, Esc
// closes it (answering no), and the promise says what was chosen. The safe
// answer has the focus first, so Enter alone never destroys anything.

import { h } from './dom.js';

// confirmAction({title, message, confirmLabel, danger}) -> Promise<boolean>
export function confirmAction({ title, message, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', testid: 'confirm-cancel', value: 'no' }, 'Keep as is');
    const ok = h('button', { type: 'button', testid: 'confirm-ok', value: 'yes',
      class: danger ? 'danger' : 'primary' }, confirmLabel);
    const titleId = `dialog-title-${Date.now()}`;
    const dialog = h('dialog', { class: 'confirm', testid: 'confirm-dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      ...[].concat(message).map((line) => h('p', {}, line)),
      h('div', { class: 'dialog-buttons' }, cancel, ok));
    const opener = document.activeElement;
    let answered = false;
    const finish = (answer) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(answer);
    };
    cancel.addEventListener('click', () => finish(false));
    ok.addEventListener('click', () => finish(true));
    dialog.addEventListener('close', () => finish(false));  // Esc
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
