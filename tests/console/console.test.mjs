// The ops console in a real browser against the real custops with the demo
// population (docs/console.md "Testing"). Started by run_console_test.sh,
// which runs the server and passes, in the environment:
//
//   CONSOLE_URL       http://127.0.0.1:<port>/  (custops' HTTP listener)
//   ADMIN_TOKEN       a reader+admin token
//   REGION_TOKEN      a reader token scoped to REGION
//   REGION            that region, e.g. 华南
//   FIXED_CLOCK       the server's clock (RFC 3339)
//   ARTEFACTS         where screenshots and results.json go
//   CHROMIUM          the browser (default /usr/bin/chromium)
//   WEB_DIR           web/ (playwright-core is in its node_modules)
//
// Every figure the test checks is formatted here independently of the
// console's own code, from the JSON API's answer to the same query.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env('CONSOLE_URL');
const ADMIN_TOKEN = env('ADMIN_TOKEN');
const REGION_TOKEN = env('REGION_TOKEN');
const REGION = env('REGION');
const FIXED_CLOCK = env('FIXED_CLOCK');
const ARTEFACTS = env('ARTEFACTS');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const WEB_DIR = env('WEB_DIR');
const BUDGET_BYTES = 1024 * 1024;

const require = createRequire(path.join(WEB_DIR, 'package.json'));
const { chromium } = require('playwright-core');

fs.mkdirSync(ARTEFACTS, { recursive: true });

// ---------------------------------------------------------------- API side

async function api(token, service, method, body) {
  const response = await fetch(new URL(`custops.v1.${service}/${method}`, BASE), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    const e = new Error(`${service}/${method}: HTTP ${response.status} ${text}`);
    e.status = response.status;
    throw e;
  }
  return JSON.parse(text);
}

// Independent renderings of the server's figures (the console must match).
function groupDigits(s) {
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
function money(m) {
  const units = BigInt(m?.units ?? '0');
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const s = `¥${groupDigits((abs / 100n).toString())}.${(abs % 100n).toString().padStart(2, '0')}`;
  return neg ? `-${s}` : s;
}
function percent(f) {
  if (!f) return '—';
  const n = BigInt(f.numerator ?? '0') * 1000n;
  const d = BigInt(f.denominator);
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  if ((a % d) * 2n >= d) q += 1n;
  const s = `${groupDigits((q / 10n).toString())}.${q % 10n}%`;
  return neg && q !== 0n ? `-${s}` : s;
}

// ------------------------------------------------------------ the harness

const results = { steps: [], figures: {} };
let failures = 0;

/** One checked step: failures are recorded and the run goes on. */
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.steps.push({ name, ok: true, ms: Date.now() - started });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures++;
    results.steps.push({ name, ok: false, ms: Date.now() - started, error: String(e?.stack ?? e) });
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A browser context with a fresh profile that records console errors,
 * uncaught exceptions, failed requests and bytes on the wire.
 */
async function openBrowser(label) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `console-${label}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: LAUNCH_ARGS,
    viewport: { width: 1440, height: 900 },
    locale: 'zh-CN',
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  const net = { bytes: 0, byUrl: new Map() };
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push({ kind: 'console', text: m.text(), url: m.location()?.url ?? '' });
  });
  page.on('pageerror', (e) => problems.push({ kind: 'pageerror', text: String(e), url: '' }));
  page.on('requestfailed', (r) => problems.push({ kind: 'requestfailed', text: r.failure()?.errorText ?? '', url: r.url() }));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push({ kind: 'http', text: String(r.status()), url: r.url() });
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map();
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e) => {
    net.bytes += e.encodedDataLength;
    const url = urls.get(e.requestId) ?? '?';
    net.byUrl.set(url, (net.byUrl.get(url) ?? 0) + e.encodedDataLength);
  });
  return {
    context,
    page,
    net,
    /** Problems since the last call, minus those `allowed` matches. */
    takeProblems(allowed = () => false) {
      const out = problems.splice(0).filter((p) => !allowed(p));
      return out;
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

function assertNoProblems(b, allowed) {
  const p = b.takeProblems(allowed);
  assert.deepEqual(p, [], `console errors or failed requests: ${JSON.stringify(p, null, 1)}`);
}

async function waitReady(page, name, want = 'ready', timeout = 60_000, route = null) {
  const sel = `[data-testid="page-${name}"]${route === null ? '' : `[data-route="${route.replace(/["\\]/g, '\\$&')}"]`}`;
  await page.waitForSelector([want, 'error', 'not-found'].map((s) => `${sel}[data-state="${s}"]`).join(', '), { timeout });
  const state = await page.getAttribute(sel, 'data-state');
  if (state !== want) {
    const text = await page.textContent(sel);
    throw new Error(`page ${name} ended in state ${state}: ${text?.slice(0, 400)}`);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTEFACTS, `${name}.png`), fullPage: true });
}

async function text(page, testid) {
  return (await page.textContent(`[data-testid="${testid}"]`))?.trim();
}

/** Navigates within the console (a hash route) and waits for the page. */
async function go(page, hash, name, want = 'ready') {
  // The page names the route it rendered (data-route), so a state left from
  // the previous route is never taken for this one's.
  const route = await page.evaluate((h) => {
    location.hash = h;
    return location.hash;
  }, hash);
  await waitReady(page, name, want, 60_000, route);
}

// ------------------------------------------------------------ the run

const clock = new Date(FIXED_CLOCK);
// The last complete month before the clock, as a date inside it (Shanghai).
const prevMonth = (() => {
  const d = new Date(Date.UTC(clock.getUTCFullYear(), clock.getUTCMonth() - 1, 15));
  return d.toISOString().slice(0, 10);
})();
const periodStart = `${prevMonth}T12:00:00Z`;

await step('projections caught up with the demo load', async () => {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const s = await api(ADMIN_TOKEN, 'Admin', 'Status', {});
    const lagging = (s.projections ?? []).flatMap((p) =>
      (p.partitions ?? []).filter((x) => BigInt(x.lag ?? '0') > 0n || x.restoring).map((x) => `${p.name}/${x.partition ?? 0}`),
    );
    const applied = BigInt((s.projections ?? []).find((p) => p.name === 'lifecycle')?.eventsApplied ?? '0');
    if (lagging.length === 0 && applied >= 1_000n) return;
    if (Date.now() > deadline) throw new Error(`still lagging: ${lagging.join(' ')}; lifecycle applied ${applied} events`);
    await new Promise((r) => setTimeout(r, 500));
  }
});

if (failures > 0) {
  console.log('no demo data to test the console on: stopping');
  process.exit(1);
}

const admin = await openBrowser('admin');
const { page } = admin;

await step('sign-in page, then the 复盘 page with the dev token; first-load bytes', async () => {
  await page.goto(BASE);
  await page.waitForSelector('[data-testid="page-signin"]');
  // The server offers the admin token as its dev token (loopback only).
  await page.waitForSelector('[data-testid="signin-dev"]');
  const staticBytes = admin.net.bytes;
  await shot(page, '00-signin');
  await page.click('[data-testid="signin-dev"]');
  await waitReady(page, 'review');
  const firstLoad = admin.net.bytes;
  // whoami without a token answers 401: that is how the console learns it
  // must sign in.
  assertNoProblems(admin, (p) => p.url.includes('/v1/whoami') || (p.kind === 'console' && /status of 401/.test(p.text)));
  assert.equal(await text(page, 'whoami-subject'), 'console-admin');
  results.figures.first_load_static_bytes = staticBytes;
  results.figures.first_load_bytes_with_api = firstLoad;
  results.figures.first_load_by_url = Object.fromEntries(admin.net.byUrl);
  console.log(`     first load: ${staticBytes} bytes of console files on the wire, ${firstLoad} with the first API calls`);
  assert.ok(firstLoad < BUDGET_BYTES, `first load ${firstLoad} bytes >= 1 MiB`);
});

await step('console files: every asset gzip-compressed under 1 MiB in all', async () => {
  // What a first visit of every page could fetch: index.html and all assets.
  const html = await (await fetch(BASE)).text();
  const assets = new Set([...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]));
  const js = [...assets].filter((a) => a.endsWith('.js'));
  // Chunks imported by the entry (the lazily loaded ECharts chunk).
  for (const a of js) {
    const body = await (await fetch(new URL(a, BASE))).text();
    for (const m of body.matchAll(/["'`]\.\/([A-Za-z0-9_.-]+\.(?:js|css))["'`]/g)) assets.add(`assets/${m[1]}`);
  }
  let raw = Buffer.byteLength(html);
  let gz = zlib.gzipSync(html, { level: 9 }).length;
  let served = 0;
  for (const a of assets) {
    const r = await fetch(new URL(a, BASE), { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(r.status, 200, a);
    const body = Buffer.from(await r.arrayBuffer()); // fetch decodes gzip
    raw += body.length;
    gz += zlib.gzipSync(body, { level: 9 }).length;
    if (r.headers.get('content-encoding') === 'gzip') served++;
  }
  results.figures.all_assets_raw_bytes = raw;
  results.figures.all_assets_gzip_bytes = gz;
  results.figures.assets_served_gzip = `${served}/${assets.size}`;
  console.log(`     all console files: ${raw} bytes, ${gz} gzip (${assets.size} assets, ${served} served gzip-encoded)`);
  assert.ok(gz < BUDGET_BYTES, `all assets ${gz} gzip bytes >= 1 MiB`);
});

await step('复盘 revenue equals GetReview for the same query', async () => {
  await go(page, `#/review?gran=month&date=${prevMonth}&dim=all`, 'review');
  const report = await api(ADMIN_TOKEN, 'Review', 'GetReview', {
    granularity: 'GRANULARITY_MONTH',
    periodStart,
    dimension: 'DIMENSION_ALL',
    historyPeriods: 12,
  });
  const revenue = report.metrics.find((m) => m.name === 'revenue');
  assert.ok(revenue?.value?.money, 'GetReview has a revenue');
  assert.equal(await text(page, 'metric-revenue-value'), money(revenue.value.money));
  assert.equal(await text(page, 'review-period-key'), report.periodKey);
  const winRate = report.metrics.find((m) => m.name === 'win_rate');
  if (winRate?.value?.ratio) assert.equal(await text(page, 'metric-win_rate-value'), percent(winRate.value.ratio));
  assert.equal(revenue.history?.length, 12, 'twelve periods of history');
  assert.ok(await page.isVisible('[data-testid="metric-revenue-spark"] path'), 'revenue sparkline drawn');
  results.figures.review_revenue = money(revenue.value.money);
  await shot(page, '01-review');
  await page.emulateMedia({ media: 'print' });
  await shot(page, '01-review-print');
  await page.emulateMedia({ media: 'screen' });
  assertNoProblems(admin);
});

await step('复盘 CSV export holds the rendered strings', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="review-csv"]')]);
  const file = path.join(ARTEFACTS, 'review.csv');
  await download.saveAs(file);
  const csv = fs.readFileSync(file, 'utf8');
  const revenue = await text(page, 'metric-revenue-value');
  assert.ok(csv.split('\n').some((l) => l.includes(`"${revenue}"`) || l.includes(`,${revenue},`)), `CSV lacks ${revenue}`);
  assertNoProblems(admin);
});

let ownerRows = 0;
await step('复盘 month × owner: CompareReview table (timed from navigation start)', async () => {
  const url = `${BASE}#/review?gran=month&date=${prevMonth}&dim=owner`;
  await page.goto('about:blank');
  await page.goto(url);
  await page.waitForSelector('[data-testid="compare-table"] tbody tr[data-testid^="compare-row-"]', { timeout: 60_000 });
  await waitReady(page, 'review');
  const ms = await page.evaluate(() => performance.getEntriesByName('custops:compare-table')[0]?.startTime ?? -1);
  assert.ok(ms > 0, 'the compare-table mark is set');
  const compare = await api(ADMIN_TOKEN, 'Review', 'CompareReview', {
    granularity: 'GRANULARITY_MONTH',
    periodStart,
    dimension: 'DIMENSION_OWNER',
    pageSize: 1000,
  });
  ownerRows = await page.locator('[data-testid="compare-table"] tbody tr[data-testid^="compare-row-"]').count();
  assert.equal(ownerRows, compare.rows.length, 'one row per owner');
  const row = compare.rows[0];
  const rev = row.metrics.find((m) => m.name === 'revenue');
  assert.equal(await text(page, `compare-cell-${row.dimensionValue}-revenue`), money(rev.value.money));
  results.figures.review_month_by_owner_ms = Math.round(ms);
  results.figures.review_month_by_owner_rows = ownerRows;
  console.log(`     month × owner: ${ownerRows} owners rendered ${Math.round(ms)} ms after navigation start`);
  await shot(page, '02-review-by-owner');
  // Sorting by revenue (descending first) puts the largest on top.
  await page.click('[data-testid="compare-table-sort-revenue"]');
  const top = await page.locator('[data-testid="compare-table"] tbody tr').first().getAttribute('data-testid');
  let best = compare.rows[0];
  for (const r of compare.rows) {
    const v = BigInt(r.metrics.find((m) => m.name === 'revenue')?.value?.money?.units ?? '0');
    if (v > BigInt(best.metrics.find((m) => m.name === 'revenue')?.value?.money?.units ?? '0')) best = r;
  }
  assert.equal(top, `compare-row-${best.dimensionValue}`);
  // A row opens that owner's report.
  await page.click(`[data-testid="compare-row-${row.dimensionValue}"]`);
  await page.waitForSelector('[data-testid="review-dimension-value"]');
  await waitReady(page, 'review');
  const one = await api(ADMIN_TOKEN, 'Review', 'GetReview', {
    granularity: 'GRANULARITY_MONTH',
    periodStart,
    dimension: 'DIMENSION_OWNER',
    dimensionValue: row.dimensionValue,
  });
  assert.equal(await text(page, 'metric-revenue-value'), money(one.metrics.find((m) => m.name === 'revenue').value.money));
  await shot(page, '03-review-owner');
  assertNoProblems(admin);
});

await step('a finding drills to its customers and to one customer\'s 360° page', async () => {
  // The latest month (of the last 12) with a finding naming customers.
  let found = null;
  for (let back = 1; back <= 12 && !found; back++) {
    const d = new Date(Date.UTC(clock.getUTCFullYear(), clock.getUTCMonth() - back, 15)).toISOString().slice(0, 10);
    const r = await api(ADMIN_TOKEN, 'Review', 'GetReview', {
      granularity: 'GRANULARITY_MONTH',
      periodStart: `${d}T12:00:00Z`,
      dimension: 'DIMENSION_ALL',
    });
    const f = (r.findings ?? []).find((x) => (x.customerIds ?? []).length > 0);
    if (f) found = { date: d, finding: f };
  }
  assert.ok(found, 'some month of the last 12 has a finding naming customers');
  await go(page, `#/review?gran=month&date=${found.date}&dim=all`, 'review');
  const box = `[data-testid="finding-${found.finding.ruleId}-customers"]`;
  await page.waitForSelector(box);
  const shown = await page.locator(`${box} [data-testid="finding-customer"]`).allTextContents();
  assert.deepEqual(shown, found.finding.customerIds.slice(0, shown.length), 'the finding\'s customers, in order');
  const id = shown[0];
  await page.click(`${box} [data-testid="finding-customer"] >> nth=0`);
  await waitReady(page, 'customer');
  const view = await api(ADMIN_TOKEN, 'Lifecycle', 'GetCustomer', { customerId: id });
  assert.equal(await text(page, 'customer-name'), view.profile.name);
  assert.equal(await text(page, 'customer-id'), id);
  results.figures.finding_drill = `${found.date.slice(0, 7)} ${found.finding.ruleId} → ${id} ${view.profile.name}`;
  await shot(page, '04-customer-360-from-finding');
  assertNoProblems(admin, (p) => p.url.includes('GetValue') && /40[4]/.test(p.text + p.url)); // a non-customer kind has no value
});

await step('复盘 actions with their progress (value_then → value_now)', async () => {
  // A region with actions (the demo's organisation events plan them against
  // regions' reviews).
  const regions = ['华东', '华南', '华北', '华中', '西南', '西北', '东北'];
  let found = null;
  for (const region of regions) {
    const r = await api(ADMIN_TOKEN, 'Review', 'GetReview', {
      granularity: 'GRANULARITY_MONTH',
      periodStart,
      dimension: 'DIMENSION_REGION',
      dimensionValue: region,
    });
    if ((r.actions ?? []).length > 0) {
      found = { region, r };
      break;
    }
  }
  // The demo (either way it is loaded) plans actions against regions' reviews.
  assert.ok(found, `no review actions in any region's review of ${prevMonth}`);
  await go(page, `#/review?gran=month&date=${prevMonth}&dim=region&value=${encodeURIComponent(found.region)}`, 'review');
  const actions = found.r.actions;
  assert.equal(await page.locator('[data-testid="actions-table"] tbody tr[data-testid^="action-"]').count(), actions.length);
  for (const a of actions) {
    const row = `[data-testid="action-${a.actionId}"]`;
    if (a.valueThen?.ratio && a.valueNow?.ratio) {
      const progress = (await page.textContent(`[data-testid="action-${a.actionId}-progress"]`)).trim();
      assert.ok(progress.endsWith(`${percent(a.valueThen.ratio)} → ${percent(a.valueNow.ratio)}`), `${a.actionId}: ${progress}`);
    }
    const badge = (await page.textContent(`${row} .badge`)).trim();
    assert.equal(badge, a.closed ? '已关闭' : '进行中', a.actionId);
  }
  results.figures.actions_checked = actions.length;
  await shot(page, '03-review-region-actions');
  assertNoProblems(admin);
});

await step('销售漏斗 win rate equals Funnel', async () => {
  await go(page, `#/funnel?gran=month&date=${prevMonth}&dim=all`, 'funnel');
  const f = await api(ADMIN_TOKEN, 'Review', 'Funnel', {
    period: { granularity: 'GRANULARITY_MONTH', start: periodStart },
    dimension: 'DIMENSION_ALL',
  });
  const s = f.slices?.[0] ?? {};
  assert.equal(await text(page, 'funnel-win-rate'), percent(s.winRate));
  assert.equal(await text(page, 'funnel-weighted-pipeline'), money(s.weightedPipeline));
  results.figures.funnel_win_rate = percent(s.winRate);
  await shot(page, '05-funnel');
  await go(page, `#/funnel?gran=quarter&date=${prevMonth}&dim=region`, 'funnel');
  await page.waitForSelector('[data-testid="funnel-slices"]');
  await shot(page, '05-funnel-by-region');
  assertNoProblems(admin);
});

let otherRegionCustomer = null;
await step('客户: distribution chart and the list', async () => {
  await go(page, '#/customers', 'customers');
  await page.waitForSelector('[data-testid="stage-chart"][data-state="ready"]');
  const list = await api(ADMIN_TOKEN, 'Lifecycle', 'ListCustomers', { pageSize: 50 });
  const first = list.customers[0];
  const name = await page.textContent(`[data-testid="customer-row-${first.customerId}"] [data-testid="customer-name-link"]`);
  assert.equal(name, first.name);
  // The next page is the API's next page (page tokens).
  const page2 = await api(ADMIN_TOKEN, 'Lifecycle', 'ListCustomers', { pageSize: 50, pageToken: list.nextPageToken });
  await page.click('[data-testid="customers-pager-next"]');
  await page.waitForSelector(`[data-testid="customer-row-${page2.customers[0].customerId}"]`);
  await waitReady(page, 'customers');
  await page.click('[data-testid="customers-pager-prev"]');
  await page.waitForSelector(`[data-testid="customer-row-${first.customerId}"]`);
  await waitReady(page, 'customers');
  await shot(page, '06-customers');
  // A customer outside the scoped token's region, for later.
  const other = await api(ADMIN_TOKEN, 'Lifecycle', 'ListCustomers', { filter: { region: '华东' === REGION ? '华北' : '华东' }, pageSize: 1 });
  otherRegionCustomer = other.customers[0];
  await go(page, '#/customers?by=owner&stage=LIFECYCLE_STAGE_CUSTOMER', 'customers');
  await page.waitForSelector('[data-testid="stage-chart"][data-state="ready"]');
  await shot(page, '06-customers-by-owner');
  assertNoProblems(admin);
});

await step('客户 360°: profile, value, activity, timeline', async () => {
  // A paying customer of kind CUSTOMER, so every part has something.
  const list = await api(ADMIN_TOKEN, 'Lifecycle', 'ListCustomers', {
    filter: { stage: 'LIFECYCLE_STAGE_CUSTOMER', kind: 'CUSTOMER_KIND_CUSTOMER' },
    pageSize: 5,
  });
  const id = list.customers[0].customerId;
  await go(page, `#/customers/${id}`, 'customer');
  const view = await api(ADMIN_TOKEN, 'Lifecycle', 'GetCustomer', { customerId: id });
  const value = await api(ADMIN_TOKEN, 'Value', 'GetValue', { customerId: id });
  assert.equal(await text(page, 'customer-name'), view.profile.name);
  assert.equal(await text(page, 'value-margin'), money(value.margin));
  assert.ok((await page.locator('[data-testid="timeline-row"]').count()) > 0, 'timeline rows');
  await shot(page, '07-customer-360');
  assertNoProblems(admin);
});

await step('价值: tiers, Pareto, negative assets, CLV model', async () => {
  await go(page, '#/value', 'value');
  await page.waitForSelector('[data-testid="tier-chart"][data-state="ready"]');
  await page.waitForSelector('[data-testid="pareto-chart"][data-state="ready"]');
  const tiers = await api(ADMIN_TOKEN, 'Value', 'TierSummary', {});
  assert.equal(await text(page, 'tier-total'), groupDigits(BigInt(tiers.total ?? '0').toString()));
  await shot(page, '08-value');
  await go(page, '#/value/list', 'value-list');
  const neg = await api(ADMIN_TOKEN, 'Value', 'ListCustomers', { filter: { negativeAssetOnly: true }, pageSize: 50 });
  assert.equal(await page.locator('[data-testid="value-table"] tbody tr[data-testid^="value-row-"]').count(), (neg.customers ?? []).length);
  await shot(page, '09-value-negative-assets');
  await go(page, '#/value/clv', 'value-clv');
  await shot(page, '10-value-clv');
  // GetClvModel answers FAILED_PRECONDITION until a first fit; the page says so.
  assertNoProblems(admin, (p) => p.url.includes('GetClvModel') || (p.kind === 'console' && /status of 412/.test(p.text) && p.url.includes('GetClvModel')));
});

await step('工作清单 shows the customers\' names', async () => {
  const w = await api(ADMIN_TOKEN, 'Review', 'Worklist', { ownerId: 'rep-01', pageSize: 1000 });
  assert.ok((w.items ?? []).length > 0, 'rep-01 has a worklist');
  await go(page, '#/worklist?owner=rep-01&group=none', 'worklist');
  const names = await page.locator('[data-testid="worklist-customer-name"]').allTextContents();
  assert.equal(names.length, w.items.length);
  const want = new Set(w.items.map((i) => i.customerName));
  for (const n of names) assert.ok(want.has(n) && n !== '', `name ${n}`);
  assert.ok(w.items.every((i) => i.customerName), 'the API names every customer');
  await shot(page, '11-worklist');
  await go(page, '#/worklist?owner=rep-01&group=reason', 'worklist');
  await shot(page, '11-worklist-by-reason');
  assertNoProblems(admin);
});

await step('运行: status, admin actions visible to an admin', async () => {
  await go(page, '#/ops', 'ops');
  assert.ok(await page.isVisible('[data-testid="ops-refit"]'), 'admin sees RefitClv');
  assert.equal((await page.locator('[data-testid="ops-lag"]').allTextContents()).filter((x) => x.trim() !== '0').length, 0, 'no lag');
  await shot(page, '12-ops');
  assertNoProblems(admin);
});

await step('运行: the live strip shows a change as it happens (SSE /v1/changes)', async () => {
  await page.click('[data-testid="ops-live-toggle"]');
  // Give the stream a moment to attach at "latest", then cause a change: a
  // new customer (lifecycle: → PROSPECT). Outside the scoped token's region.
  await page.waitForTimeout(500);
  const id = `CONSOLE-PROBE-${Date.now()}`;
  await api(ADMIN_TOKEN, 'Customers', 'RegisterCustomer', {
    requestId: id,
    customerId: id,
    occurredAt: FIXED_CLOCK,
    name: '控制台探针有限公司',
    kind: 'CUSTOMER_KIND_CUSTOMER',
    region: REGION === '华东' ? '华北' : '华东',
    ownerId: 'rep-01',
  });
  await page.waitForSelector(`[data-testid="ops-live"] li a:text-is("${id}")`, { timeout: 30_000 });
  await shot(page, '12-ops-live');
  await page.click('[data-testid="ops-live-toggle"]'); // stop: the stream is aborted
  await page.waitForTimeout(200);
  assertNoProblems(admin, (p) => p.url.includes('/v1/changes') && p.kind === 'requestfailed' && /ABORTED/.test(p.text));
});

await step('English switch', async () => {
  await go(page, '#/review', 'review');
  await page.click('[data-testid="lang-switch"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="nav-review"]')?.textContent === 'Review');
  await waitReady(page, 'review');
  await shot(page, '13-review-english');
  await page.click('[data-testid="lang-switch"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="nav-review"]')?.textContent === '复盘');
  assertNoProblems(admin);
});

await admin.close();

const scoped = await openBrowser('region');
await step(`a pasted token scoped to ${REGION} sees only ${REGION}`, async () => {
  const p = scoped.page;
  await p.goto(BASE);
  await p.waitForSelector('[data-testid="page-signin"]');
  await p.waitForSelector('[data-testid="signin-dev"]'); // the dev-token probe has answered
  await p.fill('[data-testid="signin-token"]', REGION_TOKEN);
  await p.click('[data-testid="signin-submit"]');
  await waitReady(p, 'review');
  assert.equal(await text(p, 'whoami-regions'), REGION);
  // Only ALL and REGION on offer, and the note says why.
  const dims = await p.locator('[data-testid="review-dimension"] option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(dims, ['all', 'region']);
  assert.ok(await p.isVisible('[data-testid="review-scoped-note"]'));
  assertNoProblems(scoped, (x) => x.url.includes('/v1/whoami') || (x.kind === 'console' && /status of 401/.test(x.text)));
  await go(p, `#/review?gran=month&date=${prevMonth}&dim=region&value=${encodeURIComponent(REGION)}`, 'review');
  const r = await api(REGION_TOKEN, 'Review', 'GetReview', {
    granularity: 'GRANULARITY_MONTH',
    periodStart,
    dimension: 'DIMENSION_REGION',
    dimensionValue: REGION,
  });
  assert.equal(await text(p, 'metric-revenue-value'), money(r.metrics.find((m) => m.name === 'revenue').value.money));
  await shot(p, '20-scoped-review');
  await go(p, '#/customers', 'customers');
  const regions = await p.locator('[data-testid="customers-table"] [data-testid="customer-region"]').allTextContents();
  assert.ok(regions.length > 0, 'some customers listed');
  assert.deepEqual([...new Set(regions)], [REGION]);
  const stageRows = await p.locator('[data-testid="stage-table"] tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-testid')));
  assert.deepEqual(stageRows, [`stage-row-${REGION}`]);
  await shot(p, '21-scoped-customers');
  assertNoProblems(scoped);
  assert.ok(otherRegionCustomer, 'a customer of another region');
  await go(p, `#/customers/${otherRegionCustomer.customerId}`, 'customer', 'not-found');
  assert.equal(await text(p, 'customer-not-found'), '没有这个客户（或不在你的片区内）');
  await shot(p, '22-scoped-other-region-not-found');
  // The not-found answers of that page are what it is about.
  assertNoProblems(scoped, (x) => x.kind !== 'pageerror' && (/\/custops\.v1\./.test(x.url) || /status of 404/.test(x.text)));
  await go(p, '#/worklist', 'worklist');
  assert.equal(await p.inputValue('[data-testid="worklist-region"]'), REGION);
  assert.ok((await p.locator('[data-testid="worklist-row"]').count()) > 0, 'the region has a worklist');
  await shot(p, '23-scoped-worklist');
  await go(p, '#/ops', 'ops');
  assert.equal(await p.locator('[data-testid="ops-refit"]').count(), 0, 'no admin actions for a reader');
  await p.click('[data-testid="sign-out"]');
  await p.waitForSelector('[data-testid="page-signin"]');
  assert.equal(await p.evaluate(() => sessionStorage.getItem('custops.token')), null, 'the token is gone');
  assertNoProblems(scoped);
});
await scoped.close();

fs.writeFileSync(path.join(ARTEFACTS, 'results.json'), JSON.stringify(results, null, 2));
console.log(`\n${results.steps.length - failures}/${results.steps.length} steps passed; figures:`);
for (const [k, v] of Object.entries(results.figures)) if (typeof v !== 'object') console.log(`  ${k}: ${v}`);
process.exit(failures === 0 ? 0 : 1);
