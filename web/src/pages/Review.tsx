// 复盘: Review/GetReview (with 12 periods of history for the sparklines) and,
// with a dimension chosen, Review/CompareReview (every value side by side).
// docs/review.md; docs/console.md "复盘".
import { useEffect, useMemo, useState } from 'preact/hooks';
import { call } from '../api/client';
import type { CompareReviewResponse, Finding, Metric, ReviewAction, ReviewReport, ReviewRow } from '../api/types';
import { Change, KEY_METRICS, MetricSparkline, metricLabel, metricTexts, ruleFigure, valueText } from '../components/metrics';
import { PeriodControls, type PeriodQuery } from '../components/PeriodControls';
import { Badge, type Column, combined, Loaded, Page, SortableTable } from '../components/ui';
import { compareMetricValues, formatDate } from '../format';
import { useLoad } from '../hooks';
import { t, tk } from '../i18n';
import { defaultDate, dimensionOf, GRANULARITIES, granularityOf, instantOf, REVIEW_DIMENSIONS, validDate } from '../period';
import { customerHref, navigate, type Route } from '../router';
import { useSession } from '../session';

export function readPeriodQuery(route: Route, now: Date, scoped: string[] | null): PeriodQuery {
  const q = route.query;
  let dim = q.get('dim') ?? 'all';
  if (!REVIEW_DIMENSIONS.some(([n]) => n === dim)) dim = 'all';
  if (scoped && dim !== 'all' && dim !== 'region') dim = 'all';
  let value = q.get('value') ?? '';
  if (dim === 'all') value = '';
  if (scoped && dim === 'region' && value && !scoped.includes(value)) value = '';
  const gran = q.get('gran') ?? 'month';
  return {
    gran: GRANULARITIES.some(([n]) => n === gran) ? gran : 'month',
    date: validDate(q.get('date')) ?? defaultDate(now),
    dim,
    value,
  };
}

export function ReviewPage(props: { route: Route }) {
  const session = useSession();
  const q = readPeriodQuery(props.route, session.now, session.regions);
  const go = (next: PeriodQuery) => navigate('review', { ...next }, false);
  const granularity = granularityOf(q.gran);
  const dimension = dimensionOf(q.dim);
  const periodStart = instantOf(q.date);

  const reportKey = q.dim === 'all' || q.value ? JSON.stringify(['review', q]) : null;
  const report = useLoad<ReviewReport>(reportKey, (signal) =>
    call('Review', 'GetReview', {
      granularity,
      periodStart,
      dimension,
      dimensionValue: q.value,
      historyPeriods: 12,
    }, signal),
  );
  const compareKey = q.dim !== 'all' ? JSON.stringify(['compare', q.gran, q.date, q.dim]) : null;
  const compare = useLoad<CompareReviewResponse>(compareKey, (signal) =>
    call('Review', 'CompareReview', { granularity, periodStart, dimension, pageSize: 1000 }, signal),
  );

  const state = combined(report, compare);
  const dimLabel = t(`dim.${dimension}` as never);
  const values = compare.data?.rows?.map((r) => r.dimensionValue ?? '') ?? [];

  return (
    <Page
      name="review"
      state={state}
      title={t('review.title')}
      actions={
        report.state === 'ready' && (
          <>
            <button type="button" data-testid="review-print" onClick={() => window.print()}>
              {t('review.print')}
            </button>
            <button type="button" data-testid="review-csv" onClick={() => exportCsv(report.data)}>
              {t('review.csv')}
            </button>
          </>
        )
      }
    >
      <PeriodControls q={q} onChange={go} prefix="review" values={values} />
      {q.dim !== 'all' && q.value && (
        <p class="crumb no-print">
          <a href={`#/review?${new URLSearchParams({ gran: q.gran, date: q.date, dim: q.dim })}`} data-testid="review-back">
            ← {t('review.back')}
          </a>
        </p>
      )}
      {reportKey === null && <p class="hint">{t('review.pickValue', { dim: dimLabel })}</p>}
      <Loaded load={report} testid="review-error">
        {(r) => <ReportView r={r} />}
      </Loaded>
      {compareKey !== null && (
        <section class="card">
          <h2>
            {t('review.compare', { dim: dimLabel })}
            {compare.data?.periodKey && <span class="muted"> · {compare.data.periodKey}</span>}
          </h2>
          <p class="hint no-print">{t('review.compareHint', { dim: dimLabel })}</p>
          <Loaded load={compare} testid="compare-error">
            {(c) => (
              <CompareTable
                c={c}
                selected={q.value}
                onPick={(v) => go({ ...q, value: v })}
              />
            )}
          </Loaded>
        </section>
      )}
    </Page>
  );
}

function ReportView(props: { r: ReviewReport }) {
  const { r } = props;
  const units = new Map((r.metrics ?? []).map((m) => [m.name ?? '', m.unit]));
  return (
    <>
      <p class="period" data-testid="review-period">
        <span data-testid="review-period-key">{r.periodKey}</span>
        <span class="muted">
          {' '}
          {formatDate(r.periodStart)} – {lastDay(r.periodEnd)} · {t('review.previous')} {r.previousPeriodKey || '—'} ·{' '}
          {t('review.yearAgo')} {r.yearAgoPeriodKey || '—'}
        </span>
        {r.dimensionValue && (
          <span class="muted" data-testid="review-dimension-value">
            {' '}
            · {t(`dim.${r.dimension ?? 'DIMENSION_ALL'}` as never)}: {r.dimensionValue}
          </span>
        )}
      </p>
      <section class="card">
        <h2>{t('review.metrics')}</h2>
        <MetricsTable metrics={r.metrics ?? []} />
      </section>
      <section class="card" data-testid="findings">
        <h2>{t('review.findings')}</h2>
        {(r.findings ?? []).length === 0 ? (
          <p class="muted">{t('review.noFindings')}</p>
        ) : (
          (r.findings ?? []).map((f, i) => <FindingView key={`${f.ruleId}-${i}`} f={f} unit={units.get(f.metric ?? '')} />)
        )}
      </section>
      <section class="card" data-testid="actions">
        <h2>{t('review.actions')}</h2>
        {(r.actions ?? []).length === 0 ? (
          <p class="muted">{t('review.noActions')}</p>
        ) : (
          <ActionsTable actions={r.actions ?? []} units={units} />
        )}
      </section>
    </>
  );
}

/** The period's last civil day: its end is exclusive (docs/review.md "Periods"). */
function lastDay(end: string | undefined): string {
  if (!end) return '—';
  const ms = Date.parse(end);
  return Number.isNaN(ms) ? end : formatDate(new Date(ms - 1).toISOString());
}

function MetricsTable(props: { metrics: Metric[] }) {
  return (
    <table class="grid metrics" data-testid="metrics-table">
      <thead>
        <tr>
          <th>{t('review.metric')}</th>
          <th class="num">{t('review.value')}</th>
          <th class="num">{t('review.previous')}</th>
          <th class="num">{t('review.changePrev')}</th>
          <th class="num">{t('review.yearAgo')}</th>
          <th class="num">{t('review.changeYoy')}</th>
          <th>{t('review.trend')}</th>
        </tr>
      </thead>
      <tbody>
        {props.metrics.map((m) => {
          const s = metricTexts(m);
          const id = `metric-${m.name}`;
          return (
            <tr key={m.name} data-testid={id}>
              <th scope="row">{s.label}</th>
              <td class="num strong" data-testid={`${id}-value`}>
                {s.value}
              </td>
              <td class="num" data-testid={`${id}-previous`}>
                {s.previous}
              </td>
              <td class="num">
                <Change f={m.changeVsPrevious} metric={m.name} testid={`${id}-change-prev`} />
              </td>
              <td class="num" data-testid={`${id}-year-ago`}>
                {s.yearAgo}
              </td>
              <td class="num">
                <Change f={m.changeVsYearAgo} metric={m.name} testid={`${id}-change-yoy`} />
              </td>
              <td>
                <MetricSparkline m={m} testid={`${id}-spark`} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** CSV of the metrics table, from the same strings the table shows. */
function exportCsv(r: ReviewReport): void {
  const header = [
    t('review.metric'),
    t('review.value'),
    t('review.previous'),
    t('review.changePrev'),
    t('review.yearAgo'),
    t('review.changeYoy'),
  ];
  const rows = (r.metrics ?? []).map((m) => {
    const s = metricTexts(m);
    return [s.label, s.value, s.previous, s.changePrev, s.yearAgo, s.changeYoy];
  });
  const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const csv = [header, ...rows].map((row) => row.map(esc).join(',')).join('\r\n') + '\r\n';
  // A BOM so spreadsheet programs read the Chinese labels as UTF-8.
  const blob = new Blob(['\ufeff', csv], { type: 'text/csv;charset=utf-8' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  const slice = r.dimensionValue ? `-${r.dimensionValue}` : '';
  a.download = `review-${r.periodKey ?? 'period'}${slice}.csv`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

const SHOWN_IDS = 12;

function FindingView(props: { f: Finding; unit: Metric['unit'] }) {
  const { f, unit } = props;
  const [open, setOpen] = useState(false);
  const ids = f.customerIds ?? [];
  const opps = f.opportunityIds ?? [];
  const sev = (f.severity ?? '').replace('SEVERITY_', '').toLowerCase();
  return (
    <article class={`finding sev-${sev}`} data-testid={`finding-${f.ruleId}`}>
      <header>
        <Badge kind={`sev-${sev}`} testid={`finding-${f.ruleId}-severity`}>
          {tk('severity', f.severity)}
        </Badge>{' '}
        <strong>{tk('rule', f.ruleId)}</strong> <span class="muted">({metricLabel(f.metric)})</span>
      </header>
      <dl class="facts inline">
        <div>
          <dt>{t('review.finding.value')}</dt>
          <dd data-testid={`finding-${f.ruleId}-value`}>{valueText(f.value, unit)}</dd>
        </div>
        {f.baseline && f.baseline !== 'none' && (
          <div>
            <dt>{t('review.finding.base')}</dt>
            <dd>{valueText(f.base, unit)}</dd>
          </div>
        )}
        {f.change && (
          <div>
            <dt>{t('review.finding.change')}</dt>
            <dd>{ruleFigure(f.change, f.condition, unit)}</dd>
          </div>
        )}
        <div>
          <dt>{t('review.finding.threshold')}</dt>
          <dd>{ruleFigure(f.threshold, f.condition, unit)}</dd>
        </div>
      </dl>
      {ids.length > 0 && (
        <div class="subjects" data-testid={`finding-${f.ruleId}-customers`}>
          <span>{t('review.finding.customers', { n: ids.length })}: </span>
          {ids.map((id, i) => (
            // Past the first few, ids are hidden on screen until asked for
            // (and always printed).
            <a key={id} href={customerHref(id)} class={`chip ${!open && i >= SHOWN_IDS ? 'extra' : ''}`} data-testid="finding-customer">
              {id}
            </a>
          ))}
          {ids.length > SHOWN_IDS && (
            <button type="button" class="link no-print" onClick={() => setOpen(!open)} data-testid={`finding-${f.ruleId}-more`}>
              {open ? t('common.showLess') : t('common.showAll', { n: ids.length })}
            </button>
          )}
        </div>
      )}
      {opps.length > 0 && (
        <div class="subjects" data-testid={`finding-${f.ruleId}-opportunities`}>
          <span>{t('review.finding.opportunities', { n: opps.length })}: </span>
          {opps.map((id) => (
            <span key={id} class="chip plain">
              {id}
            </span>
          ))}
        </div>
      )}
    </article>
  );
}

function ActionsTable(props: { actions: ReviewAction[]; units: Map<string, Metric['unit']> }) {
  const cols: Column<ReviewAction>[] = [
    { key: 'id', label: t('review.action.id'), nowrap: true, render: (a) => a.actionId, compare: (a, b) => (a.actionId ?? '').localeCompare(b.actionId ?? '') },
    {
      key: 'finding',
      label: t('review.action.finding'),
      render: (a) => (
        <>
          {tk('rule', a.finding)}
          <div class="muted small">
            {t('review.action.plannedIn')} {a.reviewPeriod}
          </div>
        </>
      ),
    },
    { key: 'owner', label: t('review.action.owner'), nowrap: true, render: (a) => a.owner, compare: (a, b) => (a.owner ?? '').localeCompare(b.owner ?? '') },
    { key: 'due', label: t('review.action.due'), nowrap: true, render: (a) => formatDate(a.due), compare: (a, b) => (a.due ?? '').localeCompare(b.due ?? '') },
    { key: 'description', label: '', render: (a) => <>{a.description}{a.note && <div class="muted small">{a.note}</div>}</> },
    {
      key: 'progress',
      label: t('review.action.progress'),
      nowrap: true,
      render: (a) =>
        a.metric ? (
          <span data-testid={`action-${a.actionId}-progress`}>
            {metricLabel(a.metric)}: {valueText(a.valueThen, props.units.get(a.metric))} → {valueText(a.valueNow, props.units.get(a.metric))}
          </span>
        ) : (
          '—'
        ),
    },
    {
      key: 'closed',
      label: '',
      nowrap: true,
      render: (a) => <Badge kind={a.closed ? 'closed' : 'open'}>{a.closed ? t('review.action.closed') : t('review.action.open')}</Badge>,
      compare: (a, b) => Number(!!a.closed) - Number(!!b.closed),
    },
  ];
  return (
    <SortableTable
      columns={cols}
      rows={props.actions}
      rowKey={(a) => a.actionId ?? ''}
      rowTestid={(a) => `action-${a.actionId}`}
      testid="actions-table"
    />
  );
}

function CompareTable(props: { c: CompareReviewResponse; selected: string; onPick: (v: string) => void }) {
  const [all, setAll] = useState(false);
  const rows = props.c.rows ?? [];
  const names = useMemo(() => {
    const first = rows[0]?.metrics ?? [];
    const present = first.map((m) => m.name ?? '');
    return all ? present : KEY_METRICS.filter((n) => present.includes(n));
  }, [rows, all]);
  const byName = (r: ReviewRow, n: string) => r.metrics?.find((m) => m.name === n);
  const cols: Column<ReviewRow>[] = [
    {
      key: 'value',
      label: t(`dim.${props.c.dimension ?? 'DIMENSION_ALL'}` as never),
      render: (r) => <a href={`#`} onClick={(e) => { e.preventDefault(); props.onPick(r.dimensionValue ?? ''); }}>{r.dimensionValue || '—'}</a>,
      compare: (a, b) => (a.dimensionValue ?? '').localeCompare(b.dimensionValue ?? ''),
    },
    ...names.map(
      (n): Column<ReviewRow> => ({
        key: n,
        label: metricLabel(n),
        num: true,
        render: (r) => {
          const m = byName(r, n);
          return m ? valueText(m.value, m.unit) : '—';
        },
        compare: (a, b) => compareMetricValues(byName(a, n)?.value, byName(b, n)?.value),
        cellTestid: (r) => `compare-cell-${r.dimensionValue}-${n}`,
      }),
    ),
  ];
  useEffect(() => {
    // Test and performance hook: the comparison table is on screen.
    performance.mark('custops:compare-table');
  }, [props.c]);
  return (
    <>
      <label class="toggle no-print">
        <input type="checkbox" checked={all} onChange={() => setAll(!all)} data-testid="compare-all-metrics" /> {t('review.allMetrics')}
      </label>
      <div class="scroll">
        <SortableTable
          columns={cols}
          rows={rows}
          rowKey={(r) => r.dimensionValue ?? ''}
          testid="compare-table"
          rowTestid={(r) => `compare-row-${r.dimensionValue}`}
          rowClass={(r) => (r.dimensionValue === props.selected ? 'selected' : '')}
          onRowClick={(r) => props.onPick(r.dimensionValue ?? '')}
        />
      </div>
      {props.c.nextPageToken && <p class="note">{t('review.truncated')}</p>}
    </>
  );
}
