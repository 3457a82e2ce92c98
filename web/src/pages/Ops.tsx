// 运行: Admin/Status — per-partition log ends, applied offsets and lag,
// projections and dead letters (docs/security.md: a reader may call it).
// Admins also get Value/RefitClv. A live strip of recent changes reads
// GET /v1/changes?from=latest (Server-Sent Events) on demand.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, stream } from '../api/client';
import type { ClvModel, PartitionStatus, ProjectionStatus, StatusResponse } from '../api/types';
import { type Column, ErrorBox, Facts, Loaded, Page, SortableTable } from '../components/ui';
import { big, compareInt, formatInt, formatTime } from '../format';
import { useLoad } from '../hooks';
import { t, tk } from '../i18n';
import { customerHref } from '../router';
import { useSession } from '../session';

export function OpsPage() {
  const session = useSession();
  const status = useLoad<StatusResponse>('status', (signal) => call('Admin', 'Status', {}, signal));
  return (
    <Page
      name="ops"
      state={status.state}
      title={t('ops.title')}
      actions={
        <button type="button" onClick={status.reload} data-testid="ops-refresh">
          {t('ops.refresh')}
        </button>
      }
    >
      <Loaded load={status} testid="ops-error">
        {(s) => <StatusView s={s} />}
      </Loaded>
      {session.isAdmin && <AdminActions />}
      <LiveChanges />
    </Page>
  );
}

function StatusView(props: { s: StatusResponse }) {
  const { s } = props;
  const partCols = (withLog: boolean): Column<PartitionStatus>[] => [
    { key: 'p', label: t('ops.partition'), num: true, render: (p) => String(p.partition ?? 0), compare: (a, b) => (a.partition ?? 0) - (b.partition ?? 0) },
    ...(withLog ? [{ key: 'start', label: t('ops.logStart'), num: true, render: (p: PartitionStatus) => formatInt(p.logStart) }] : []),
    { key: 'end', label: t('ops.logEnd'), num: true, render: (p) => formatInt(p.logEnd), compare: (a, b) => compareInt(a.logEnd, b.logEnd) },
    ...(!withLog
      ? [
          { key: 'applied', label: t('ops.applied'), num: true, render: (p: PartitionStatus) => formatInt(p.appliedOffset), compare: (a: PartitionStatus, b: PartitionStatus) => compareInt(a.appliedOffset, b.appliedOffset) },
          {
            key: 'lag',
            label: t('ops.lag'),
            num: true,
            render: (p: PartitionStatus) => <span class={big(p.lag) > 0n ? 'warn' : ''}>{formatInt(p.lag)}</span>,
            compare: (a: PartitionStatus, b: PartitionStatus) => compareInt(a.lag, b.lag),
            cellTestid: () => 'ops-lag',
          },
          { key: 'owner', label: t('ops.owner'), render: (p: PartitionStatus) => (p.owned || !p.owner ? '' : p.owner) },
          { key: 'restoring', label: t('ops.restoring'), render: (p: PartitionStatus) => (p.restoring ? `→ ${formatInt(p.restoreTarget)}` : '') },
        ]
      : []),
  ];
  return (
    <>
      <section class="card">
        <Facts
          testid="ops-summary"
          items={[
            [t('ops.mode'), s.mode, 'ops-mode'],
            [t('ops.version'), s.version, 'ops-version'],
            [t('ops.deadLetters'), formatInt(s.deadLetters), 'ops-dead-letters'],
          ]}
        />
      </section>
      <section class="card">
        <h2>{t('ops.projections')}</h2>
        {(s.projections ?? []).map((p) => (
          <ProjectionView key={p.name} p={p} cols={partCols(false)} />
        ))}
      </section>
      <section class="card">
        <h2>{t('ops.topics')}</h2>
        {(s.topics ?? []).map((topic) => (
          <details key={topic.topic} data-testid={`ops-topic-${topic.topic}`}>
            <summary>{topic.topic}</summary>
            <SortableTable columns={partCols(true)} rows={topic.partitions ?? []} rowKey={(p) => String(p.partition ?? 0)} />
          </details>
        ))}
      </section>
    </>
  );
}

function ProjectionView(props: { p: ProjectionStatus; cols: Column<PartitionStatus>[] }) {
  const { p } = props;
  return (
    <div class="projection" data-testid={`ops-projection-${p.name}`}>
      <h3>
        {p.name} <span class="muted small">{p.topic}</span>
      </h3>
      <Facts
        items={[
          [t('ops.eventsApplied'), formatInt(p.eventsApplied)],
          [t('ops.noops'), formatInt(p.noops)],
          [t('ops.deadLetters'), formatInt(p.deadLetters), `ops-projection-${p.name}-dead-letters`],
          [t('ops.parked'), `${formatInt(p.parkedCustomers)} (${formatInt(p.parkedEvents)})`],
          [t('ops.changesEmitted'), formatInt(p.changesEmitted)],
          [t('ops.outboxPending'), formatInt(p.outboxPending)],
          [t('ops.noopsByReason'), (p.noopsByReason ?? []).map((r) => `${r.reason}: ${formatInt(r.count)}`).join(' · ') || '—'],
        ]}
      />
      <details>
        <summary>
          {t('ops.partition')} × {(p.partitions ?? []).length}
        </summary>
        <SortableTable columns={props.cols} rows={p.partitions ?? []} rowKey={(x) => String(x.partition ?? 0)} testid={`ops-partitions-${p.name}`} />
      </details>
    </div>
  );
}

function AdminActions() {
  const [state, setState] = useState<{ busy: boolean; done?: ClvModel; error?: ApiError }>({ busy: false });
  return (
    <section class="card no-print" data-testid="ops-admin">
      <h2>{t('ops.admin')}</h2>
      <button
        type="button"
        disabled={state.busy}
        data-testid="ops-refit"
        onClick={() => {
          setState({ busy: true });
          call<ClvModel>('Value', 'RefitClv', {}).then(
            (done) => setState({ busy: false, done }),
            (error: ApiError) => setState({ busy: false, error }),
          );
        }}
      >
        {t('ops.refit')}
      </button>{' '}
      {state.done && <span data-testid="ops-refit-done">{t('ops.refitDone', { n: formatInt(state.done.customers) })}</span>}
      {state.error && <ErrorBox error={state.error} />}
    </section>
  );
}

interface LiveChange {
  id: string;
  at?: string;
  customer?: string;
  what: string;
}

/** The detail of a ChangeRecord (changes.proto StateChange) in a few words. */
function describe(data: unknown): LiveChange {
  const rec = (data ?? {}) as { change?: Record<string, unknown>; resumeToken?: string };
  const c = rec.change ?? {};
  const envelope = new Set(['changeId', 'projection', 'customerId', 'scope', 'at', 'source']);
  let what = '';
  for (const [k, v] of Object.entries(c)) {
    if (envelope.has(k)) continue;
    const d = (v ?? {}) as Record<string, unknown>;
    if (k === 'stageChanged') what = `${tk('stage', String(d.from ?? ''))} → ${tk('stage', String(d.to ?? ''))}`;
    else if (k === 'tierChanged') what = `${tk('tier', String(d.from ?? 'TIER_UNSPECIFIED'))} → ${tk('tier', String(d.to ?? ''))}`;
    else if (k === 'segmentChanged') what = `${tk('segment', String(d.from ?? '')) || '—'} → ${tk('segment', String(d.to ?? '')) || '—'}`;
    else what = `${k} ${JSON.stringify(d)}`;
    what = `${k}: ${what}`;
  }
  return { id: String(c.changeId ?? rec.resumeToken ?? ''), at: c.at as string | undefined, customer: c.customerId as string | undefined, what };
}

function LiveChanges() {
  const [on, setOn] = useState(false);
  const [items, setItems] = useState<LiveChange[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => {
    if (!on) return undefined;
    const controller = new AbortController();
    abort.current = controller;
    setError(null);
    stream('v1/changes?from=latest', (_id, data) => setItems((prev) => [describe(data), ...prev].slice(0, 20)), controller.signal).then(
      () => setOn(false),
      (e: unknown) => {
        if (!controller.signal.aborted) {
          setError(e instanceof ApiError ? e : new ApiError('unavailable', String(e), 0));
          setOn(false);
        }
      },
    );
    return () => controller.abort();
  }, [on]);
  return (
    <section class="card no-print" data-testid="ops-live">
      <h2>
        {t('ops.live')}{' '}
        <button type="button" onClick={() => setOn(!on)} data-testid="ops-live-toggle">
          {on ? t('ops.liveStop') : t('ops.liveStart')}
        </button>
      </h2>
      {error && <ErrorBox error={error} />}
      {on && items.length === 0 && <p class="muted">{t('ops.liveEmpty')}</p>}
      <ul class="live">
        {items.map((c) => (
          <li key={c.id}>
            <span class="muted">{formatTime(c.at)}</span> {c.customer && <a href={customerHref(c.customer)}>{c.customer}</a>} {c.what}
          </li>
        ))}
      </ul>
    </section>
  );
}
