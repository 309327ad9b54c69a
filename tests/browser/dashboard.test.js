// cascade-server's dashboard (contract §16) in headless Chromium, Debian's
// /usr/bin/chromium driven by playwright-core. The test makes jobs and plays
// the render node itself through the REST API (fetch from Node), and checks
// what the page shows: a new job in the list within 2 s without a reload,
// a progress bar that follows the worker's heartbeats, a cancel that takes
// (one row's, and a selection's after one confirmation), a batch's counts
// by state equal to the API's, a job's family graph and log tail, the
// sign-in errors, and that the keyboard reaches the actions.
// Every page also must not break its Content-Security-Policy.
//
// Run by run.sh, which starts the server and sets:
//   CASCADE_URL    http://127.0.0.1:PORT (the server; /api/v2 under it)
//   DASHBOARD_URL  where the page is served (the server itself, normally)
//   CLIENT_TOKEN, WORKER_TOKEN, ARTIFACTS_DIR (the screenshot goes there)
// A wait runs to a bound and fails naming what it waited for.

'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const API = `${process.env.CASCADE_URL}/api/v2`;
const DASHBOARD = process.env.DASHBOARD_URL || process.env.CASCADE_URL;
const CLIENT = process.env.CLIENT_TOKEN;
const WORKER = process.env.WORKER_TOKEN;
const ARTIFACTS = process.env.ARTIFACTS_DIR || os.tmpdir();
const TEMPLATE = { id: '01HZX3C5Y5V7E8W3J6T9Q2M1NB', composition: 'main' };
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

let context = null;  // one browser, a fresh profile; each test opens its own tab
let profile = '';

// ---- The API, from Node ------------------------------------------------------------

async function call(method, route, body, token = CLIENT) {
  const response = await fetch(`${API}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // logs and graphs are text
  }
  return { status: response.status, json, text };
}

async function ok(method, route, body, token) {
  const r = await call(method, route, body, token);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${route}: ${r.status} ${r.text}`);
  return r.json;
}

// A tag no other test uses, so each test's worker claims only its own jobs.
function uniqueTag(name) {
  return `${name}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

async function createJob(tags, extra = {}) {
  return (await ok('POST', '/jobs', { template: TEMPLATE, tags, ...extra })).id;
}

const worker = {
  async claim(tags) {
    const r = await call('POST', '/workers/claim', { worker: 'browser-test-node', tags }, WORKER);
    assert.equal(r.status, 200, `claim ${tags}: ${r.status} ${r.text}`);
    return { id: r.json.job.id, lease: r.json.lease.token };
  },
  heartbeat: ({ id, lease }, progress) => ok('POST', `/jobs/${id}/heartbeat`, { lease, progress }, WORKER),
  finish: ({ id, lease }) => ok('POST', `/jobs/${id}/finish`, { lease }, WORKER),
  fail: ({ id, lease }, error) => ok('POST', `/jobs/${id}/fail`, { lease, error, retry: false }, WORKER),
  log: ({ id, lease }, lines) => ok('POST', `/jobs/${id}/logs`, { lease, lines }, WORKER),
};

async function waitFor(what, fn, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---- The browser ---------------------------------------------------------------------

before(async () => {
  assert.ok(process.env.CASCADE_URL && CLIENT && WORKER, 'run through tests/browser/run.sh');
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cascade-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_FLAGS,
    viewport: { width: 1366, height: 768 },
    timeout: 30000,
  });
});

after(async () => {
  if (context) await context.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

// A new tab on `hash`, signed in unless `token` is null. Records what would
// make the page wrong without a visible symptom: uncaught errors and
// Content-Security-Policy violations (inline styles, scripts); check() fails
// on any.
async function openPage(hash, { token = CLIENT } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/.test(message.text())) {
      problems.push(`CSP: ${message.text()}`);
    }
  });
  if (token !== null) {
    await page.addInitScript((t) => sessionStorage.setItem('cascade.token', t), token);
  }
  await page.goto(`${DASHBOARD}/${hash}`);
  page.check = () => assert.deepEqual(problems, [], 'the page logged errors');
  return page;
}

const row = (page, id) => page.locator(`[data-testid="job-row"][data-job-id="${id}"]`);

async function waitLive(page) {
  await page.locator('[data-testid="live-status"][data-status="live"]')
    .waitFor({ timeout: 5000 })
    .catch(() => { throw new Error('the event stream never went live (GET /api/v2/events)'); });
}

// ---- Tests -----------------------------------------------------------------------------

test('a job created through the API appears in the list within 2 s, without a reload', async () => {
  const page = await openPage('#/jobs');
  await page.locator('[data-testid="jobs-table"]').waitFor();
  await waitLive(page);
  await page.evaluate(() => { window.notReloaded = true; });

  const tag = uniqueTag('appear');
  const id = await createJob([tag]);
  const created = Date.now();
  await row(page, id).waitFor({ timeout: 2000 });
  const took = Date.now() - created;

  assert.equal(await row(page, id).getAttribute('data-state'), 'queued');
  assert.equal(await row(page, id).locator('[data-testid="job-tags"]').innerText(), tag);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page reloaded');
  console.log(`  the new job showed ${took} ms after its POST`);
  page.check();
  await page.close();
});

test('the progress bar follows the worker\'s heartbeats', async () => {
  const tag = uniqueTag('progress');
  const page = await openPage(`#/jobs?tags=${tag}`);
  await waitLive(page);
  const id = await createJob([tag]);
  const bar = row(page, id).locator('[data-testid="job-progress"]');
  await row(page, id).waitFor({ timeout: 2000 });
  assert.equal(await bar.getAttribute('aria-valuenow'), '0');

  const held = await worker.claim([tag]);
  assert.equal(held.id, id);
  await page.locator(`[data-testid="job-row"][data-job-id="${id}"][data-state="render:dorender"]`)
    .waitFor({ timeout: 2000 });
  // The stream sends at most one progress event a job a second, so the
  // worker heartbeats as a real one does (repeatedly) until the page shows it.
  for (const progress of [10, 60]) {
    await waitFor(`the row to show ${progress}%`, async () => {
      await worker.heartbeat(held, progress);
      return (await bar.getAttribute('aria-valuenow')) === String(progress);
    }, 4000);
    assert.equal(await bar.locator('[data-testid="progress-text"]').innerText(), `${progress}%`);
    const width = await bar.locator('.bar-fill').evaluate((el) => el.style.width);
    assert.equal(width, `${progress}%`);
  }
  page.check();
  await page.close();
});

test('the row\'s cancel button asks first, Esc keeps the job, confirming cancels it', async () => {
  const tag = uniqueTag('cancel');
  const id = await createJob([tag]);
  const page = await openPage(`#/jobs?tags=${tag}`);
  const cancel = row(page, id).locator('[data-testid="action-cancel"]');
  await cancel.click();
  const dialog = page.locator('[data-testid="confirm-dialog"]');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), new RegExp(id));
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal((await ok('GET', `/jobs/${id}`)).status, 'queued', 'Esc must not cancel');

  await cancel.click();
  await page.locator('[data-testid="confirm-ok"]').click();
  await page.locator(`[data-testid="job-row"][data-job-id="${id}"][data-state="manually_cancelled"]`)
    .waitFor({ timeout: 2000 });
  assert.equal(await row(page, id).locator('[data-testid="job-state"]').innerText(), 'cancelled');
  assert.equal((await ok('GET', `/jobs/${id}`)).status, 'manually_cancelled');
  assert.equal(await cancel.isVisible(), false, 'a cancelled job offers no cancel');
  assert.equal(await row(page, id).locator('[data-testid="action-retry"]').isVisible(), true);
  page.check();
  await page.close();
});

test('bulk cancel: the selected rows that can be cancelled are, after one confirmation', async () => {
  const tag = uniqueTag('bulk');
  const rendering = await createJob([tag]);
  const queued = [await createJob([tag]), await createJob([tag])];
  const held = await worker.claim([tag]);
  assert.equal(held.id, rendering, 'the oldest is claimed first');
  const page = await openPage(`#/jobs?tags=${tag}`);
  for (const id of [rendering, ...queued]) await row(page, id).waitFor();
  const count = page.locator('[data-testid="selection-count"]');
  assert.equal(await page.locator('[data-testid="bulk-cancel"]').isDisabled(), true);
  await page.locator('[data-testid="select-all"]').check();
  assert.equal(await count.innerText(), '3 selected');
  await page.locator('[data-testid="bulk-cancel"]').click();
  const dialog = page.locator('[data-testid="confirm-dialog"]');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /Cancel 2 jobs\?/);
  assert.match(await dialog.innerText(), /1 selected job is left out/);
  await page.locator('[data-testid="confirm-ok"]').click();
  for (const id of queued) {
    await page.locator(`[data-testid="job-row"][data-job-id="${id}"][data-state="manually_cancelled"]`)
      .waitFor({ timeout: 2000 });
    assert.equal((await ok('GET', `/jobs/${id}`)).status, 'manually_cancelled');
  }
  assert.equal((await ok('GET', `/jobs/${rendering}`)).status, 'render:dorender');
  assert.equal(await row(page, rendering).getAttribute('data-state'), 'render:dorender');
  page.check();
  await page.close();
});

test('a batch page counts its jobs by state as the API does, adding up to the total', async () => {
  const tag = uniqueTag('batch');
  const created = await ok('POST', '/batches', { jobs: Array.from({ length: 7 }, () => ({ template: TEMPLATE, tags: [tag] })) });
  const batchId = created.batchId;
  // As the worker: one finished, one failed for good, two rendering; one
  // cancelled by the client; two left queued.
  const finished = await worker.claim([tag]);
  await worker.finish(finished);
  await worker.fail(await worker.claim([tag]), 'bad input');
  const rendering = await worker.claim([tag]);
  await worker.heartbeat(rendering, 30);
  await worker.claim([tag]);
  const status = await ok('GET', `/batches/${batchId}`);
  const cancelMe = status.jobs.find((j) => j.status === 'queued').id;
  await ok('PATCH', `/jobs/${cancelMe}/cancel`);

  const page = await openPage(`#/batches/${batchId}`);
  const pageCounts = async () => Object.fromEntries(await page.locator('[data-testid="batch-count"]')
    .evaluateAll((cells) => cells.map((c) => [c.dataset.state, Number(c.textContent)])));
  const check = async () => {
    const api = (await ok('GET', `/batches/${batchId}`)).stats;
    const shown = await waitFor('the page\'s counts to equal the API\'s', async () => {
      const counts = await pageCounts();
      return JSON.stringify(counts) === JSON.stringify({ ...Object.fromEntries(Object.keys(counts).map((s) => [s, 0])), ...api.byState }) && counts;
    }, 3000);
    const sum = Object.values(shown).reduce((a, b) => a + b, 0);
    assert.equal(sum, api.total);
    assert.equal(Number(await page.locator('[data-testid="batch-total"]').innerText()), api.total);
    // The stacked bar: one visible segment per state with jobs, widths adding up to 100%.
    const widths = await page.locator('[data-testid="batch-segment"]:visible')
      .evaluateAll((segments) => segments.map((s) => [s.dataset.state, parseFloat(s.style.width)]));
    assert.deepEqual(widths.map(([s]) => s).sort(), Object.keys(shown).filter((s) => shown[s] > 0).sort());
    assert.ok(Math.abs(widths.reduce((a, [, w]) => a + w, 0) - 100) < 0.01, JSON.stringify(widths));
    return shown;
  };
  const first = await check();
  assert.deepEqual(first, {
    queued: 2, pending: 0, 'render:dorender': 2, finished: 1, error: 1, manually_cancelled: 1,
  });
  // Live: the worker finishes the other job it renders; the page follows.
  await waitLive(page);
  await worker.finish(rendering);
  const second = await check();
  assert.equal(second.finished, 2);
  assert.equal(second['render:dorender'], 1);
  page.check();
  await page.close();
});

test('the job page draws its family graph and shows its log tail', async () => {
  const tag = uniqueTag('family');
  const childTag = `${tag}-child`;
  const nested = (layerName) => ({ type: 'job', layerName, tags: [childTag],
    template: { id: TEMPLATE.id, composition: layerName } });
  const parent = await ok('POST', '/jobs', { template: TEMPLATE, tags: [tag],
    assets: [nested('intro'), nested('outro')] });
  const held = await worker.claim([childTag]);
  await worker.log(held, ['frame 1/250', 'frame 2/250', 'rendering intro']);

  const page = await openPage(`#/jobs/${held.id}`);
  const log = page.locator('[data-testid="job-log"]');
  await waitFor('the log tail', async () => (await log.innerText()).includes('rendering intro'), 3000);
  assert.match(await log.innerText(), /frame 1\/250\nframe 2\/250\nrendering intro/);
  // While it renders, the tail keeps up.
  await worker.log(held, ['frame 3/250']);
  await waitFor('the new log line', async () => (await log.innerText()).endsWith('frame 3/250'), 5000);

  // One node per job of the family, each a link to its page.
  const graph = page.locator('[data-testid="job-graph"] svg');
  await graph.waitFor({ timeout: 5000 }).catch(() => {
    throw new Error('no <svg> in the job page (GET /api/v2/jobs/{id}/graph.svg)');
  });
  const family = [parent.id, ...parent.children.map((c) => c.id)].sort();
  assert.equal(await graph.locator('g.node').count(), family.length);
  const links = await graph.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href') || a.getAttribute('xlink:href')));
  assert.deepEqual([...new Set(links)].sort(), family.map((id) => `#/jobs/${id}`).sort());
  // A node is a link: the parent's opens the parent's page.
  await graph.locator('a').nth(links.indexOf(`#/jobs/${parent.id}`)).click();
  await page.locator(`[data-testid="job-id"]:text("${parent.id}")`).waitFor({ timeout: 3000 });
  assert.equal(new URL(page.url()).hash, `#/jobs/${parent.id}`);
  page.check();
  await page.close();
});

test('sign-in refuses a wrong token with a message; the keyboard reaches the actions', async () => {
  const page = await openPage('', { token: null });
  const form = page.locator('[data-testid="login-form"]');
  await form.waitFor();
  const error = page.locator('[data-testid="login-error"]');
  assert.equal(await error.isVisible(), false);

  await page.locator('[data-testid="login-token"]').fill('not-a-token');
  await page.keyboard.press('Enter');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.innerText(), /does not know that token/);
  await page.locator('[data-testid="login-token"]').fill(WORKER);
  await page.locator('[data-testid="login-submit"]').click();
  await page.locator('[data-testid="login-error"]:text("worker token")').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cascade.token')), null);

  const tag = uniqueTag('keys');
  const id = await createJob([tag]);
  await page.locator('[data-testid="login-token"]').fill(CLIENT);
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="jobs-table"]').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cascade.token')), CLIENT);
  await row(page, id).waitFor();

  // '/' focuses the filter; then the keyboard alone filters to this job and
  // Tab reaches its cancel button.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'filter');
  await page.keyboard.type(tag);
  await page.keyboard.press('Enter');
  await waitFor('the filter to apply', async () => (await page.locator('[data-testid="job-row"]').count()) === 1, 3000);
  let reached = null;
  for (let i = 0; i < 40 && !reached; i += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => {
      const el = document.activeElement;
      return el && el.dataset.testid === 'action-cancel'
        ? { row: el.closest('tr').dataset.jobId, outline: getComputedStyle(el).outlineStyle } : null;
    });
  }
  assert.ok(reached, 'Tab never reached a row\'s cancel button');
  assert.equal(reached.row, id);
  assert.notEqual(reached.outline, 'none', 'the focused button shows no focus ring');
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="confirm-dialog"]').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'confirm-cancel');
  await page.keyboard.press('Escape');
  await page.locator('[data-testid="confirm-dialog"]').waitFor({ state: 'detached' });
  assert.equal((await ok('GET', `/jobs/${id}`)).status, 'queued');
  page.check();
  await page.close();
});

test('screenshot: the jobs page with jobs in several states', async () => {
  // A few more jobs so that every state shows: the earlier tests left
  // queued, rendering, finished, error and cancelled ones.
  const tag = uniqueTag('shot');
  await createJob([tag, 'promo'], { priority: 5 });
  const page = await openPage('#/jobs');
  await page.locator('[data-testid="job-row"]').first().waitFor();
  await waitLive(page);
  const states = new Set(await page.locator('[data-testid="job-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.state)));
  for (const state of ['queued', 'render:dorender', 'finished', 'error', 'manually_cancelled']) {
    assert.ok(states.has(state), `no ${state} job on the first page (${[...states]})`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, 'dashboard.png');
  await page.screenshot({ path: file });
  const png = fs.readFileSync(file);
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  console.log(`  screenshot: ${file}`);
  page.check();
  await page.close();
});
