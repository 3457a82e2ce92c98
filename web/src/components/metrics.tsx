// Rendering of review metrics (docs/review.md "Accumulator and metrics").
import type { Fraction, Metric, MetricUnit, MetricValue } from '../api/types';
import { approx, formatChange, formatFraction, formatMetricValue, formatMoney, formatPercent, signOf } from '../format';
import { t, tk } from '../i18n';
import { Sparkline } from './ui';

export function words() {
  return { days: t('unit.days'), hours: t('unit.hours') };
}

/** Metrics whose rise is bad news (the arrow turns red when they go up). */
const BAD_WHEN_UP = new Set([
  'lost_customers',
  'churn_rate',
  'complaints',
  'avg_discount',
  'sales_cycle_days',
  'resolution_hours_p50',
  'resolution_hours_p90',
  'response_hours_p50',
  'marketing_spend',
  'top20_revenue_share',
  'sla_breaches',
  'negative_assets',
  'overdue_receivables',
]);

/** The columns of the comparison table unless "all metrics" is chosen. */
export const KEY_METRICS = [
  'revenue',
  'gross_margin',
  'payments',
  'attainment',
  'new_customers',
  'lost_customers',
  'active_customers',
  'churn_rate',
  'win_rate',
  'visits',
  'contact_coverage',
  'complaints',
  'sla_breaches',
  'weighted_pipeline',
];

export function metricLabel(name: string | undefined): string {
  return tk('metric', name);
}

export function valueText(v: MetricValue | undefined, unit: MetricUnit | undefined): string {
  return formatMetricValue(v, unit, words());
}

/** The strings of one metric row: what the table shows and the CSV holds. */
export function metricTexts(m: Metric) {
  return {
    label: metricLabel(m.name),
    value: valueText(m.value, m.unit),
    previous: valueText(m.previous, m.unit),
    changePrev: formatChange(m.changeVsPrevious),
    yearAgo: valueText(m.yearAgo, m.unit),
    changeYoy: formatChange(m.changeVsYearAgo),
  };
}

/** ▲ +12.5% / ▼ -3.0% / — ; green or red by the metric's polarity. */
export function Change(props: { f: Fraction | undefined; metric: string | undefined; testid?: string }) {
  const s = signOf(props.f);
  if (s === null) {
    return (
      <span class="change none" data-testid={props.testid}>
        —
      </span>
    );
  }
  const bad = props.metric && BAD_WHEN_UP.has(props.metric) ? s > 0 : s < 0;
  const cls = s === 0 ? 'flat' : bad ? 'bad' : 'good';
  const arrow = s > 0 ? '▲' : s < 0 ? '▼' : '▬';
  return (
    <span class={`change ${cls}`} data-testid={props.testid}>
      {arrow} {formatChange(props.f)}
    </span>
  );
}

export function MetricSparkline(props: { m: Metric; testid?: string }) {
  const h = props.m.history ?? [];
  if (h.length === 0) return <span class="muted">—</span>;
  return (
    <Sparkline
      values={h.map((v) => approx(v))}
      labels={h.map((v) => valueText(v, props.m.unit))}
      testid={props.testid}
    />
  );
}

/**
 * A finding's threshold or change, in the unit the rule compared: a relative
 * move as a percentage, else the metric's own unit (docs/review.md
 * "Findings": thresholds are exact fractions in the metric's unit).
 */
export function ruleFigure(f: Fraction | undefined, condition: string | undefined, unit: MetricUnit | undefined): string {
  if (!f) return '—';
  if (condition?.startsWith('relative')) return formatChange(f);
  switch (unit) {
    case 'METRIC_UNIT_SHARE':
      return formatPercent(f);
    case 'METRIC_UNIT_MONEY':
      // Minor units; exact when whole (always, for money thresholds).
      if ((f.denominator ?? '1') === '1') return formatMoney({ units: f.numerator ?? '0' });
      return formatFraction(f, 2);
    case 'METRIC_UNIT_DAYS':
      return `${formatFraction(f, 1)}${t('unit.days')}`;
    case 'METRIC_UNIT_HOURS':
      return `${formatFraction(f, 1)}${t('unit.hours')}`;
    case 'METRIC_UNIT_COUNT':
      return formatFraction(f, (f.denominator ?? '1') === '1' ? 0 : 2);
    default:
      return formatFraction(f, 2);
  }
}
