// The sign-in form: a client token, checked against the server (GET /jobs
// with limit=1) before it is kept, with a clear message when it is refused.

import { get, setToken } from '../api.js';
import { h, fill } from '../dom.js';

// onSignedIn() is called once the token works; `reason` is shown above the
// form (e.g. why the last session ended).
export function mount(main, { onSignedIn, reason = '' }) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', testid: 'login-token', 'aria-describedby': 'login-help',
  });
  const error = h('p', { class: 'error', role: 'alert', testid: 'login-error', hidden: !reason }, reason);
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'login-submit' }, 'Sign in');
  const form = h('form', { class: 'login card', testid: 'login-form' },
    h('h1', {}, 'Sign in to Cascade'),
    h('label', { for: 'token' }, 'Client token'),
    input,
    h('p', { id: 'login-help', class: 'hint' },
      'The token cascade-server printed at start (--token TOKEN=TEAM). It is kept in this tab only.'),
    error,
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    submit.disabled = true;
    error.hidden = true;
    try {
      await get('/jobs?limit=1&minimal=true', { token });
      setToken(token);
      onSignedIn();
    } catch (failure) {
      error.textContent = messageFor(failure);
      error.hidden = false;
      input.select();
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  fill(main, form);
  input.focus();
  return () => {};
}

function messageFor(failure) {
  if (failure.status === 401) return 'This server does not know that token. Check it and try again.';
  if (failure.status === 403) {
    return 'That is a worker token: the dashboard needs a client token (--token TOKEN=TEAM).';
  }
  if (failure.status === 429) return 'Too many requests for this token; wait a moment and try again.';
  if (failure.status) return `The server refused: ${failure.message}`;
  return `Cannot reach the server (${failure.message}).`;
}
