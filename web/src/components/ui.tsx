import type { ComponentChildren, JSX } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import type { ApiError } from '../api/client';
import { t, tk } from '../i18n';
import type { Load } from '../hooks';

/** A page: its test hook and its loading state (`data-state` loading / ready / error). */
export function Page(props: {
  name: string;
  state: string;
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="page" data-testid={`page-${props.name}`} data-state={props.state} data-route={location.hash}>
      <div class="page-head">
        <h1>{props.title}</h1>
        {props.actions && <div class="page-actions no-print">{props.actions}</div>}
      </div>
      {props.children}
    </section>
  );
}

/** The state of several loads: error wins, then loading, else ready. */
export function combined(...loads: Load<unknown>[]): string {
  if (loads.some((l) => l.state === 'error')) return 'error';
  if (loads.some((l) => l.state === 'loading')) return 'loading';
  if (loads.every((l) => l.state === 'idle')) return 'idle';
  return 'ready';
}

export function errorText(error: ApiError): string {
  const known = tk('error', error.code);
  return known === error.code ? `${t('common.error')}: ${error.code}` : known;
}

export function ErrorBox(props: { error: ApiError; onRetry?: () => void; testid?: string }) {
  const { error } = props;
  return (
    <div class="error" role="alert" data-testid={props.testid ?? 'error'} data-code={error.code}>
      <strong>{errorText(error)}</strong>
      {error.message && <span class="error-detail"> — {error.message}</span>}
      {props.onRetry && (
        <button type="button" onClick={props.onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function Loading() {
  return (
    <div class="loading" aria-busy="true">
      {t('common.loading')}
    </div>
  );
}

/** Shows a load's error or spinner, else renders `children` with the data. */
export function Loaded<T>(props: {
  load: Load<T> & { reload?: () => void };
  children: (data: T) => ComponentChildren;
  testid?: string;
}) {
  const { load } = props;
  if (load.state === 'error') return <ErrorBox error={load.error} onRetry={load.reload} testid={props.testid} />;
  if (load.state === 'idle') return null;
  if (load.data === undefined) return <Loading />;
  return <>{props.children(load.data)}</>;
}

export interface Column<T> {
  key: string;
  label: string;
  render: (row: T) => ComponentChildren;
  /** Sort order; absent = not sortable. */
  compare?: (a: T, b: T) => number;
  /** Right-aligned (numbers). */
  num?: boolean;
  /** Kept on one line. */
  nowrap?: boolean;
  /** data-testid of each cell, from the row. */
  cellTestid?: (row: T) => string;
}

/** A table that sorts by a clicked header (stable; numbers compared exactly by the caller). */
export function SortableTable<T>(props: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  testid?: string;
  rowTestid?: (row: T) => string;
  onRowClick?: (row: T) => void;
  rowClass?: (row: T) => string;
  initialSort?: { key: string; desc?: boolean };
  caption?: ComponentChildren;
}) {
  const [sort, setSort] = useState(props.initialSort ?? null);
  const rows = useMemo(() => {
    if (!sort) return props.rows;
    const col = props.columns.find((c) => c.key === sort.key);
    if (!col?.compare) return props.rows;
    const indexed = props.rows.map((r, i) => [r, i] as const);
    indexed.sort((a, b) => {
      const c = col.compare!(a[0], b[0]);
      return (sort.desc ? -c : c) || a[1] - b[1];
    });
    return indexed.map(([r]) => r);
  }, [props.rows, props.columns, sort]);
  const click = (c: Column<T>) => {
    if (!c.compare) return;
    setSort((s) => (s && s.key === c.key ? { key: c.key, desc: !s.desc } : { key: c.key, desc: !!c.num }));
  };
  return (
    <table class="grid" data-testid={props.testid}>
      {props.caption && <caption>{props.caption}</caption>}
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th
              key={c.key}
              class={`${c.num ? 'num' : ''} ${c.compare ? 'sortable' : ''}`}
              aria-sort={sort?.key === c.key ? (sort.desc ? 'descending' : 'ascending') : undefined}
              onClick={() => click(c)}
              data-testid={props.testid ? `${props.testid}-sort-${c.key}` : undefined}
            >
              {c.label}
              {sort?.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : ''}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr
            key={props.rowKey(r)}
            data-testid={props.rowTestid?.(r)}
            class={`${props.onRowClick ? 'clickable' : ''} ${props.rowClass?.(r) ?? ''}`}
            onClick={props.onRowClick ? () => props.onRowClick!(r) : undefined}
          >
            {props.columns.map((c) => (
              <td key={c.key} class={`${c.num ? 'num' : ''} ${c.nowrap ? 'nowrap' : ''}`} data-testid={c.cellTestid?.(r)}>
                {c.render(r)}
              </td>
            ))}
          </tr>
        ))}
        {rows.length === 0 && (
          <tr>
            <td colSpan={props.columns.length} class="empty">
              {t('common.noData')}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/**
 * A tiny SVG line of a metric's history (oldest first). The geometry uses
 * floats; the exact value of each point is in its tooltip (`labels`).
 */
export function Sparkline(props: { values: (number | null)[]; labels: string[]; testid?: string }) {
  const { values } = props;
  const w = 96;
  const h = 22;
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (present.length === 0) return <svg class="spark" width={w} height={h} data-testid={props.testid} />;
  const min = Math.min(...present);
  const max = Math.max(...present);
  const span = max - min || 1;
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const segments: string[] = [];
  let current = '';
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      if (current) segments.push(current);
      current = '';
      return;
    }
    const x = (i * step).toFixed(1);
    const y = (h - 2 - ((v - min) / span) * (h - 4)).toFixed(1);
    current += `${current ? 'L' : 'M'}${x},${y}`;
  });
  if (current) segments.push(current);
  const last = values.length - 1;
  const lv = values[last];
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} data-testid={props.testid}>
      <title>{props.labels.join(' · ')}</title>
      {segments.map((d) => (
        <path d={d} />
      ))}
      {lv !== null && Number.isFinite(lv) && (
        <circle cx={(last * step).toFixed(1)} cy={(h - 2 - ((lv - min) / span) * (h - 4)).toFixed(1)} r="2" />
      )}
    </svg>
  );
}

/** Previous / next page buttons over page tokens. */
export function Pager(props: {
  page: number;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  testid?: string;
}) {
  return (
    <div class="pager no-print" data-testid={props.testid}>
      <button type="button" disabled={props.page <= 1} onClick={props.onPrev} data-testid={props.testid && `${props.testid}-prev`}>
        {t('common.prev')}
      </button>
      <span>{t('common.page', { n: props.page })}</span>
      <button type="button" disabled={!props.hasNext} onClick={props.onNext} data-testid={props.testid && `${props.testid}-next`}>
        {t('common.more')}
      </button>
    </div>
  );
}

export function Field(props: { label: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span>{props.label}</span>
      {props.children}
    </label>
  );
}

/** A label/value list. */
export function Facts(props: { items: [string, ComponentChildren, string?][]; testid?: string }) {
  return (
    <dl class="facts" data-testid={props.testid}>
      {props.items.map(([k, v, id]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd data-testid={id}>{v ?? '—'}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Badge(props: { kind?: string; children: ComponentChildren; testid?: string }) {
  return (
    <span class={`badge ${props.kind ?? ''}`} data-testid={props.testid}>
      {props.children}
    </span>
  );
}

export function Select(props: {
  value: string;
  options: [string, string][];
  onChange: (v: string) => void;
  testid?: string;
  disabled?: boolean;
}) {
  return (
    <select
      value={props.value}
      disabled={props.disabled}
      data-testid={props.testid}
      onChange={(e: JSX.TargetedEvent<HTMLSelectElement>) => props.onChange(e.currentTarget.value)}
    >
      {props.options.map(([v, label]) => (
        <option key={v} value={v}>
          {label}
        </option>
      ))}
    </select>
  );
}
