// 价值 (docs/value.md), three tabs so each loads with one or two calls:
// 概览 = Value/TierSummary + Value/Pareto by a dimension; 客户名单 =
// Value/ListCustomers with a filter (negative assets by default: 负资产);
// CLV 模型 = Value/GetClvModel.
import type { JSX } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { call } from '../api/client';
import type { ClvModel, ListValueCustomersResponse, ParetoResponse, ParetoSlice, TierCount, TierSummaryResponse, ValueFilter, ValueSummary } from '../api/types';
import { Chart } from '../components/Chart';
import { type Column, combined, Facts, Field, Loaded, Page, Pager, Select, SortableTable } from '../components/ui';
import { approx, big, compareInt, formatInt, formatMoney, formatPermille, formatTime } from '../format';
import { useLoad } from '../hooks';
import { t, tk } from '../i18n';
import { customerHref, href, navigate, type Query, type Route } from '../router';
import { useSession } from '../session';

const BY: [string, string, 'region' | 'industry' | 'owner' | ''][] = [
  ['all', 'DIMENSION_ALL', ''],
  ['region', 'DIMENSION_REGION', 'region'],
  ['industry', 'DIMENSION_INDUSTRY', 'industry'],
  ['owner', 'DIMENSION_OWNER', 'owner'],
];
const TIERS = ['TIER_DIAMOND', 'TIER_PLATINUM', 'TIER_GOLD', 'TIER_SILVER', 'TIER_IRON', 'TIER_BIG', 'TIER_SMALL'];
const TIER_COLORS = ['#5b8ff9', '#9270ca', '#f6bd16', '#a0a7b4', '#5d6b7a', '#5ad8a6', '#b8e1d0'];
const SEGMENTS = ['Champions', 'Loyal', 'Potential Loyalist', 'New', 'Promising', 'Need Attention', 'About to Sleep', 'At Risk', "Can't Lose", 'Hibernating', 'Lost'];

export function ValuePage(props: { route: Route }) {
  const tab = props.route.path[1] ?? 'overview';
  const tabs: [string, string][] = [
    ['overview', t('value.tabOverview')],
    ['list', t('value.tabList')],
    ['clv', t('value.tabClv')],
  ];
  return (
    <>
      <nav class="tabs no-print" data-testid="value-tabs">
        {tabs.map(([k, label]) => (
          <a key={k} href={href(['value', k])} class={tab === k ? 'active' : ''} data-testid={`value-tab-${k}`}>
            {label}
          </a>
        ))}
      </nav>
      {tab === 'list' ? <ValueList route={props.route} /> : tab === 'clv' ? <ClvTab /> : <Overview route={props.route} />}
    </>
  );
}

function Overview(props: { route: Route }) {
  const by = BY.find(([n]) => n === props.route.query.get('by')) ?? BY[0];
  const tiers = useLoad<TierSummaryResponse>(JSON.stringify(['tiers', by[0]]), (signal) =>
    call('Value', 'TierSummary', { dimension: by[1] }, signal),
  );
  const pareto = useLoad<ParetoResponse>(JSON.stringify(['pareto', by[0]]), (signal) => call('Value', 'Pareto', { dimension: by[1] }, signal));
  /** A link to the list tab with this slice's filter. */
  const listLink = (dimValue: string | undefined, f: Query) =>
    href(['value', 'list'], { ...(by[2] && dimValue ? { [by[2]]: dimValue } : {}), ...f });
  return (
    <Page
      name="value"
      state={combined(tiers, pareto)}
      title={t('value.title')}
      actions={
        <Select
          value={by[0]}
          testid="value-by"
          options={BY.map(([n, d]) => [n, t(`dim.${d}` as never)])}
          onChange={(v) => navigate(['value', 'overview'], { by: v })}
        />
      }
    >
      <section class="card">
        <h2>{t('value.tiers')}</h2>
        <Loaded load={tiers} testid="tiers-error">
          {(s) => <Tiers s={s} by={by} listLink={listLink} />}
        </Loaded>
      </section>
      <section class="card" data-testid="value-segments">
        <h2>{t('value.segments')}</h2>
        <p class="muted small">{t('value.segmentsNote')}</p>
        <div class="subjects">
          {SEGMENTS.map((seg) => (
            <a key={seg} class="chip" href={href(['value', 'list'], { segment: seg })}>
              {tk('segment', seg)}
            </a>
          ))}
        </div>
      </section>
      <section class="card">
        <h2>{t('value.pareto')}</h2>
        <Loaded load={pareto} testid="pareto-error">
          {(p) => <Pareto p={p} by={by} listLink={listLink} />}
        </Loaded>
      </section>
    </Page>
  );
}

function Tiers(props: { s: TierSummaryResponse; by: (typeof BY)[number]; listLink: (v: string | undefined, f: Query) => string }) {
  const counts = props.s.counts ?? [];
  const option = useMemo(() => {
    const values: string[] = [];
    for (const c of counts) if (!values.includes(c.dimensionValue ?? '')) values.push(c.dimensionValue ?? '');
    const present = TIERS.filter((tier) => counts.some((c) => c.tier === tier));
    if (values.length <= 1) {
      // One slice (ALL): a bar per tier.
      return {
        animation: false,
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        grid: { left: 48, right: 16, top: 16, bottom: 32 },
        xAxis: { type: 'category', data: present.map((tier) => tk('tier', tier)) },
        yAxis: { type: 'value' },
        series: [
          {
            type: 'bar',
            barMaxWidth: 64,
            name: t('common.count'),
            data: present.map((tier) => ({
              value: Number(big(counts.find((c) => c.tier === tier)?.count)),
              itemStyle: { color: TIER_COLORS[TIERS.indexOf(tier)] },
            })),
          },
        ],
      };
    }
    return {
      animation: false,
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 40, bottom: 56 },
      xAxis: { type: 'category', data: values.map((v) => v || t('common.all')), axisLabel: { rotate: values.length > 12 ? 45 : 0 } },
      yAxis: { type: 'value' },
      series: present.map((tier) => ({
        name: tk('tier', tier),
        type: 'bar',
        stack: 'tier',
        itemStyle: { color: TIER_COLORS[TIERS.indexOf(tier)] },
        data: values.map((v) => Number(big(counts.find((c) => c.tier === tier && (c.dimensionValue ?? '') === v)?.count))),
      })),
    };
  }, [counts]);
  const cols: Column<TierCount>[] = [
    ...(props.by[2]
      ? [{ key: 'value', label: t(`dim.${props.by[1]}` as never), render: (c: TierCount) => c.dimensionValue || '—', compare: (a: TierCount, b: TierCount) => (a.dimensionValue ?? '').localeCompare(b.dimensionValue ?? '') }]
      : []),
    { key: 'tier', label: t('value.tier'), render: (c) => tk('tier', c.tier), compare: (a, b) => TIERS.indexOf(a.tier ?? '') - TIERS.indexOf(b.tier ?? '') },
    {
      key: 'count',
      label: t('common.count'),
      num: true,
      render: (c) => <a href={props.listLink(c.dimensionValue, { tier: c.tier })}>{formatInt(c.count)}</a>,
      compare: (a, b) => compareInt(a.count, b.count),
      cellTestid: (c) => `tier-count-${c.dimensionValue ? `${c.dimensionValue}-` : ''}${c.tier}`,
    },
    { key: 'margin', label: t('value.margin'), num: true, render: (c) => formatMoney(c.margin), compare: (a, b) => compareInt(a.margin?.units, b.margin?.units) },
    { key: 'revenue', label: t('value.revenue'), num: true, render: (c) => formatMoney(c.revenue), compare: (a, b) => compareInt(a.revenue?.units, b.revenue?.units) },
    {
      key: 'neg',
      label: t('value.negativeAssets'),
      num: true,
      render: (c) => (big(c.negativeAssets) > 0n ? <a href={props.listLink(c.dimensionValue, { tier: c.tier, negative: 1 })}>{formatInt(c.negativeAssets)}</a> : '0'),
      compare: (a, b) => compareInt(a.negativeAssets, b.negativeAssets),
    },
  ];
  return (
    <>
      <Chart option={option} testid="tier-chart" height={300} />
      <p class="muted">
        {t('common.total')}: <span data-testid="tier-total">{formatInt(props.s.total)}</span> · {t('common.asOf')} {formatTime(props.s.asOf)}
      </p>
      <div class="scroll">
        <SortableTable columns={cols} rows={counts} rowKey={(c) => `${c.dimensionValue}|${c.tier}`} testid="tier-table" />
      </div>
    </>
  );
}

function Pareto(props: { p: ParetoResponse; by: (typeof BY)[number]; listLink: (v: string | undefined, f: Query) => string }) {
  const slices = props.p.slices ?? [];
  const [pick, setPick] = useState(0);
  const s = slices[Math.min(pick, slices.length - 1)];
  const abc = (x: ParetoSlice, cls: 'A' | 'B' | 'C') => {
    const n = cls === 'A' ? x.aCustomers : cls === 'B' ? x.bCustomers : x.cCustomers;
    return <a href={props.listLink(x.dimensionValue, { abc: cls })}>{formatInt(n)}</a>;
  };
  const cols: Column<ParetoSlice>[] = [
    ...(props.by[2]
      ? [{ key: 'value', label: t(`dim.${props.by[1]}` as never), render: (x: ParetoSlice) => x.dimensionValue || '—', compare: (a: ParetoSlice, b: ParetoSlice) => (a.dimensionValue ?? '').localeCompare(b.dimensionValue ?? '') }]
      : []),
    { key: 'customers', label: t('common.customers'), num: true, render: (x) => formatInt(x.customers), compare: (a, b) => compareInt(a.customers, b.customers) },
    { key: 'revenue', label: t('value.revenue'), num: true, render: (x) => formatMoney(x.revenue), compare: (a, b) => compareInt(a.revenue?.units, b.revenue?.units) },
    { key: 'top20', label: t('value.top20'), num: true, render: (x) => formatMoney(x.top20Revenue), compare: (a, b) => compareInt(a.top20Revenue?.units, b.top20Revenue?.units) },
    {
      key: 'share',
      label: t('value.top20Share'),
      num: true,
      render: (x) => formatPermille(x.top20SharePermille),
      compare: (a, b) => compareInt(a.top20SharePermille, b.top20SharePermille),
      cellTestid: (x) => `pareto-share-${x.dimensionValue || 'all'}`,
    },
    { key: 'a', label: t('value.a'), num: true, render: (x) => abc(x, 'A'), compare: (a, b) => compareInt(a.aCustomers, b.aCustomers) },
    { key: 'arev', label: `${t('value.a')} ${t('value.revenue')}`, num: true, render: (x) => formatMoney(x.aRevenue) },
    { key: 'b', label: t('value.b'), num: true, render: (x) => abc(x, 'B'), compare: (a, b) => compareInt(a.bCustomers, b.bCustomers) },
    { key: 'brev', label: `${t('value.b')} ${t('value.revenue')}`, num: true, render: (x) => formatMoney(x.bRevenue) },
    { key: 'c', label: t('value.c'), num: true, render: (x) => abc(x, 'C'), compare: (a, b) => compareInt(a.cCustomers, b.cCustomers) },
    { key: 'crev', label: `${t('value.c')} ${t('value.revenue')}`, num: true, render: (x) => formatMoney(x.cRevenue) },
  ];
  const option = useMemo(() => (s ? curve(s) : null), [s]);
  return (
    <>
      {slices.length > 1 && (
        <Select
          value={String(pick)}
          testid="pareto-slice"
          options={slices.map((x, i) => [String(i), x.dimensionValue || '—'])}
          onChange={(v) => setPick(Number(v))}
        />
      )}
      {option && <Chart option={option} testid="pareto-chart" height={280} />}
      <p class="muted small">{t('value.curveNote')}</p>
      <div class="scroll">
        <SortableTable columns={cols} rows={slices} rowKey={(x) => x.dimensionValue ?? ''} testid="pareto-table" />
      </div>
    </>
  );
}

/**
 * The Pareto curve of one slice, a sketch through the points the server
 * gives: (0, 0), top 20% of customers, A, A+B, (100%, 100%). Geometry in
 * floats; the figures are in the table.
 */
function curve(s: ParetoSlice) {
  const n = approx({ count: s.customers }) || 1;
  const r = approx({ money: s.revenue }) || 1;
  const a = approx({ count: s.aCustomers }) ?? 0;
  const b = approx({ count: s.bCustomers }) ?? 0;
  const ar = approx({ money: s.aRevenue }) ?? 0;
  const br = approx({ money: s.bRevenue }) ?? 0;
  const top = Number(big(s.top20SharePermille)) / 10;
  const points: [number, number][] = [
    [0, 0],
    [20, top],
    [(100 * a) / n, (100 * ar) / r],
    [(100 * (a + b)) / n, (100 * (ar + br)) / r],
    [100, 100],
  ];
  points.sort((p, q) => p[0] - q[0]);
  return {
    animation: false,
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => `${v.toFixed(1)}%` },
    grid: { left: 48, right: 24, top: 16, bottom: 40 },
    xAxis: { type: 'value', min: 0, max: 100, name: t('value.customersShare'), nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: '{value}%' } },
    yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
    series: [
      { type: 'line', name: t('value.revenueShare'), data: points, smooth: false, areaStyle: { opacity: 0.15 }, symbolSize: 6 },
      { type: 'line', data: [[0, 0], [100, 100]], lineStyle: { type: 'dashed', opacity: 0.4 }, symbol: 'none', tooltip: { show: false } },
    ],
  };
}

function ValueList(props: { route: Route }) {
  const session = useSession();
  const q = props.route.query;
  let region = q.get('region') ?? '';
  if (session.regions && region && !session.regions.includes(region)) region = '';
  // Negative assets by default (负资产), unless another filter is asked for.
  const anyFilter = ['tier', 'segment', 'abc', 'vip', 'negative', 'region', 'industry', 'owner'].some((k) => q.has(k));
  const filter: ValueFilter = {
    tier: q.get('tier') || undefined,
    segment: q.get('segment') || undefined,
    abcClass: q.get('abc') || undefined,
    negativeAssetOnly: anyFilter ? q.get('negative') === '1' : true,
    region: region || undefined,
    industry: q.get('industry') || undefined,
    ownerId: q.get('owner') || undefined,
    vipOnly: q.get('vip') === '1',
  };
  const filterKey = JSON.stringify(filter);
  const [pages, setPages] = useState<{ key: string; tokens: string[] }>({ key: filterKey, tokens: [''] });
  const tokens = pages.key === filterKey ? pages.tokens : [''];
  const token = tokens[tokens.length - 1];
  const list = useLoad<ListValueCustomersResponse>(JSON.stringify(['vlist', filter, token]), (signal) =>
    call('Value', 'ListCustomers', { filter, pageSize: 50, pageToken: token }, signal),
  );
  const set = (patch: Query) => {
    const base: Query = {
      tier: filter.tier,
      segment: filter.segment,
      abc: filter.abcClass,
      negative: filter.negativeAssetOnly ? 1 : 0,
      region: filter.region,
      industry: filter.industry,
      owner: filter.ownerId,
      vip: filter.vipOnly ? 1 : undefined,
    };
    navigate(['value', 'list'], { ...base, ...patch });
  };
  const text = (name: string, value: string | undefined, label: string) => (
    <Field label={label}>
      <input
        value={value ?? ''}
        data-testid={`vfilter-${name}`}
        onChange={(e: JSX.TargetedEvent<HTMLInputElement>) => set({ [name]: e.currentTarget.value.trim() || undefined })}
      />
    </Field>
  );
  const str = (k: keyof ValueSummary) => (a: ValueSummary, b: ValueSummary) => String(a[k] ?? '').localeCompare(String(b[k] ?? ''));
  const cols: Column<ValueSummary>[] = [
    { key: 'id', label: t('common.id'), render: (c) => <a href={customerHref(c.customerId ?? '')}>{c.customerId}</a>, compare: str('customerId') },
    { key: 'name', label: t('common.name'), render: (c) => <a href={customerHref(c.customerId ?? '')}>{c.name}</a>, compare: str('name') },
    { key: 'tier', label: t('value.tier'), render: (c) => tk('tier', c.tier), compare: (a, b) => TIERS.indexOf(a.tier ?? '') - TIERS.indexOf(b.tier ?? '') },
    { key: 'segment', label: t('value.segment'), render: (c) => (c.segment ? tk('segment', c.segment) : '—'), compare: str('segment') },
    { key: 'abc', label: t('value.abc'), render: (c) => c.abcClass || '—', compare: str('abcClass') },
    { key: 'margin', label: t('value.margin'), num: true, render: (c) => formatMoney(c.margin), compare: (a, b) => compareInt(a.margin?.units, b.margin?.units) },
    { key: 'revenue', label: t('value.revenue'), num: true, render: (c) => formatMoney(c.revenue), compare: (a, b) => compareInt(a.revenue?.units, b.revenue?.units) },
    { key: 'neg', label: t('value.negativeAssets'), render: (c) => (c.negativeAsset ? '✓' : '') },
    { key: 'region', label: t('common.region'), render: (c) => c.region, compare: str('region') },
    { key: 'industry', label: t('common.industry'), render: (c) => c.industry, compare: str('industry') },
    { key: 'owner', label: t('common.owner'), render: (c) => c.ownerId, compare: str('ownerId') },
  ];
  return (
    <Page name="value-list" state={list.state} title={t('value.tabList')}>
      <form class="controls no-print" onSubmit={(e) => e.preventDefault()}>
        <Field label={t('value.tier')}>
          <Select value={filter.tier ?? ''} testid="vfilter-tier" options={[['', t('common.all')] as [string, string]].concat(TIERS.map((x) => [x, tk('tier', x)]))} onChange={(v) => set({ tier: v || undefined })} />
        </Field>
        <Field label={t('value.segment')}>
          <Select value={filter.segment ?? ''} testid="vfilter-segment" options={[['', t('common.all')] as [string, string]].concat(SEGMENTS.map((x) => [x, tk('segment', x)]))} onChange={(v) => set({ segment: v || undefined })} />
        </Field>
        <Field label={t('value.abc')}>
          <Select value={filter.abcClass ?? ''} testid="vfilter-abc" options={[['', t('common.all')], ['A', 'A'], ['B', 'B'], ['C', 'C']]} onChange={(v) => set({ abc: v || undefined })} />
        </Field>
        {session.regions ? (
          <Field label={t('common.region')}>
            <Select value={filter.region ?? ''} testid="vfilter-region" options={[['', t('common.all')] as [string, string]].concat(session.regions.map((r) => [r, r]))} onChange={(v) => set({ region: v || undefined })} />
          </Field>
        ) : (
          text('region', filter.region, t('common.region'))
        )}
        {text('industry', filter.industry, t('common.industry'))}
        {text('owner', filter.ownerId, t('common.owner'))}
        <label class="toggle">
          <input type="checkbox" checked={!!filter.negativeAssetOnly} data-testid="vfilter-negative" onChange={() => set({ negative: filter.negativeAssetOnly ? 0 : 1 })} /> {t('value.negativeOnly')}
        </label>
        <label class="toggle">
          <input type="checkbox" checked={!!filter.vipOnly} data-testid="vfilter-vip" onChange={() => set({ vip: filter.vipOnly ? undefined : 1 })} /> {t('value.vipOnly')}
        </label>
      </form>
      <Loaded load={list} testid="vlist-error">
        {(l) => (
          <>
            <div class="scroll">
              <SortableTable columns={cols} rows={l.customers ?? []} rowKey={(c) => c.customerId ?? ''} testid="value-table" rowTestid={(c) => `value-row-${c.customerId}`} />
            </div>
            <Pager
              testid="value-pager"
              page={tokens.length}
              hasNext={!!l.nextPageToken}
              onPrev={() => setPages({ key: filterKey, tokens: tokens.slice(0, -1) })}
              onNext={() => setPages({ key: filterKey, tokens: [...tokens, l.nextPageToken!] })}
            />
          </>
        )}
      </Loaded>
    </Page>
  );
}

function num(x: number | undefined, digits = 6): string {
  // Model parameters are doubles (fitted values, not money): shown to 6 significant digits.
  return x === undefined ? '0' : Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : String(x);
}

function ClvTab() {
  const model = useLoad<ClvModel>('clv', (signal) => call('Value', 'GetClvModel', {}, signal));
  const none = model.state === 'error' && model.error.code === 'failed_precondition';
  return (
    <Page name="value-clv" state={none ? 'ready' : model.state} title={t('value.tabClv')}>
      <section class="card">
        {none ? (
          <p class="muted" data-testid="clv-none">
            {t('value.clv.none')}
          </p>
        ) : (
          <Loaded load={model} testid="clv-error">
            {(m) => (
              <Facts
                testid="clv-model"
                items={[
                  [t('value.clv.fittedAsOf'), formatTime(m.fittedAsOf)],
                  [t('value.clv.customers'), formatInt(m.customers)],
                  [t('value.clv.repeatBuyers'), formatInt(m.repeatBuyers)],
                  [`${t('value.clv.bg')} r, α, a, b`, `${num(m.r)}, ${num(m.alpha)}, ${num(m.a)}, ${num(m.b)}`],
                  [`${t('value.clv.bg')} ${t('value.clv.converged')}`, m.bgConverged ? t('common.yes') : t('common.no')],
                  [`${t('value.clv.bg')} ${t('value.clv.logLik')}`, num(m.bgLogLikelihood, 8)],
                  [`${t('value.clv.gg')} p, q, v`, `${num(m.p)}, ${num(m.q)}, ${num(m.v)}`],
                  [`${t('value.clv.gg')} ${t('value.clv.converged')}`, m.ggConverged ? t('common.yes') : t('common.no')],
                  [`${t('value.clv.gg')} ${t('value.clv.logLik')}`, num(m.ggLogLikelihood, 8)],
                ]}
              />
            )}
          </Loaded>
        )}
      </section>
    </Page>
  );
}
