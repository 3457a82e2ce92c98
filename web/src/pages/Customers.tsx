// 客户: the lifecycle distribution (Lifecycle/StageSummary, stacked bars by
// region / industry / owner) and the customer list with filters
// (Lifecycle/ListCustomers, paged). docs/lifecycle.md.
import type { JSX } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { call } from '../api/client';
import type { CustomerFilter, CustomerSummary, ListCustomersResponse, StageCount, StageSummaryResponse } from '../api/types';
import { Chart } from '../components/Chart';
import { type Column, combined, Field, Loaded, Page, Pager, Select, SortableTable } from '../components/ui';
import { big, formatInt, formatTime } from '../format';
import { useLoad } from '../hooks';
import { t, tk } from '../i18n';
import { customerHref, href, navigate, type Route } from '../router';
import { useSession } from '../session';

const BY: [string, string, keyof CustomerFilter][] = [
  ['region', 'DIMENSION_REGION', 'region'],
  ['industry', 'DIMENSION_INDUSTRY', 'industry'],
  ['owner', 'DIMENSION_OWNER', 'ownerId'],
];

/** The stacked series: each stage, CUSTOMER split by sub-stage (no sums needed). */
const SERIES: [string, string][] = [
  ['LIFECYCLE_STAGE_PROSPECT', 'SUB_STAGE_UNSPECIFIED'],
  ['LIFECYCLE_STAGE_INTENT', 'SUB_STAGE_UNSPECIFIED'],
  ['LIFECYCLE_STAGE_CUSTOMER', 'SUB_STAGE_NEW'],
  ['LIFECYCLE_STAGE_CUSTOMER', 'SUB_STAGE_GROWING'],
  ['LIFECYCLE_STAGE_CUSTOMER', 'SUB_STAGE_STABLE'],
  ['LIFECYCLE_STAGE_CUSTOMER', 'SUB_STAGE_DECLINING'],
  ['LIFECYCLE_STAGE_CUSTOMER', 'SUB_STAGE_UNSPECIFIED'],
  ['LIFECYCLE_STAGE_LOST', 'SUB_STAGE_UNSPECIFIED'],
];
const COLORS = ['#9fb3c8', '#f2b950', '#7fc97f', '#2e9e5b', '#1f6f8b', '#d9534f', '#5aa0d0', '#8c8c8c'];

function seriesLabel(stage: string, sub: string): string {
  const s = tk('stage', stage);
  const ss = tk('sub', sub);
  return ss ? `${s}·${ss}` : s;
}

const STAGES = ['LIFECYCLE_STAGE_PROSPECT', 'LIFECYCLE_STAGE_INTENT', 'LIFECYCLE_STAGE_CUSTOMER', 'LIFECYCLE_STAGE_LOST'];
const SUBS = ['SUB_STAGE_NEW', 'SUB_STAGE_GROWING', 'SUB_STAGE_STABLE', 'SUB_STAGE_DECLINING'];
const KINDS = ['CUSTOMER_KIND_CUSTOMER', 'CUSTOMER_KIND_AGENT', 'CUSTOMER_KIND_SUPPLIER', 'CUSTOMER_KIND_PARTNER', 'CUSTOMER_KIND_COMPETITOR'];

function filterOf(route: Route, scoped: string[] | null): CustomerFilter {
  const q = route.query;
  let region = q.get('region') ?? '';
  if (scoped && region && !scoped.includes(region)) region = '';
  const stage = q.get('stage') ?? '';
  return {
    stage: stage || undefined,
    subStage: stage === 'LIFECYCLE_STAGE_CUSTOMER' ? q.get('sub') || undefined : undefined,
    region: region || undefined,
    industry: q.get('industry') || undefined,
    ownerId: q.get('owner') || undefined,
    kind: q.get('kind') || undefined,
  };
}

export function CustomersPage(props: { route: Route }) {
  const session = useSession();
  const by = BY.find(([n]) => n === props.route.query.get('by')) ?? BY[0];
  const filter = filterOf(props.route, session.regions);
  const query = (patch: Record<string, string | undefined>) => {
    const base: Record<string, string | undefined> = {
      by: by[0],
      stage: filter.stage,
      sub: filter.subStage,
      region: filter.region,
      industry: filter.industry,
      owner: filter.ownerId,
      kind: filter.kind,
    };
    return { ...base, ...patch };
  };
  const summary = useLoad<StageSummaryResponse>(JSON.stringify(['summary', by[0]]), (signal) =>
    call('Lifecycle', 'StageSummary', { dimension: by[1] }, signal),
  );
  // Page tokens of the pages before the current one (reset with the filter).
  const filterKey = JSON.stringify(filter);
  const [pages, setPages] = useState<{ key: string; tokens: string[] }>({ key: filterKey, tokens: [''] });
  const tokens = pages.key === filterKey ? pages.tokens : [''];
  const token = tokens[tokens.length - 1];
  const list = useLoad<ListCustomersResponse>(JSON.stringify(['list', filter, token]), (signal) =>
    call('Lifecycle', 'ListCustomers', { filter, pageSize: 50, pageToken: token }, signal),
  );
  return (
    <Page name="customers" state={combined(summary, list)} title={t('customers.title')}>
      <section class="card">
        <h2>
          {t('customers.distribution')}{' '}
          <span class="inline-controls no-print">
            {t('customers.by')}{' '}
            <Select
              value={by[0]}
              testid="customers-by"
              options={BY.map(([n, d]) => [n, t(`dim.${d}` as never)])}
              onChange={(v) => navigate('customers', query({ by: v }))}
            />
          </span>
        </h2>
        <Loaded load={summary} testid="summary-error">
          {(s) => <Distribution s={s} by={by} link={(p) => href('customers', query(p))} />}
        </Loaded>
      </section>
      <section class="card">
        <h2>{t('customers.list')}</h2>
        <Filters filter={filter} scoped={session.regions} onChange={(p) => navigate('customers', query(p))} />
        <Loaded load={list} testid="list-error">
          {(l) => (
            <>
              <CustomerTable rows={l.customers ?? []} />
              <Pager
                testid="customers-pager"
                page={tokens.length}
                hasNext={!!l.nextPageToken}
                onPrev={() => setPages({ key: filterKey, tokens: tokens.slice(0, -1) })}
                onNext={() => setPages({ key: filterKey, tokens: [...tokens, l.nextPageToken!] })}
              />
            </>
          )}
        </Loaded>
      </section>
    </Page>
  );
}

function Distribution(props: {
  s: StageSummaryResponse;
  by: [string, string, keyof CustomerFilter];
  link: (patch: Record<string, string | undefined>) => string;
}) {
  const counts = props.s.counts ?? [];
  const { values, cell } = useMemo(() => {
    const values: string[] = [];
    const cell = new Map<string, StageCount>();
    for (const c of counts) {
      const v = c.dimensionValue ?? '';
      if (!values.includes(v)) values.push(v);
      cell.set(`${v}|${c.stage ?? ''}|${c.subStage ?? 'SUB_STAGE_UNSPECIFIED'}`, c);
    }
    return { values, cell };
  }, [counts]);
  const series = SERIES.filter(([st, sub]) => values.some((v) => cell.has(`${v}|${st}|${sub}`)));
  const param = props.by[0] === 'owner' ? 'owner' : props.by[0];
  const linkOf = (v: string, st: string, sub: string) =>
    props.link({ [param]: v || undefined, stage: st, sub: sub === 'SUB_STAGE_UNSPECIFIED' ? undefined : sub });
  const option = useMemo(
    () => ({
      animation: false,
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 40, bottom: 64 },
      xAxis: { type: 'category', data: values.map((v) => v || '—'), axisLabel: { rotate: values.length > 12 ? 45 : 0 } },
      yAxis: { type: 'value' },
      series: series.map(([st, sub]) => ({
        name: seriesLabel(st, sub),
        type: 'bar',
        stack: 'stage',
        itemStyle: { color: COLORS[SERIES.findIndex(([a, b]) => a === st && b === sub)] },
        // Chart geometry: counts below 2^53 are exact as Numbers anyway.
        data: values.map((v) => Number(big(cell.get(`${v}|${st}|${sub}`)?.count))),
      })),
    }),
    [values, series, cell],
  );
  return (
    <>
      <Chart
        option={option}
        testid="stage-chart"
        height={values.length > 12 ? 380 : 320}
        onClick={(p) => {
          const s = series[p.seriesIndex ?? -1];
          const v = values[p.dataIndex ?? -1];
          if (s && v !== undefined) location.hash = linkOf(v, s[0], s[1]);
        }}
      />
      <p class="muted">
        {t('common.total')}: <span data-testid="stage-total">{formatInt(props.s.total)}</span> · {t('common.asOf')} {formatTime(props.s.asOf)}
      </p>
      <div class="scroll">
        <table class="grid compact" data-testid="stage-table">
          <thead>
            <tr>
              <th>{t(`dim.${props.by[1]}` as never)}</th>
              {series.map(([st, sub]) => (
                <th class="num" key={`${st}${sub}`}>
                  {seriesLabel(st, sub)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {values.map((v) => (
              <tr key={v} data-testid={`stage-row-${v}`}>
                <th scope="row">{v || '—'}</th>
                {series.map(([st, sub]) => {
                  const c = cell.get(`${v}|${st}|${sub}`);
                  return (
                    <td class="num" key={`${st}${sub}`}>
                      {c ? <a href={linkOf(v, st, sub)}>{formatInt(c.count)}</a> : ''}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Filters(props: {
  filter: CustomerFilter;
  scoped: string[] | null;
  onChange: (patch: Record<string, string | undefined>) => void;
}) {
  const f = props.filter;
  const text = (name: string, value: string | undefined, label: string) => (
    <Field label={label}>
      <input
        value={value ?? ''}
        data-testid={`filter-${name}`}
        onChange={(e: JSX.TargetedEvent<HTMLInputElement>) => props.onChange({ [name]: e.currentTarget.value.trim() || undefined })}
      />
    </Field>
  );
  return (
    <form class="controls no-print" onSubmit={(e) => e.preventDefault()}>
      <Field label={t('common.stage')}>
        <Select
          value={f.stage ?? ''}
          testid="filter-stage"
          options={[['', t('common.all')] as [string, string]].concat(STAGES.map((s) => [s, tk('stage', s)]))}
          onChange={(v) => props.onChange({ stage: v || undefined, sub: undefined })}
        />
      </Field>
      {f.stage === 'LIFECYCLE_STAGE_CUSTOMER' && (
        <Field label={t('common.subStage')}>
          <Select
            value={f.subStage ?? ''}
            testid="filter-sub"
            options={[['', t('common.all')] as [string, string]].concat(SUBS.map((s) => [s, tk('sub', s)]))}
            onChange={(v) => props.onChange({ sub: v || undefined })}
          />
        </Field>
      )}
      {props.scoped ? (
        <Field label={t('common.region')}>
          <Select
            value={f.region ?? ''}
            testid="filter-region"
            options={[['', t('common.all')] as [string, string]].concat(props.scoped.map((r) => [r, r]))}
            onChange={(v) => props.onChange({ region: v || undefined })}
          />
        </Field>
      ) : (
        text('region', f.region, t('common.region'))
      )}
      {text('industry', f.industry, t('common.industry'))}
      {text('owner', f.ownerId, t('common.owner'))}
      <Field label={t('common.kind')}>
        <Select
          value={f.kind ?? ''}
          testid="filter-kind"
          options={[['', t('common.all')] as [string, string]].concat(KINDS.map((k) => [k, tk('kind', k)]))}
          onChange={(v) => props.onChange({ kind: v || undefined })}
        />
      </Field>
      <button
        type="button"
        data-testid="filter-clear"
        onClick={() => props.onChange({ stage: undefined, sub: undefined, region: undefined, industry: undefined, owner: undefined, kind: undefined })}
      >
        {t('customers.clear')}
      </button>
    </form>
  );
}

export function stageText(stage?: string, sub?: string): string {
  const s = tk('stage', stage);
  const ss = tk('sub', sub);
  return ss ? `${s} · ${ss}` : s;
}

function CustomerTable(props: { rows: CustomerSummary[] }) {
  const str = (k: keyof CustomerSummary) => (a: CustomerSummary, b: CustomerSummary) =>
    String(a[k] ?? '').localeCompare(String(b[k] ?? ''));
  const cols: Column<CustomerSummary>[] = [
    { key: 'id', label: t('common.id'), render: (c) => <a href={customerHref(c.customerId ?? '')}>{c.customerId}</a>, compare: str('customerId') },
    {
      key: 'name',
      label: t('common.name'),
      render: (c) => (
        <a href={customerHref(c.customerId ?? '')} data-testid="customer-name-link">
          {c.name}
        </a>
      ),
      compare: str('name'),
    },
    { key: 'kind', label: t('common.kind'), render: (c) => tk('kind', c.kind), compare: str('kind') },
    { key: 'stage', label: t('common.stage'), render: (c) => stageText(c.stage, c.subStage), compare: str('stage') },
    { key: 'region', label: t('common.region'), render: (c) => c.region, compare: str('region'), cellTestid: () => 'customer-region' },
    { key: 'industry', label: t('common.industry'), render: (c) => c.industry, compare: str('industry') },
    { key: 'owner', label: t('common.owner'), render: (c) => c.ownerId, compare: str('ownerId') },
    { key: 'man', label: t('customers.man'), render: (c) => c.manClass ?? '' },
    { key: 'last', label: t('customers.lastActivity'), render: (c) => formatTime(c.lastActivityAt), compare: str('lastActivityAt') },
  ];
  return (
    <div class="scroll">
      <SortableTable
        columns={cols}
        rows={props.rows}
        rowKey={(c) => c.customerId ?? ''}
        testid="customers-table"
        rowTestid={(c) => `customer-row-${c.customerId}`}
      />
    </div>
  );
}
