// The event stream (GET /api/v2/events, Server-Sent Events) read with fetch()
// and a body reader, since EventSource cannot send the Authorization header.
// Parses the frames itself, reconnects after the server's `retry:` delay
// (backing off while it keeps failing) with Last-Event-ID so the server
// replays what was missed, and asks the view to re-read its state whenever
// events may have been lost: on `event: reset`, and on a connection that
// could not resume (the first one included).

import { BASE, getToken } from './api.js';

const MAX_DELAY_MS = 30000;

export class EventStream {
  // query: '' or '?batch=ID' / '?job=ID'. onEvent(type, data) for
  // `transition` and `progress`; onResync() when state must be re-read;
  // onStatus('connecting' | 'live' | 'offline' | 'denied').
  constructor({ query = '', onEvent, onResync, onStatus }) {
    this.query = query;
    this.onEvent = onEvent || (() => {});
    this.onResync = onResync || (() => {});
    this.onStatus = onStatus || (() => {});
    this.lastId = null;
    this.retryMs = 2000;
    this.failures = 0;
    this.closed = false;
    this.controller = null;
    this.timer = null;
  }

  start() {
    this.run();
    return this;
  }

  close() {
    this.closed = true;
    if (this.controller) this.controller.abort();
    clearTimeout(this.timer);
  }

  async run() {
    while (!this.closed) {
      this.onStatus('connecting');
      try {
        await this.connectOnce();
      } catch (error) {
        if (this.closed) return;
        if (error && error.denied) {
          this.onStatus('denied');
          return;
        }
      }
      if (this.closed) return;
      this.failures += 1;
      this.onStatus('offline');
      const delay = Math.min(this.retryMs * 2 ** Math.min(this.failures - 1, 5), MAX_DELAY_MS);
      await new Promise((resolve) => { this.timer = setTimeout(resolve, delay); });
    }
  }

  async connectOnce() {
    this.controller = new AbortController();
    const headers = { Authorization: `Bearer ${getToken() ?? ''}`, Accept: 'text/event-stream' };
    const resuming = this.lastId !== null;
    if (resuming) headers['Last-Event-ID'] = this.lastId;
    const response = await fetch(`${BASE}/events${this.query}`, {
      headers, signal: this.controller.signal, cache: 'no-store',
    });
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent('cascade:unauthorized'));
      throw Object.assign(new Error('unauthorized'), { denied: true });
    }
    if (!response.ok || !response.body) {
      response.body?.cancel().catch(() => {});
      throw new Error(`event stream: ${response.status}`);
    }
    this.failures = 0;
    this.onStatus('live');
    // Without an id to resume from, whatever happened before this moment
    // is not coming: the view re-reads (a reset frame says the same).
    if (!resuming) this.onResync();
    await this.read(response.body.getReader());
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    let frame = newFrame();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.closed) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n')) >= 0) {
        let line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          this.dispatch(frame);
          frame = newFrame();
        } else if (!line.startsWith(':')) {
          parseField(frame, line);
        }
      }
    }
  }

  dispatch(frame) {
    if (frame.retry !== null) this.retryMs = frame.retry;
    if (frame.id !== null) this.lastId = frame.id;
    if (frame.data.length === 0) return;
    const type = frame.event || 'message';
    if (type === 'reset') {
      this.onResync();
      return;
    }
    let data;
    try {
      data = JSON.parse(frame.data.join('\n'));
    } catch {
      return;  // not ours to guess at
    }
    this.onEvent(type, data);
  }
}

function newFrame() {
  return { event: '', data: [], id: null, retry: null };
}

// One `field: value` line (a single space after the colon is not part of
// the value, as the SSE format says).
function parseField(frame, line) {
  const colon = line.indexOf(':');
  const field = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? '' : line.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  if (field === 'event') frame.event = value;
  else if (field === 'data') frame.data.push(value);
  else if (field === 'id') frame.id = value;
  else if (field === 'retry' && /^\d+$/.test(value)) frame.retry = Number(value);
}
