// The REST API (/api/v2) with the signed-in token: one fetch helper that sends
// `Authorization: Bearer`, reads JSON or text, and turns an error answer into
// an ApiError carrying the server's message. The token lives in
// sessionStorage, so it is gone when the tab closes.

const TOKEN_KEY = 'cascade.token';
export const BASE = '/api/v2';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// An answer other than 2xx: `status`, the parsed `body`, and a message for
// people (the server's `error` and each `details` entry).
export class ApiError extends Error {
  constructor(status, body) {
    super(messageOf(status, body));
    this.status = status;
    this.body = body;
  }
}

function messageOf(status, body) {
  if (body && typeof body === 'object' && typeof body.error === 'string') {
    const details = Array.isArray(body.details)
      ? body.details.map((d) => `${d.field}: ${d.message}`).join('; ')
      : '';
    return details ? `${body.error} (${details})` : body.error;
  }
  if (typeof body === 'string' && body.trim()) return `${status}: ${body.trim().slice(0, 200)}`;
  return `the server answered ${status}`;
}

// Tells the app that the token is no longer accepted (it shows the login).
function reportUnauthorized() {
  window.dispatchEvent(new CustomEvent('cascade:unauthorized'));
}

// One request. options: body (sent as JSON), as ('json' | 'text'), token
// (instead of the stored one; a 401 then is the caller's to report), signal.
export async function request(method, path, options = {}) {
  const token = options.token ?? getToken();
  const headers = { Authorization: `Bearer ${token ?? ''}` };
  let body;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(BASE + path, {
    method, headers, body, signal: options.signal, cache: 'no-store',
  });
  const text = await response.text();
  let parsed = text;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json') && text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      // leave it as text: the message shows it
    }
  }
  if (!response.ok) {
    if (response.status === 401 && options.token === undefined) reportUnauthorized();
    throw new ApiError(response.status, parsed);
  }
  if (response.status === 204) return null;
  return options.as === 'text' ? text : parsed;
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options = {}) => request('POST', path, { ...options, body });
export const patch = (path, body, options = {}) => request('PATCH', path, { ...options, body });

// A query string from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
