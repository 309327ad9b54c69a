// Copyright 2026 The Cascade Authors.
//
// The real @nexrender/api client (the version pinned in package.json, from
// npm) against cascade-server's nexrender v1 routes (contract §15). It makes
// exactly the calls an unmodified nexrender worker makes (pickupJob,
// updateJob with the job and with @nexrender/types' getRenderingStatus) and
// those a nexrender client makes (addJob with its polling emitter, fetchJob,
// listJobs, removeJob), and checks what cascade-server answers, here and
// through the v2 API.
//
// Run by run.sh (scripts/test.sh runs that), or by hand:
//   CASCADE_SERVER=build/server/cascade-server node --test tests/nexrender_v1/
// It starts the server itself (in memory, on a port the kernel picks, with a
// 2 s v1 lease for the expiry case) and stops it at the end, also when a test
// fails. A test fails on a wrong answer, and on a wait that runs past its
// bound (never on a fixed sleep).

'use strict';

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { createClient } = require('@nexrender/api');
const { getRenderingStatus } = require('@nexrender/types/job');

const SERVER = process.env.CASCADE_SERVER;
const SECRET = 's3cret';
const TOKEN = 't';  // the v2 client token of the same team
const LEASE_SECONDS = 2;

let server = null;  // the cascade-server child process
let serverOutput = '';
let host = '';  // http://127.0.0.1:PORT

// ---- Helpers ------------------------------------------------------------------------

// Resolves with fn()'s first truthy value, polling every 20 ms; throws naming
// `what` after `ms`.
async function waitFor(what, fn, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// One request without the client, to see status codes (the client throws
// with the body's text only). `auth`: {secret, name} for /api/v1, {bearer}
// for /api/v2.
async function raw(method, path, { secret, name, bearer, body } = {}) {
  const headers = {};
  if (secret !== undefined) headers['nexrender-secret'] = secret;
  if (name !== undefined) headers['nexrender-name'] = name;
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${host}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (403 and health answer text)
  }
  return { status: response.status, text, json };
}

// The job as the v2 API shows it (GET /api/v2/jobs/{id}, client token).
async function v2Job(id) {
  const r = await raw('GET', `/api/v2/jobs/${id}`, { bearer: TOKEN });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// A nexrender client (addJob, fetchJob, listJobs, removeJob) and workers.
// `polling`: how often addJob's emitter reads the job's status.
const client = () => createClient({ host, secret: SECRET, polling: 50 });
const worker = (name) => createClient({ host, secret: SECRET, name });

// A v1 job as a nexrender user writes one.
function v1Job(extra = {}) {
  return {
    template: { src: 'file:///tmp/x.aep', composition: 'main' },
    assets: [],
    actions: { prerender: [], postrender: [] },
    ...extra,
  };
}

// addJob as nexrender's CLI uses it: the answer is an emitter that polls the
// job's status; its first event, `created`, carries the job. Every event is
// recorded (`events`: [name, state, progress]); an `error` listener is always
// attached, since the emitter emits `error` for a job in state "error" and
// for a failed poll (the server stopped), and an unheard `error` would throw.
async function submit(nexrender, job) {
  const emitter = await nexrender.addJob(job);
  const events = [];
  for (const name of ['created', 'queued', 'picked', 'started', 'render:dorender', 'progress',
    'finished', 'error']) {
    emitter.on(name, (j, progress) => {
      events.push([name, j && j.state, typeof progress === 'number' ? progress : undefined]);
    });
  }
  const created = await new Promise((resolve) => emitter.once('created', resolve));
  return { job: created, emitter, events };
}

// The worker's reports, as @nexrender/worker sends them: the whole job when
// it starts, getRenderingStatus(job) afterwards.
async function start(w, job) {
  job.state = 'started';
  job.startedAt = new Date();
  return w.updateJob(job.uid, job);
}
async function report(w, job, fields) {
  Object.assign(job, fields);
  return w.updateJob(job.uid, getRenderingStatus(job));
}

// ---- The server ---------------------------------------------------------------------

before(async () => {
  assert.ok(SERVER, 'set CASCADE_SERVER to the cascade-server binary');
  server = spawn(SERVER, [
    '--data', ':memory:',
    '--listen', '127.0.0.1:0',
    '--v1-secret', `${SECRET}=team-a`,
    '--worker-token', 'w',
    '--token', `${TOKEN}=team-a`,
    '--v1-lease-seconds', String(LEASE_SECONDS),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.setEncoding('utf8');
  server.stderr.setEncoding('utf8');
  server.stdout.on('data', (chunk) => { serverOutput += chunk; });
  server.stderr.on('data', (chunk) => { serverOutput += chunk; });
  const port = await waitFor('cascade-server to listen', () => {
    if (server.exitCode !== null) {
      throw new Error(`cascade-server exited (${server.exitCode}):\n${serverOutput}`);
    }
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(serverOutput);
    return m && m[1];
  });
  host = `http://127.0.0.1:${port}`;
  await waitFor('GET /api/v1/health', async () => {
    try {
      return (await fetch(`${host}/api/v1/health`)).ok;
    } catch {
      return false;
    }
  });
});

// Stops the server: SIGTERM, which must end it cleanly within 10 s (exit 0);
// SIGKILL if not. Runs when a test failed too.
after(async () => {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 10000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  assert.equal(code, 0, `cascade-server did not stop cleanly (signal ${signal}):\n${serverOutput}`);
});

// Whatever happens (an exception outside a test, a runner timeout), the
// server does not outlive this process.
process.on('exit', () => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
});

// ---- The tests, in order: each leaves the queue empty -----------------------------

// After a test that failed half-way: remove what it left queued or rendering
// (a removal cancels a queued job, and ends a picked one), so that the next
// test's pickups see only its own jobs.
afterEach(async () => {
  if (!host) return;
  for (const job of await client().listJobs()) {
    if (job.state !== 'finished' && job.state !== 'error') await client().removeJob(job.uid);
  }
});

test('health answers without a secret', async () => {
  const r = await raw('GET', '/api/v1/health');
  assert.equal(r.status, 200);
});

test('an empty queue: pickupJob() and pickupJob(tags) answer {}', async () => {
  const w = worker('node-1');
  assert.deepEqual(await w.pickupJob(), {});
  assert.deepEqual(await w.pickupJob('a,b'), {});
});

test('a wrong or missing secret: the client throws, the server answers 403', async () => {
  const bad = createClient({ host, secret: 'nope', name: 'node-1' });
  await assert.rejects(bad.listJobs(), /Wrong or no authentication secret/);
  await assert.rejects(bad.pickupJob(), /Wrong or no authentication secret/);
  await assert.rejects(bad.fetchJob('01HZX3C5Y5V7E8W3J6T9Q2M1NB'), /authentication secret/);
  await assert.rejects(bad.addJob(v1Job()), /authentication secret/);
  for (const secret of ['nope', undefined, '']) {
    assert.equal((await raw('GET', '/api/v1/jobs', { secret })).status, 403, `secret ${secret}`);
    assert.equal((await raw('GET', '/api/v1/jobs/pickup', { secret })).status, 403);
  }
  // Nothing was created by the refused addJob.
  assert.deepEqual(await client().listJobs(), []);
});

test('a job from create to finished, as a nexrender worker renders it', async () => {
  const nexrender = client();
  const custom = { studio: 'north', shot: [1, 2, { take: 3 }] };
  const actions = {
    prerender: [{ module: '@nexrender/action-copy', input: 'a', output: 'b' }],
    postrender: [{ module: '@nexrender/action-encode', preset: 'mp4', output: 'encoded.mp4' }],
  };
  const { job: created, events } =
    await submit(nexrender, v1Job({ tags: 'a,b', custom, actions }));
  assert.match(created.uid, /^[0-9A-HJKMNP-TV-Z]{26}$/, 'uid is a Cascade id');
  assert.equal(created.state, 'queued');
  assert.equal(created.tags, 'a,b');
  assert.deepEqual(created.custom, custom);
  assert.deepEqual(created.actions, actions);
  // The same job through the v2 API: uid is its id; tagged a and b.
  const v2 = await v2Job(created.uid);
  assert.equal(v2.status, 'queued');
  assert.ok(v2.tags.includes('a') && v2.tags.includes('b'), JSON.stringify(v2.tags));

  // A worker asks for tags none of the job's: nothing. Then for "b": the job.
  const w = worker('node-1');
  assert.deepEqual(await w.pickupJob('c'), {});
  const job = await w.pickupJob('b');
  assert.equal(job.uid, created.uid);
  assert.equal(job.state, 'picked');
  assert.deepEqual(job.template, { src: 'file:///tmp/x.aep', composition: 'main' });
  assert.deepEqual(job.actions, actions);
  assert.deepEqual(job.custom, custom);
  // Held: no second pickup gets it.
  assert.deepEqual(await worker('node-2').pickupJob(), {});
  assert.equal((await v2Job(job.uid)).status, 'render:dorender');

  const started = await start(w, job);
  assert.equal(started.state, 'started');
  assert.equal((await nexrender.fetchJob(job.uid)).state, 'started');

  await report(w, job, { state: 'render:dorender', renderProgress: 40 });
  const status = await nexrender.fetchJob(job.uid);
  assert.equal(status.state, 'render:dorender');
  assert.equal(status.renderProgress, 40);
  const statusRoute = await raw('GET', `/api/v1/jobs/${job.uid}/status`, { secret: SECRET });
  assert.equal(statusRoute.status, 200);
  assert.equal(statusRoute.json.renderProgress, 40);
  assert.equal(statusRoute.json.state, 'render:dorender');
  assert.equal((await v2Job(job.uid)).progress, 40);
  // The client's emitter reads the same status and reports the progress.
  await waitFor('the emitter\'s progress event at 40',
    () => events.some(([name, , p]) => name === 'progress' && p === 40));

  // Only the worker that picked it may report on it.
  const other = await raw('PUT', `/api/v1/jobs/${job.uid}`,
    { secret: SECRET, name: 'node-2', body: { ...getRenderingStatus(job), renderProgress: 90 } });
  assert.equal(other.status, 409, other.text);
  await assert.rejects(worker('node-2').updateJob(job.uid, getRenderingStatus(job)));

  job.finishedAt = new Date();
  const finished = await report(w, job, { state: 'finished', renderProgress: 100 });
  assert.equal(finished.state, 'finished');
  const fetched = await nexrender.fetchJob(job.uid);
  assert.equal(fetched.state, 'finished');
  assert.ok(fetched.finishedAt, 'finishedAt is set');
  // v1 JSON kept whole: what the job was created with comes back.
  assert.deepEqual(fetched.template, { src: 'file:///tmp/x.aep', composition: 'main' });
  assert.deepEqual(fetched.actions, actions);
  assert.deepEqual(fetched.custom, custom);
  assert.deepEqual(fetched.assets, []);
  assert.equal((await v2Job(job.uid)).status, 'finished');
  await waitFor('the emitter\'s finished event',
    () => events.some(([name]) => name === 'finished'));
  assert.ok(events.some(([name, state]) => name === 'progress' && state === 'finished'));

  const listed = await nexrender.listJobs();
  assert.ok(Array.isArray(listed));
  const entry = listed.find((j) => j.uid === job.uid);
  assert.ok(entry, 'listJobs has the job');
  assert.equal(entry.state, 'finished');
  assert.deepEqual(entry.custom, custom);

  // Cascade keeps ended jobs until retention purges them: removing a finished
  // job answers 200 and leaves it as it is.
  await nexrender.removeJob(job.uid);
  assert.equal((await nexrender.fetchJob(job.uid)).state, 'finished');
});

test('removeJob of a queued job cancels it; an unknown uid is 404', async () => {
  const nexrender = client();
  const { job } = await submit(nexrender, v1Job({ tags: 'x' }));
  await nexrender.removeJob(job.uid);
  assert.equal((await v2Job(job.uid)).status, 'manually_cancelled');
  assert.equal((await nexrender.fetchJob(job.uid)).state, 'error');
  assert.deepEqual(await worker('node-1').pickupJob(), {}, 'a removed job is never picked');
  assert.equal((await raw('GET', '/api/v1/jobs/01HZX3C5Y5V7E8W3J6T9Q2M1NB', { secret: SECRET })).status,
    404);
  await assert.rejects(nexrender.fetchJob('not-a-uid'));
});

test('two workers never get the same job; pickupJob() takes any tags, pickupJob(t) any of t',
  async () => {
    const nexrender = client();
    const one = (await submit(nexrender, v1Job({ tags: 'gpu' }))).job;
    const two = (await submit(nexrender, v1Job({ tags: 'cpu' }))).job;
    const [a, b] = await Promise.all([worker('node-1').pickupJob(), worker('node-2').pickupJob('zzz,cpu,gpu')]);
    assert.ok(a.uid && b.uid, `both picked: ${JSON.stringify([a.uid, b.uid])}`);
    assert.notEqual(a.uid, b.uid);
    assert.deepEqual(new Set([a.uid, b.uid]), new Set([one.uid, two.uid]));
    assert.deepEqual(await worker('node-3').pickupJob(), {});
    // Each worker finishes its own.
    for (const [name, job] of [['node-1', a], ['node-2', b]]) {
      await start(worker(name), job);
      await report(worker(name), job, { state: 'finished' });
      assert.equal((await v2Job(job.uid)).status, 'finished');
    }
  });

test('abort through the v2 API: the worker\'s next updateJob throws (409), the job ends manually_cancelled',
  async () => {
    const nexrender = client();
    const { job: created } = await submit(nexrender, v1Job());
    const w = worker('node-1');
    const job = await w.pickupJob();
    assert.equal(job.uid, created.uid);
    await start(w, job);
    await report(w, job, { state: 'render:dorender', renderProgress: 10 });

    const abort = await raw('POST', `/api/v2/jobs/${job.uid}/abort`, { bearer: TOKEN });
    assert.equal(abort.status, 200, abort.text);
    await assert.rejects(report(w, job, { state: 'render:dorender', renderProgress: 20 }),
      /abort/);
    const again = await raw('PUT', `/api/v1/jobs/${job.uid}`,
      { secret: SECRET, name: 'node-1', body: getRenderingStatus(job) });
    assert.equal(again.status, 409, again.text);
    await assert.rejects(report(w, job, { state: 'finished' }));
    const v2 = await v2Job(job.uid);
    assert.equal(v2.status, 'manually_cancelled');
    assert.equal((await nexrender.fetchJob(job.uid)).state, 'error');
    assert.deepEqual(await w.pickupJob(), {}, 'an aborted job is not picked again');
  });

test(`expiry: the ${LEASE_SECONDS} s v1 lease runs out, the worker's updateJob throws (409), ` +
  'the job is picked again', async () => {
  const nexrender = client();
  const { job: created } = await submit(nexrender, v1Job());
  const w = worker('node-1');
  const job = await w.pickupJob();
  assert.equal(job.uid, created.uid);
  await start(w, job);
  // The worker goes silent; the engine takes the job back when the lease ends.
  await waitFor('the lease to run out', async () => (await v2Job(job.uid)).status === 'queued',
    LEASE_SECONDS * 1000 + 10000);
  const v2 = await v2Job(job.uid);
  assert.equal(v2.attempts, 1, 'the lost attempt counts');
  await assert.rejects(report(w, job, { state: 'render:dorender', renderProgress: 50 }));
  const stale = await raw('PUT', `/api/v1/jobs/${job.uid}`,
    { secret: SECRET, name: 'node-1', body: { ...getRenderingStatus(job), state: 'finished' } });
  assert.equal(stale.status, 409, stale.text);
  assert.equal((await v2Job(job.uid)).status, 'queued', 'the stale finish changed nothing');

  // Another worker picks it up and renders it.
  const w2 = worker('node-2');
  const again = await w2.pickupJob();
  assert.equal(again.uid, job.uid);
  await start(w2, again);
  await report(w2, again, { state: 'finished' });
  assert.equal((await nexrender.fetchJob(job.uid)).state, 'finished');
});

test('state "error": retried while attempts last (--max-attempts 3), then error', async () => {
  const nexrender = client();
  const { job: created, events } = await submit(nexrender, v1Job());
  const w = worker('node-1');
  for (let attempt = 1; attempt <= 3; ++attempt) {
    const job = await w.pickupJob();
    assert.equal(job.uid, created.uid, `attempt ${attempt} picks the job`);
    await start(w, job);
    job.errorAt = new Date();
    const answer = await report(w, job, { state: 'error', error: [`boom ${attempt}`, 'at line 7'] });
    const v2 = await v2Job(job.uid);
    assert.equal(v2.attempts, attempt);
    if (attempt < 3) {
      assert.equal(answer.state, 'queued');
      assert.equal(v2.status, 'queued', 'back in the queue for another attempt');
    } else {
      assert.equal(answer.state, 'error');
      assert.equal(v2.status, 'error');
      assert.match(v2.stats.error, /boom 3\n\nat line 7/);
    }
  }
  const fetched = await nexrender.fetchJob(created.uid);
  assert.equal(fetched.state, 'error');
  assert.match(fetched.error, /boom 3/);
  assert.deepEqual(await w.pickupJob(), {});
  await waitFor('the emitter\'s error event', () => events.some(([name, state]) => name === 'error' && state === 'error'));
});

test('v2 jobs reach v1 workers only when their template has a src', async () => {
  const w = worker('node-1');
  const plain = await raw('POST', '/api/v2/jobs', {
    bearer: TOKEN,
    body: { template: { id: '01HZX3C5Y5V7E8W3J6T9Q2M1NB', composition: 'main' } },
  });
  assert.equal(plain.status, 201, plain.text);
  assert.deepEqual(await w.pickupJob(), {}, 'no src: not for v1 workers');
  assert.equal((await raw('PATCH', `/api/v2/jobs/${plain.json.id}/cancel`, { bearer: TOKEN })).status,
    200);

  const withSrc = await raw('POST', '/api/v2/jobs', {
    bearer: TOKEN,
    body: { template: { id: '01HZX3C5Y5V7E8W3J6T9Q2M1NB', composition: 'main', src: 'file:///tmp/y.aep' } },
  });
  assert.equal(withSrc.status, 201, withSrc.text);
  const job = await w.pickupJob();
  assert.equal(job.uid, withSrc.json.id);
  assert.equal(job.template.src, 'file:///tmp/y.aep');
  await start(w, job);
  await report(w, job, { state: 'finished' });
  assert.equal((await v2Job(job.uid)).status, 'finished');
});
