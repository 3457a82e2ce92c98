// The period and dimension pickers' vocabulary, shared by 复盘 and the funnel.
import type { Dimension, Granularity } from './api/types';
import { civilDate } from './format';

export const GRANULARITIES: [string, Granularity][] = [
  ['day', 'GRANULARITY_DAY'],
  ['week', 'GRANULARITY_WEEK'],
  ['month', 'GRANULARITY_MONTH'],
  ['quarter', 'GRANULARITY_QUARTER'],
  ['year', 'GRANULARITY_YEAR'],
];

/** Review dimensions (review.proto CompareReviewRequest lists these). */
export const REVIEW_DIMENSIONS: [string, Dimension][] = [
  ['all', 'DIMENSION_ALL'],
  ['region', 'DIMENSION_REGION'],
  ['industry', 'DIMENSION_INDUSTRY'],
  ['owner', 'DIMENSION_OWNER'],
  ['channel', 'DIMENSION_CHANNEL'],
  ['product', 'DIMENSION_PRODUCT'],
  ['tier', 'DIMENSION_TIER'],
];

export function granularityOf(name: string | null): Granularity {
  return (GRANULARITIES.find(([n]) => n === name) ?? GRANULARITIES[2])[1];
}

export function dimensionOf(name: string | null, table: [string, Dimension][] = REVIEW_DIMENSIONS): Dimension {
  return (table.find(([n]) => n === name) ?? table[0])[1];
}

export function dimensionName(d: Dimension, table: [string, Dimension][] = REVIEW_DIMENSIONS): string {
  return (table.find(([, v]) => v === d) ?? table[0])[0];
}

/** A valid YYYY-MM-DD or null. */
export function validDate(s: string | null): string | null {
  if (!s || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return null;
  const d = new Date(`${s}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? null : s;
}

/**
 * The instant sent as period_start for a civil date: noon UTC of that date,
 * which is on that date in every zone within ±12 h of UTC (Asia/Shanghai
 * included), so the server picks the period containing the date
 * (docs/review.md "Periods").
 */
export function instantOf(date: string): string {
  return `${date}T12:00:00Z`;
}

export function defaultDate(now: Date): string {
  return civilDate(now);
}
