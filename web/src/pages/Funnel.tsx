// 销售漏斗: Review/Funnel for one slice (stage bars, win rate, cycle,
// weighted pipeline, losses by competitor) or, with a dimension and no value,
// every value's slice side by side. docs/review.md "Funnel".
import { call } from '../api/client';
import type { FunnelResponse, FunnelSlice } from '../api/types';
import { PeriodControls, type PeriodQuery } from '../components/PeriodControls';
import { type Column, Facts, Loaded, Page, SortableTable } from '../components/ui';
import { big, compareInt, formatFraction, formatInt, formatMoney, formatPercent } from '../format';
import { useLoad } from '../hooks';
import { t, tk } from '../i18n';
import { dimensionOf, granularityOf, instantOf } from '../period';
import { navigate, type Route } from '../router';
import { useSession } from '../session';
import { readPeriodQuery } from './Review';

export function FunnelPage(props: { route: Route }) {
  const session = useSession();
  const q = readPeriodQuery(props.route, session.now, session.regions);
  const go = (next: PeriodQuery) => navigate('funnel', { ...next });
  const dimension = dimensionOf(q.dim);
  const load = useLoad<FunnelResponse>(JSON.stringify(['funnel', q]), (signal) =>
    call(
      'Review',
      'Funnel',
      {
        period: { granularity: granularityOf(q.gran), start: instantOf(q.date) },
        dimension,
        dimensionValue: q.value,
        pageSize: 1000,
      },
      signal,
    ),
  );
  const many = q.dim !== 'all' && !q.value;
  const values = many ? load.data?.slices?.map((s) => s.dimensionValue ?? '') : undefined;
  return (
    <Page name="funnel" state={load.state} title={t('funnel.title')}>
      <PeriodControls q={q} onChange={go} prefix="funnel" values={values} />
      <Loaded load={load} testid="funnel-error">
        {(f) => (
          <>
            <p class="period" data-testid="funnel-period-key">
              {f.periodKey}
              {q.value && <span class="muted"> · {t(`dim.${dimension}` as never)}: {q.value}</span>}
            </p>
            {many ? (
              <SlicesTable slices={f.slices ?? []} dimLabel={t(`dim.${dimension}` as never)} onPick={(v) => go({ ...q, value: v })} />
            ) : (
              <SliceView s={f.slices?.[0] ?? {}} />
            )}
          </>
        )}
      </Loaded>
    </Page>
  );
}

function SliceView(props: { s: FunnelSlice }) {
  const { s } = props;
  const stages = s.stages ?? [];
  // Bar widths only (geometry); the figures are the server's.
  let max = 0n;
  for (const r of stages) if (big(r.entered) > max) max = big(r.entered);
  return (
    <>
      <section class="card">
        <Facts
          testid="funnel-kpis"
          items={[
            [t('funnel.winRate'), formatPercent(s.winRate), 'funnel-win-rate'],
            [t('funnel.won'), formatInt(s.won), 'funnel-won'],
            [t('funnel.lost'), formatInt(s.lost), 'funnel-lost'],
            [t('funnel.cycle'), s.salesCycleDays ? `${formatFraction(s.salesCycleDays, 1)}${t('unit.days')}` : '—', 'funnel-sales-cycle'],
            [t('funnel.pipeline'), formatMoney(s.weightedPipeline), 'funnel-weighted-pipeline'],
            [t('funnel.open'), formatInt(s.openOpportunities), 'funnel-open'],
          ]}
        />
      </section>
      <section class="card">
        <h2>{t('funnel.stage')}</h2>
        <table class="grid funnel" data-testid="funnel-stages">
          <thead>
            <tr>
              <th>{t('funnel.stage')}</th>
              <th class="bar-col" />
              <th class="num">{t('funnel.entered')}</th>
              <th class="num">{t('funnel.advanced')}</th>
              <th class="num">{t('funnel.conversion')}</th>
            </tr>
          </thead>
          <tbody>
            {stages.map((r) => {
              const width = max > 0n ? Number((big(r.entered) * 1000n) / max) / 10 : 0;
              const id = `funnel-stage-${(r.stage ?? '').replace('FUNNEL_STAGE_', '').toLowerCase()}`;
              return (
                <tr key={r.stage} data-testid={id}>
                  <th scope="row">{tk('fstage', r.stage)}</th>
                  <td class="bar-col">
                    <div class="bar" style={{ width: `${width}%` }} />
                  </td>
                  <td class="num" data-testid={`${id}-entered`}>
                    {formatInt(r.entered)}
                  </td>
                  <td class="num" data-testid={`${id}-advanced`}>
                    {formatInt(r.advanced)}
                  </td>
                  <td class="num" data-testid={`${id}-conversion`}>
                    {formatPercent(r.conversion)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      <section class="card">
        <h2>{t('funnel.losses')}</h2>
        <SortableTable
          testid="funnel-losses"
          rows={s.lossesByCompetitor ?? []}
          rowKey={(l) => l.competitor ?? ''}
          initialSort={undefined}
          columns={[
            {
              key: 'competitor',
              label: t('funnel.competitor'),
              render: (l) => l.competitor || <span class="muted">{t('funnel.noCompetitor')}</span>,
              compare: (a, b) => (a.competitor ?? '').localeCompare(b.competitor ?? ''),
            },
            {
              key: 'opportunities',
              label: t('funnel.opportunities'),
              num: true,
              render: (l) => formatInt(l.opportunities),
              compare: (a, b) => compareInt(a.opportunities, b.opportunities),
            },
            {
              key: 'amount',
              label: t('common.amount'),
              num: true,
              render: (l) => formatMoney(l.amount),
              compare: (a, b) => compareInt(a.amount?.units, b.amount?.units),
            },
          ]}
        />
      </section>
    </>
  );
}

function fractionCompare(a: FunnelSlice['winRate'], b: FunnelSlice['winRate']): number {
  if (!a || !b) return a ? -1 : b ? 1 : 0;
  const l = big(a.numerator) * big(b.denominator);
  const r = big(b.numerator) * big(a.denominator);
  return l < r ? -1 : l > r ? 1 : 0;
}

function SlicesTable(props: { slices: FunnelSlice[]; dimLabel: string; onPick: (v: string) => void }) {
  const cols: Column<FunnelSlice>[] = [
    { key: 'value', label: props.dimLabel, render: (s) => s.dimensionValue || '—', compare: (a, b) => (a.dimensionValue ?? '').localeCompare(b.dimensionValue ?? '') },
    { key: 'winRate', label: t('funnel.winRate'), num: true, render: (s) => formatPercent(s.winRate), compare: (a, b) => fractionCompare(a.winRate, b.winRate) },
    { key: 'won', label: t('funnel.won'), num: true, render: (s) => formatInt(s.won), compare: (a, b) => compareInt(a.won, b.won) },
    { key: 'lost', label: t('funnel.lost'), num: true, render: (s) => formatInt(s.lost), compare: (a, b) => compareInt(a.lost, b.lost) },
    {
      key: 'cycle',
      label: t('funnel.cycle'),
      num: true,
      render: (s) => (s.salesCycleDays ? `${formatFraction(s.salesCycleDays, 1)}${t('unit.days')}` : '—'),
      compare: (a, b) => fractionCompare(a.salesCycleDays, b.salesCycleDays),
    },
    {
      key: 'pipeline',
      label: t('funnel.pipeline'),
      num: true,
      render: (s) => formatMoney(s.weightedPipeline),
      compare: (a, b) => compareInt(a.weightedPipeline?.units, b.weightedPipeline?.units),
    },
    { key: 'open', label: t('funnel.open'), num: true, render: (s) => formatInt(s.openOpportunities), compare: (a, b) => compareInt(a.openOpportunities, b.openOpportunities) },
  ];
  return (
    <section class="card">
      <h2>{t('funnel.slices', { dim: props.dimLabel })}</h2>
      <SortableTable
        columns={cols}
        rows={props.slices}
        rowKey={(s) => s.dimensionValue ?? ''}
        testid="funnel-slices"
        rowTestid={(s) => `funnel-slice-${s.dimensionValue}`}
        onRowClick={(s) => props.onPick(s.dimensionValue ?? '')}
      />
    </section>
  );
}
