// Unit tests of the console's exact number rendering (src/format.ts):
// `npm run test:unit` in web/ (node --test). format.ts is compiled on the fly
// with esbuild (Vite's own dependency), so no build step is needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const entry = fileURLToPath(new URL('../src/format.ts', import.meta.url));
const out = await build({ entryPoints: [entry], bundle: true, format: 'esm', write: false, platform: 'neutral' });
const f = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);

test('money from minor units, exactly', () => {
  assert.equal(f.formatMoney({ units: '123456789', currency: 'CNY' }), '¥1,234,567.89');
  assert.equal(f.formatMoney({ units: '5', currency: 'CNY' }), '¥0.05');
  assert.equal(f.formatMoney({ units: '-100', currency: 'CNY' }), '-¥1.00');
  assert.equal(f.formatMoney({ currency: 'CNY' }), '¥0.00');
  assert.equal(f.formatMoney(undefined), '¥0.00');
  // Beyond 2^53: no float on the way.
  assert.equal(f.formatMoney({ units: '9223372036854775807', currency: 'CNY' }), '¥92,233,720,368,547,758.07');
  assert.equal(f.formatMoney({ units: '-9223372036854775808', currency: 'CNY' }), '-¥92,233,720,368,547,758.08');
  assert.equal(f.formatMoney({ units: '1234', currency: 'JPY' }), 'JPY 1,234');
  assert.equal(f.formatMoney({ units: '1234', currency: 'USD' }), '$12.34');
});

test('integers with separators', () => {
  assert.equal(f.formatInt('0'), '0');
  assert.equal(f.formatInt(undefined), '0');
  assert.equal(f.formatInt('999'), '999');
  assert.equal(f.formatInt('1000'), '1,000');
  assert.equal(f.formatInt('-1234567'), '-1,234,567');
});

test('fractions: shares, days, changes, rounding half away from zero', () => {
  assert.equal(f.formatPercent({ numerator: '3', denominator: '4' }), '75.0%');
  assert.equal(f.formatPercent({ numerator: '1', denominator: '3' }), '33.3%');
  assert.equal(f.formatPercent({ numerator: '2', denominator: '3' }), '66.7%');
  assert.equal(f.formatPercent({ numerator: '1', denominator: '2000' }), '0.1%'); // 0.05% rounds up
  assert.equal(f.formatPercent({ numerator: '-1', denominator: '2000' }), '-0.1%'); // away from zero
  assert.equal(f.formatPercent({ denominator: '7' }), '0.0%'); // numerator absent = 0
  assert.equal(f.formatPercent(undefined), '—');
  assert.equal(f.formatFraction({ numerator: '181', denominator: '2' }, 1), '90.5');
  assert.equal(f.formatChange({ numerator: '1', denominator: '8' }), '+12.5%');
  assert.equal(f.formatChange({ numerator: '-1', denominator: '8' }), '-12.5%');
  assert.equal(f.formatChange({ denominator: '1' }), '0.0%');
  assert.equal(f.formatChange({ numerator: '-1', denominator: '100000' }), '0.0%'); // no "-0.0%"
  assert.equal(f.formatPermille('734'), '73.4%');
  assert.equal(f.formatPercent({ numerator: '123456789', denominator: '100' }), '123,456,789.0%');
});

test('metric values by unit; null is a dash', () => {
  const w = { days: ' 天', hours: ' 小时' };
  assert.equal(f.formatMetricValue({ money: { units: '100', currency: 'CNY' } }, 'METRIC_UNIT_MONEY', w), '¥1.00');
  assert.equal(f.formatMetricValue({ count: '0' }, 'METRIC_UNIT_COUNT', w), '0');
  assert.equal(f.formatMetricValue({ ratio: { numerator: '181', denominator: '2' } }, 'METRIC_UNIT_DAYS', w), '90.5 天');
  assert.equal(f.formatMetricValue({ ratio: { numerator: '7', denominator: '2' } }, 'METRIC_UNIT_HOURS', w), '3.5 小时');
  assert.equal(f.formatMetricValue({ ratio: { numerator: '17', denominator: '4' } }, 'METRIC_UNIT_SCORE', w), '4.25');
  assert.equal(f.formatMetricValue({ ratio: { numerator: '3', denominator: '4' } }, 'METRIC_UNIT_SHARE', w), '75.0%');
  assert.equal(f.formatMetricValue({}, 'METRIC_UNIT_MONEY', w), '—');
  assert.equal(f.formatMetricValue(undefined, 'METRIC_UNIT_MONEY', w), '—');
});

test('exact comparison for sorting', () => {
  const a = { ratio: { numerator: '1', denominator: '3' } };
  const b = { ratio: { numerator: '333333333', denominator: '1000000000' } };
  assert.equal(f.compareMetricValues(a, b), 1);
  assert.equal(f.compareMetricValues(b, a), -1);
  assert.equal(f.compareMetricValues({ money: { units: '9007199254740993' } }, { money: { units: '9007199254740992' } }), 1);
  assert.equal(f.compareMetricValues({}, a), 1); // null sorts last
});

test('times in the reporting zone', () => {
  assert.equal(f.formatTime('2024-03-31T16:00:00Z'), '2024-04-01 00:00');
  assert.equal(f.formatDate('2024-03-31T15:59:59Z'), '2024-03-31');
  assert.equal(f.civilDate(new Date('2025-06-30T16:00:00Z')), '2025-07-01');
});
