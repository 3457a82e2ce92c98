// Exact rendering of the server's figures (docs/console.md "Numbers").
//
// Money arrives as int64 minor units in a decimal string and every rate,
// share and mean as an exact Fraction of two int64 strings (docs/review.md
// "Numbers on the wire"). The console turns them into text with BigInt
// integer arithmetic only: no float ever touches a displayed figure, and
// nothing is summed or divided across figures — a displayed value is always
// one server value, scaled. Fractions are rounded half away from zero, like
// the server's own `Scaled` (docs/review.md "Numbers").
import type { Fraction, Int64, MetricUnit, MetricValue, Money, Timestamp } from './api/types';

/** A wire int64 ("123", "-4", absent) as a BigInt; garbage reads as 0. */
export function big(s: Int64 | number | bigint | undefined | null): bigint {
  if (s === undefined || s === null || s === '') return 0n;
  if (typeof s === 'bigint') return s;
  try {
    return BigInt(s);
  } catch {
    return 0n;
  }
}

/** "1234567" → "1,234,567" (digits only, no sign). */
export function groupDigits(digits: string): string {
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return out;
}

/** An int64 with thousands separators: "-1,234". */
export function formatInt(s: Int64 | number | bigint | undefined): string {
  const v = big(s);
  const neg = v < 0n;
  return (neg ? '-' : '') + groupDigits((neg ? -v : v).toString());
}

/** Minor-unit exponents of ISO 4217 currencies that are not 2. */
const EXPONENT: Record<string, number> = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, OMR: 3, TND: 3, JOD: 3 };
const SYMBOL: Record<string, string> = { CNY: '¥', USD: '$', EUR: '€', GBP: '£' };

/** The deployment's currency when a Money omits it (domain.currency). */
let defaultCurrency = 'CNY';
export function setDefaultCurrency(code: string): void {
  if (code) defaultCurrency = code;
}

/**
 * Money from minor units: {units:"123456789",currency:"CNY"} → "¥1,234,567.89";
 * negative "-¥12.00". An absent Money is zero.
 */
export function formatMoney(m: Money | undefined | null): string {
  const currency = m?.currency || defaultCurrency;
  const exp = EXPONENT[currency] ?? 2;
  const units = big(m?.units);
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const scale = 10n ** BigInt(exp);
  const whole = groupDigits((abs / scale).toString());
  const frac = exp > 0 ? '.' + (abs % scale).toString().padStart(exp, '0') : '';
  const symbol = SYMBOL[currency];
  const body = symbol ? `${symbol}${whole}${frac}` : `${currency} ${whole}${frac}`;
  return neg ? `-${body}` : body;
}

/**
 * n / d as a decimal with `places` digits after the point, rounded half away
 * from zero, with thousands separators. null when d is 0.
 */
export function decimal(n: bigint, d: bigint, places: number): string | null {
  if (d === 0n) return null;
  const neg = n < 0n !== d < 0n && n !== 0n;
  const an = n < 0n ? -n : n;
  const ad = d < 0n ? -d : d;
  const scaled = an * 10n ** BigInt(places);
  let q = scaled / ad;
  if ((scaled % ad) * 2n >= ad) q += 1n;
  const digits = q.toString().padStart(places + 1, '0');
  const whole = groupDigits(digits.slice(0, digits.length - places));
  const frac = places > 0 ? '.' + digits.slice(digits.length - places) : '';
  return (neg && q !== 0n ? '-' : '') + whole + frac;
}

function parts(f: Fraction | undefined | null): [bigint, bigint] | null {
  if (!f) return null;
  const d = big(f.denominator);
  if (d === 0n) return null;
  return [big(f.numerator), d];
}

/** A share as a percentage: 3/4 → "75.0%". "—" when unset. */
export function formatPercent(f: Fraction | undefined | null, places = 1): string {
  const p = parts(f);
  if (!p) return '—';
  return `${decimal(p[0] * 100n, p[1], places)}%`;
}

/** A relative change with its sign: 1/8 → "+12.5%", -1/8 → "-12.5%". */
export function formatChange(f: Fraction | undefined | null, places = 1): string {
  const p = parts(f);
  if (!p) return '—';
  const s = decimal(p[0] * 100n, p[1], places)!;
  return s.startsWith('-') || /^[0.,]+$/.test(s) ? `${s}%` : `+${s}%`;
}

/** Sign of a fraction: -1, 0, 1; null when unset. */
export function signOf(f: Fraction | undefined | null): -1 | 0 | 1 | null {
  const p = parts(f);
  if (!p) return null;
  const s = (p[0] < 0n ? -1 : p[0] > 0n ? 1 : 0) * (p[1] < 0n ? -1 : 1);
  return s as -1 | 0 | 1;
}

/** A fraction as a plain decimal: 181/2 → "90.5". */
export function formatFraction(f: Fraction | undefined | null, places = 1): string {
  const p = parts(f);
  if (!p) return '—';
  return decimal(p[0], p[1], places)!;
}

/** Permille as a percentage: "734" → "73.4%". */
export function formatPermille(s: Int64 | undefined): string {
  return `${decimal(big(s), 10n, 1)}%`;
}

export interface UnitWords {
  days: string; // " 天" / " d"
  hours: string; // " 小时" / " h"
}

/** True when the MetricValue holds a value (no field set = null). */
export function isSet(v: MetricValue | undefined | null): boolean {
  return !!v && (v.money !== undefined || v.count !== undefined || v.ratio !== undefined);
}

/**
 * One metric value in its unit (review.proto MetricUnit): money, a count, a
 * share (%), days, hours, or a score. "—" for null.
 */
export function formatMetricValue(
  v: MetricValue | undefined | null,
  unit: MetricUnit | undefined,
  words: UnitWords,
): string {
  if (!v || !isSet(v)) return '—';
  if (v.money !== undefined) return formatMoney(v.money);
  if (v.count !== undefined) return formatInt(v.count);
  const r = v.ratio;
  switch (unit) {
    case 'METRIC_UNIT_SHARE':
      return formatPercent(r);
    case 'METRIC_UNIT_DAYS':
      return `${formatFraction(r, 1)}${words.days}`;
    case 'METRIC_UNIT_HOURS':
      return `${formatFraction(r, 1)}${words.hours}`;
    case 'METRIC_UNIT_SCORE':
      return formatFraction(r, 2);
    default:
      return formatFraction(r, 2);
  }
}

/**
 * A sort key for a MetricValue; null sorts last. Money and counts compare as
 * BigInt, fractions by cross-multiplication (exact).
 */
export function compareMetricValues(a: MetricValue | undefined, b: MetricValue | undefined): number {
  const sa = isSet(a);
  const sb = isSet(b);
  if (!sa || !sb) return sa === sb ? 0 : sa ? -1 : 1;
  const [an, ad] = ratioOf(a!);
  const [bn, bd] = ratioOf(b!);
  // Denominators are positive (reduced on the server); keep it exact anyway.
  const l = an * bd * (ad < 0n !== bd < 0n ? -1n : 1n);
  const r = bn * ad * (ad < 0n !== bd < 0n ? -1n : 1n);
  return l < r ? -1 : l > r ? 1 : 0;
}

function ratioOf(v: MetricValue): [bigint, bigint] {
  if (v.money !== undefined) return [big(v.money.units), 1n];
  if (v.count !== undefined) return [big(v.count), 1n];
  const d = big(v.ratio?.denominator);
  return [big(v.ratio?.numerator), d === 0n ? 1n : d];
}

/** For chart geometry only (never for a displayed figure). */
export function approx(v: MetricValue | undefined | null): number | null {
  if (!v || !isSet(v)) return null;
  const [n, d] = ratioOf(v);
  return Number(n) / Number(d);
}

/** Compares two BigInt-ish strings. */
export function compareInt(a: Int64 | undefined, b: Int64 | undefined): number {
  const x = big(a);
  const y = big(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The reporting zone (docs/review.md: default Asia/Shanghai). */
let zone = 'Asia/Shanghai';
export function setTimeZone(tz: string | undefined): void {
  if (!tz) return;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    zone = tz;
  } catch {
    /* unknown to this browser: keep the default */
  }
}
export function timeZone(): string {
  return zone;
}

function zoned(ts: Timestamp, withTime: boolean): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    ...(withTime ? { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' as const } : {}),
  });
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(d)) p[part.type] = part.value;
  const date = `${p.year}-${p.month}-${p.day}`;
  return withTime ? `${date} ${p.hour}:${p.minute}` : date;
}

/** "2024-03-01 08:00" in the reporting zone; "—" when unset. */
export function formatTime(ts: Timestamp | undefined): string {
  return ts ? zoned(ts, true) : '—';
}

/** "2024-03-01" in the reporting zone; "—" when unset. */
export function formatDate(ts: Timestamp | undefined): string {
  return ts ? zoned(ts, false) : '—';
}

/** Today's civil date in the reporting zone at instant `now` ("2024-03-01"). */
export function civilDate(now: Date): string {
  return zoned(now.toISOString(), false);
}
