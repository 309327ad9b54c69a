// The dashboard's event-stream client (server/dashboard/stream.js) against a
// scripted Server-Sent Events server, in Node (which has the browser's
// fetch, ReadableStream and TextDecoder): frames cut at any byte, comments,
// CRLF lines and `retry:` are read as the format says; a dropped connection
// is resumed with Last-Event-ID and no re-read; `event: reset`, and a
// connection that cannot resume, ask the view to re-read; a 401 stops it and
// signs out, any other error answer is retried. And against cascade-server
// itself (CASCADE_URL, CLIENT_TOKEN, as run.sh sets them): a submitted job's
// transition arrives, a resumed stream replays what it missed without a
// re-read, and an id the server cannot resume from gets a reset.

'use strict';

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

let EventStream = null;
let server = null;
let base = '';  // where relative URLs go: the scripted server, or cascade-server
let token = 'tok';
let script = null;  // (request, response, n) => void: the server's behaviour, per test
let requests = [];  // every request's Last-Event-ID and path, in order
const unauthorized = [];
const opened = [];  // every stream a test started, closed after it whatever happened
const realFetch = globalThis.fetch;

before(async () => {
  // What stream.js (and api.js) use of the browser.
  globalThis.sessionStorage = { getItem: () => token, setItem() {}, removeItem() {} };
  globalThis.window = { dispatchEvent: (event) => unauthorized.push(event.type) };
  globalThis.fetch = (url, options) => realFetch(new URL(url, base), options);
  ({ EventStream } = await import(pathToFileURL(path.resolve(__dirname, '../../server/dashboard/stream.js'))));
  server = http.createServer((request, response) => {
    requests.push({ path: request.url, lastId: request.headers['last-event-id'] ?? null,
      auth: request.headers.authorization });
    script(request, response, requests.length);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}/`;
});

afterEach(() => {
  for (const stream of opened.splice(0)) stream.close();
});

function track(stream) {
  opened.push(stream);
  return stream;
}

function useScriptedServer() {
  base = `http://127.0.0.1:${server.address().port}/`;
  token = 'tok';
}

after(() => {
  globalThis.fetch = realFetch;
  server.closeAllConnections();
  server.close();
});

function begin(response) {
  response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
}

// Writes `text` in pieces of `size` bytes (so frames, lines and UTF-8
// characters are cut anywhere), a tick apart.
async function dribble(response, text, size) {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += size) {
    response.write(bytes.subarray(i, i + size));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function waitFor(what, fn, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function open(query = '') {
  const seen = { events: [], resyncs: 0, statuses: [] };
  const stream = track(new EventStream({
    query,
    onEvent: (type, data) => seen.events.push([type, data]),
    onResync: () => { seen.resyncs += 1; },
    onStatus: (status) => seen.statuses.push(status),
  })).start();
  return { stream, seen };
}

test('frames cut at every byte are read whole, in order; comments and CRLF too', async () => {
  useScriptedServer();
  requests = [];
  const transition = (n, to) => ({ sequence: n, jobId: 'J1', batchId: null, from: 'queued', to,
    cause: 'claimed', relatedJobId: null, time: '2026-12-05T10:00:00.123Z' });
  const body = 'retry: 2000\n\n'
    + ': keep-alive\n\n'
    + `event: transition\nid: 41\ndata: ${JSON.stringify(transition(41, 'render:dorender'))}\n\n`
    + `event: progress\r\ndata: ${JSON.stringify({ jobId: 'J1', progress: 42.5, note: 'ünïcødé ✓' })}\r\n\r\n`
    + `event: transition\nid:42\ndata:${JSON.stringify(transition(42, 'finished'))}\n\n`
    + 'event: transition\nid: 43\n\n';  // no data: no event, but the id counts
  script = (request, response) => {
    begin(response);
    dribble(response, body, 1);
  };
  const { stream, seen } = open('?job=J1');
  await waitFor('the last frame', () => stream.lastId === '43');
  assert.deepEqual(seen.events.map(([type, data]) => [type, data.to ?? data.progress]),
    [['transition', 'render:dorender'], ['progress', 42.5], ['transition', 'finished']]);
  assert.equal(seen.events[1][1].note, 'ünïcødé ✓');
  assert.equal(requests[0].path, '/api/v2/events?job=J1');
  assert.equal(requests[0].auth, 'Bearer tok');
  assert.equal(requests[0].lastId, null);
  assert.equal(seen.resyncs, 1, 'a first connection has missed whatever came before it');
  assert.equal(stream.lastId, '43');
  assert.deepEqual(seen.statuses, ['connecting', 'live']);
  stream.close();
});

test('a dropped connection resumes with Last-Event-ID and no re-read; a reset asks for one', async () => {
  useScriptedServer();
  requests = [];
  script = (request, response, n) => {
    begin(response);
    if (n === 1) {
      response.end('retry: 20\n\nevent: transition\nid: 7\ndata: {"sequence":7,"to":"queued"}\n\n');
    } else if (n === 2) {
      response.end('retry: 20\n\nevent: transition\nid: 8\ndata: {"sequence":8,"to":"finished"}\n\n');
    } else {
      response.write('retry: 20\n\nevent: reset\nid: 90\ndata: {"sequence":90}\n\n');
    }
  };
  const { stream, seen } = open();
  await waitFor('a third connection', () => requests.length === 3 && seen.resyncs === 2);
  assert.deepEqual(requests.map((r) => r.lastId), [null, '7', '8']);
  assert.deepEqual(seen.events.map(([, data]) => data.sequence), [7, 8]);
  // One re-read for the first connection, one for the reset; the resumed
  // second connection needed none.
  assert.equal(seen.resyncs, 2);
  assert.equal(stream.lastId, '90');
  stream.close();
});

test('401 stops the stream and signs out; 503 and 404 are retried', async () => {
  useScriptedServer();
  requests = [];
  script = (request, response, n) => {
    const status = [503, 404][n - 1];
    if (status) {
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end('{"error":"busy"}');
      return;
    }
    response.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' });
    response.end('{"error":"unknown token","errorCode":"unauthenticated"}');
  };
  unauthorized.length = 0;
  const { stream, seen } = open();
  stream.retryMs = 20;
  await waitFor('the stream to give up', () => seen.statuses.includes('denied'));
  assert.equal(requests.length, 3);
  assert.deepEqual(seen.statuses, ['connecting', 'offline', 'connecting', 'offline', 'connecting', 'denied']);
  assert.deepEqual(unauthorized, ['cascade:unauthorized']);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(requests.length, 3, 'no reconnect after a 401');
  stream.close();
});

test('against cascade-server: live transitions, a resume that replays, a reset', {
  skip: !process.env.CASCADE_URL && 'no CASCADE_URL (run.sh sets it)',
}, async () => {
  base = `${process.env.CASCADE_URL}/`;
  token = process.env.CLIENT_TOKEN;
  const submit = async () => {
    const response = await realFetch(`${process.env.CASCADE_URL}/api/v2/jobs`, {
      method: 'POST', headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ template: { id: '01HZX3C5Y5V7E8W3J6T9Q2M1NB', composition: 'main' },
        tags: ['stream-test'] }),
    });
    assert.equal(response.status, 201);
    return (await response.json()).id;
  };
  const submittedIn = (seen, id) => seen.events.some(([type, data]) => type === 'transition'
    && data.jobId === id && data.cause === 'submitted' && data.from === null && data.to === 'queued');

  const first = open();
  await waitFor('the stream to go live', () => first.seen.statuses.includes('live'));
  const live = await submit();
  await waitFor('the live transition', () => submittedIn(first.seen, live));
  assert.equal(first.seen.resyncs, 1);
  const resumeFrom = first.stream.lastId;
  assert.ok(resumeFrom, 'a transition carries an id');
  first.stream.close();

  const missed = await submit();
  const second = track(new EventStream({
    onEvent: (type, data) => second.events.push([type, data]),
    onResync: () => { second.resyncs += 1; },
    onStatus: (status) => second.statuses.push(status),
  }));
  Object.assign(second, { events: [], resyncs: 0, statuses: [] });
  second.lastId = resumeFrom;
  second.start();
  await waitFor('the missed transition, replayed', () => submittedIn(second, missed));
  assert.equal(second.resyncs, 0, 'a resumed stream needs no re-read');
  assert.ok(!second.events.some(([, data]) => data.jobId === live), 'nothing before the resume point');
  second.close();

  const third = track(new EventStream({ onResync: () => { third.resyncs += 1; } }));
  third.resyncs = 0;
  third.lastId = 'no-such-id';
  third.start();
  await waitFor('a reset for an id the server cannot resume from', () => third.resyncs === 1);
  third.close();
});
