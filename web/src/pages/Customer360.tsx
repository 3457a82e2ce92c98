// One customer's 360° page (#/customers/<id>): Lifecycle/GetCustomer,
// Value/GetValue, Review/CustomerActivity and Lifecycle/Timeline (paged), in
// parallel. docs/lifecycle.md "The view", docs/value.md, docs/review.md.
import { useState } from 'preact/hooks';
import { call } from '../api/client';
import type {
  CustomerActivityResponse,
  CustomerView,
  EventJson,
  Money,
  TimelineResponse,
  ValueView,
  WorklistItem,
} from '../api/types';
import { Badge, type Column, ErrorBox, errorText, Facts, Loaded, Loading, Page, Pager, SortableTable } from '../components/ui';
import { big, formatInt, formatMoney, formatTime, formatDate } from '../format';
import { useLoad } from '../hooks';
import { t, tk } from '../i18n';
import type { Route } from '../router';
import { stageText } from './Customers';

export function Customer360Page(props: { route: Route }) {
  const id = props.route.path[1] ?? '';
  const customer = useLoad<CustomerView>(JSON.stringify(['customer', id]), (signal) =>
    call('Lifecycle', 'GetCustomer', { customerId: id }, signal),
  );
  const value = useLoad<ValueView>(JSON.stringify(['value', id]), (signal) => call('Value', 'GetValue', { customerId: id }, signal));
  const activity = useLoad<CustomerActivityResponse>(JSON.stringify(['activity', id]), (signal) =>
    call('Review', 'CustomerActivity', { customerId: id }, signal),
  );
  const [tokens, setTokens] = useState<{ id: string; list: string[] }>({ id, list: [''] });
  const pageTokens = tokens.id === id ? tokens.list : [''];
  const token = pageTokens[pageTokens.length - 1];
  const timeline = useLoad<TimelineResponse>(JSON.stringify(['timeline', id, token]), (signal) =>
    call('Lifecycle', 'Timeline', { customerId: id, pageSize: 50, pageToken: token }, signal),
  );

  // The page is "ready" once the profile is known (or known not to exist)
  // and the other parts have answered, whatever they answered.
  const parts = [customer, value, activity, timeline];
  const state = parts.some((p) => p.state === 'loading') ? 'loading' : customer.state === 'error' ? 'error' : 'ready';

  if (customer.state === 'error' && customer.error.code === 'not_found') {
    return (
      <Page name="customer" state="not-found" title={id}>
        <Back />
        <div class="error" role="alert" data-testid="customer-not-found">
          <strong>{errorText(customer.error)}</strong>
        </div>
      </Page>
    );
  }
  const c = customer.data;
  return (
    <Page
      name="customer"
      state={state}
      title={c?.profile?.name ?? id}
      actions={
        c && (
          <span class="muted">
            {id} · <Badge kind="stage" testid="customer-stage">{stageText(c.stage, c.subStage)}</Badge>
          </span>
        )
      }
    >
      <Back />
      {customer.state === 'error' && <ErrorBox error={customer.error} onRetry={customer.reload} />}
      {!c && customer.state === 'loading' && <Loading />}
      {c && <ProfileSection c={c} />}
      <section class="card" data-testid="customer-value">
        <h2>{t('c360.value')}</h2>
        {value.state === 'error' && value.error.code === 'not_found' ? (
          <p class="muted">{t('c360.noValue')}</p>
        ) : (
          <Loaded load={value}>{(v) => <ValueSection v={v} />}</Loaded>
        )}
      </section>
      <Loaded load={activity} testid="activity-error">
        {(a) => <ActivitySection a={a} />}
      </Loaded>
      {c && <HistorySection c={c} />}
      <section class="card" data-testid="customer-timeline">
        <h2>{t('c360.timeline')}</h2>
        <Loaded load={timeline}>
          {(tl) => (
            <>
              <TimelineTable entries={tl} />
              <Pager
                testid="timeline-pager"
                page={pageTokens.length}
                hasNext={!!tl.nextPageToken}
                onPrev={() => setTokens({ id, list: pageTokens.slice(0, -1) })}
                onNext={() => setTokens({ id, list: [...pageTokens, tl.nextPageToken!] })}
              />
            </>
          )}
        </Loaded>
      </section>
    </Page>
  );
}

function Back() {
  return (
    <p class="crumb no-print">
      <a href="#/customers" data-testid="customer-back">
        ← {t('customers.list')}
      </a>
    </p>
  );
}

function ProfileSection(props: { c: CustomerView }) {
  const { c } = props;
  const p = c.profile ?? {};
  return (
    <>
      <section class="card">
        <h2>
          <span data-testid="customer-name">{p.name}</span>
        </h2>
        <Facts
          testid="customer-profile"
          items={[
            [t('common.id'), c.customerId, 'customer-id'],
            [t('common.kind'), tk('kind', p.kind)],
            [t('common.region'), p.region, 'customer-region'],
            [t('common.industry'), p.industry],
            [t('common.owner'), p.ownerId, 'customer-owner'],
            [t('c360.channel'), p.channel],
            [t('c360.size'), p.size],
            [t('c360.budget'), p.budget ? formatMoney(p.budget) : '—'],
            [t('c360.need'), tk('need', p.need) || '—'],
            [t('c360.registeredAt'), formatTime(p.registeredAt)],
            [t('customers.man'), c.manClass || '—'],
            [t('c360.lastActivity'), formatTime(c.lastActivityAt)],
            [t('c360.firstPurchase'), formatTime(c.firstPurchaseAt)],
            [t('c360.lastPurchase'), formatTime(c.lastPurchaseAt)],
            [t('c360.revenueLast'), formatMoney(c.revenueLast365d)],
            [t('c360.revenuePrior'), formatMoney(c.revenuePrior365d)],
            [t('c360.purchases'), formatInt(c.purchaseCount ?? 0)],
            [t('c360.winBacks'), formatInt(c.winBackCount ?? 0)],
            [t('c360.flags'), (c.flags ?? []).map((f) => tk('flag', f)).join('、') || '—'],
          ]}
        />
      </section>
      <section class="card">
        <h2>{t('c360.contacts')}</h2>
        <SortableTable
          testid="customer-contacts"
          rows={c.contacts ?? []}
          rowKey={(x) => x.contactId ?? ''}
          columns={[
            { key: 'name', label: t('common.name'), render: (x) => x.name, compare: (a, b) => (a.name ?? '').localeCompare(b.name ?? '') },
            { key: 'role', label: t('c360.role'), render: (x) => tk('role', x.role), compare: (a, b) => (a.role ?? '').localeCompare(b.role ?? '') },
            {
              key: 'birthday',
              label: t('c360.birthday'),
              render: (x) =>
                x.birthday ? `${x.birthday.year ? `${x.birthday.year}-` : ''}${String(x.birthday.month ?? 0).padStart(2, '0')}-${String(x.birthday.day ?? 0).padStart(2, '0')}` : '—',
            },
            { key: 'visited', label: t('c360.visited'), render: (x) => (x.visited ? '✓' : '') },
            { key: 'id', label: t('common.id'), render: (x) => <span class="muted">{x.contactId}</span> },
          ]}
        />
      </section>
      <section class="card">
        <h2>{t('c360.opportunities')}</h2>
        <SortableTable
          testid="customer-opportunities"
          rows={c.openOpportunities ?? []}
          rowKey={(o) => o.opportunityId ?? ''}
          columns={[
            { key: 'id', label: t('common.id'), render: (o) => o.opportunityId },
            { key: 'stage', label: t('common.stage'), render: (o) => tk('fstage', o.stage), compare: (a, b) => (a.stage ?? '').localeCompare(b.stage ?? '') },
            { key: 'p', label: t('c360.probability'), num: true, render: (o) => `${o.probability ?? 0}%`, compare: (a, b) => (a.probability ?? 0) - (b.probability ?? 0) },
            {
              key: 'amount',
              label: t('common.amount'),
              num: true,
              render: (o) => formatMoney(o.amount),
              compare: (a, b) => cmpMoney(a.amount, b.amount),
            },
            { key: 'product', label: t('c360.product'), render: (o) => o.product },
            { key: 'opened', label: t('c360.openedAt'), render: (o) => formatDate(o.openedAt), compare: (a, b) => (a.openedAt ?? '').localeCompare(b.openedAt ?? '') },
          ]}
        />
      </section>
    </>
  );
}

function cmpMoney(a?: Money, b?: Money): number {
  const x = big(a?.units);
  const y = big(b?.units);
  return x < y ? -1 : x > y ? 1 : 0;
}

function HistorySection(props: { c: CustomerView }) {
  const rows = props.c.stageHistory ?? [];
  return (
    <section class="card">
      <h2>{t('c360.history')}</h2>
      <table class="grid" data-testid="customer-history">
        <thead>
          <tr>
            <th>{t('common.time')}</th>
            <th>{t('c360.from')}</th>
            <th>{t('c360.to')}</th>
            <th>{t('c360.reason')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((h, i) => (
            <tr key={i}>
              <td>{formatTime(h.at)}</td>
              <td>{stageText(h.from, h.fromSubStage)}</td>
              <td>{stageText(h.to, h.toSubStage)}</td>
              <td class="muted">{h.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function pct(p: number | undefined): string {
  // p_alive is a model output (a double), not an exact figure: one decimal.
  return p === undefined ? '0.0%' : `${(p * 100).toFixed(1)}%`;
}

function ValueSection(props: { v: ValueView }) {
  const { v } = props;
  const clv = v.clv ?? {};
  const rfm = v.rfm;
  return (
    <Facts
      items={[
        [t('c360.tier'), tk('tier', v.tier ?? 'TIER_UNSPECIFIED'), 'value-tier'],
        [t('c360.segment'), v.segment ? tk('segment', v.segment) : '—', 'value-segment'],
        [t('c360.abc'), v.abcClass || '—'],
        [t('c360.loyalty'), tk('loyalty', v.loyalty ?? 'LOYALTY_UNSPECIFIED'), 'value-loyalty'],
        [t('c360.rfm'), rfm ? `${t('c360.recency')} ${formatInt(rfm.recencyDays)} · ${t('c360.frequency')} ${formatInt(rfm.frequency)} · ${t('c360.monetary')} ${formatMoney(rfm.monetary)}` : '—', 'value-rfm'],
        [t('c360.scores'), rfm ? `${rfm.rScore ?? 0} / ${rfm.fScore ?? 0} / ${rfm.mScore ?? 0}` : '—'],
        [t('c360.margin'), formatMoney(v.margin), 'value-margin'],
        [t('c360.revenue'), formatMoney(v.revenue)],
        [t('c360.costToServe'), formatMoney(v.costToServe)],
        [t('c360.netContribution'), formatMoney(v.netContribution)],
        [t('c360.negativeAsset'), v.negativeAsset ? t('common.yes') : t('common.no'), 'value-negative'],
        [t('c360.rank'), v.population ? `${formatInt(big(v.marginRank) + 1n)} / ${formatInt(v.population)}` : '—'],
        [t('c360.clvHistorical'), formatMoney(clv.historical), 'value-clv-historical'],
        [t('c360.clvPredicted'), clv.modelFitted ? formatMoney(clv.predicted) : t('c360.noModel'), 'value-clv-predicted'],
        [t('c360.pAlive'), clv.modelFitted ? pct(clv.pAlive) : '—', 'value-p-alive'],
        [t('c360.expectedPurchases'), clv.modelFitted ? (clv.expectedPurchases ?? 0).toFixed(2) : '—'],
        [t('c360.horizon'), clv.horizonMonths ? String(clv.horizonMonths) : '—'],
        [t('c360.pipeline'), formatMoney(v.weightedPipeline)],
        [t('c360.referredMargin'), formatMoney(v.referredMargin)],
      ]}
    />
  );
}

export function urgencyBadge(u?: string) {
  if (!u) return '';
  return <Badge kind={u === 'PAST' ? 'sev-high' : 'sev-medium'}>{tk('urgency', u)}</Badge>;
}

function ActivitySection(props: { a: CustomerActivityResponse }) {
  const { a } = props;
  const worklistCols: Column<WorklistItem>[] = [
    { key: 'reason', label: t('worklist.reason'), render: (w) => tk('reason', w.reason) },
    { key: 'subject', label: t('worklist.subject'), render: (w) => w.subjectId },
    { key: 'at', label: t('worklist.at'), render: (w) => formatTime(w.at) },
    { key: 'urgency', label: t('worklist.urgency'), render: (w) => urgencyBadge(w.urgency) },
  ];
  return (
    <>
      <section class="card">
        <h2>{t('c360.complaints')}</h2>
        <SortableTable
          testid="customer-complaints"
          rows={a.complaints ?? []}
          rowKey={(x) => x.complaintId ?? ''}
          rowClass={(x) => (x.resolvedAt ? 'muted' : '')}
          columns={[
            { key: 'id', label: t('c360.complaint'), render: (x) => x.complaintId },
            { key: 'category', label: t('c360.category'), render: (x) => tk('category', x.category) },
            { key: 'severity', label: t('c360.severity'), render: (x) => tk('severity', x.severity) },
            { key: 'filed', label: t('c360.filedAt'), render: (x) => formatTime(x.filedAt) },
            { key: 'responded', label: t('c360.respondedAt'), render: (x) => formatTime(x.respondedAt) },
            { key: 'resolved', label: t('c360.resolvedAt'), render: (x) => formatTime(x.resolvedAt) },
            { key: 'due', label: t('c360.due'), render: (x) => (x.resolvedAt ? '—' : formatTime(x.due)) },
            { key: 'urgency', label: t('c360.urgency'), render: (x) => urgencyBadge(x.urgency) },
          ]}
        />
      </section>
      <section class="card">
        <h2>{t('c360.receivables')}</h2>
        <SortableTable
          testid="customer-receivables"
          rows={a.receivables ?? []}
          rowKey={(x) => x.contractId ?? ''}
          rowClass={(x) => (x.overdue ? 'alert' : '')}
          columns={[
            { key: 'contract', label: t('c360.contract'), render: (x) => x.contractId },
            { key: 'amount', label: t('common.amount'), num: true, render: (x) => formatMoney(x.amount), compare: (p, q) => cmpMoney(p.amount, q.amount) },
            { key: 'paid', label: t('c360.paid'), num: true, render: (x) => formatMoney(x.paid), compare: (p, q) => cmpMoney(p.paid, q.paid) },
            {
              key: 'outstanding',
              label: t('c360.outstanding'),
              num: true,
              render: (x) => formatMoney(x.outstanding),
              compare: (p, q) => cmpMoney(p.outstanding, q.outstanding),
            },
            { key: 'due', label: t('c360.paymentDue'), render: (x) => formatDate(x.paymentDue) },
            { key: 'overdue', label: t('c360.overdue'), render: (x) => (x.overdue ? <Badge kind="sev-high">{t('c360.overdue')}</Badge> : '') },
          ]}
        />
      </section>
      <section class="card">
        <h2>{t('c360.worklist')}</h2>
        <SortableTable
          testid="customer-worklist"
          rows={a.worklist ?? []}
          rowKey={(w) => `${w.reason}|${w.subjectId}|${w.at}`}
          columns={worklistCols}
        />
      </section>
    </>
  );
}

const ENVELOPE = new Set(['eventId', 'customerId', 'occurredAt', 'recordedAt', 'source', 'actorId']);

/** The payload of an event (the one key outside the envelope). */
function payloadOf(e: EventJson): [string, Record<string, unknown>] {
  for (const [k, v] of Object.entries(e)) {
    if (!ENVELOPE.has(k)) return [k, (v ?? {}) as Record<string, unknown>];
  }
  return ['', {}];
}

function isMoney(v: unknown): v is Money {
  return typeof v === 'object' && v !== null && ('units' in v || 'currency' in v) && Object.keys(v).every((k) => k === 'units' || k === 'currency');
}

/** A compact "field: value" text of a payload, money formatted exactly. */
function payloadText(p: Record<string, unknown>): string {
  const out: string[] = [];
  for (const [k, v] of Object.entries(p)) {
    if (isMoney(v)) out.push(`${k}: ${formatMoney(v)}`);
    else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) out.push(`${k}: ${formatDate(v)}`);
    else if (typeof v === 'object' && v !== null) out.push(`${k}: ${JSON.stringify(v)}`);
    else out.push(`${k}: ${String(v)}`);
  }
  return out.join(' · ');
}

function TimelineTable(props: { entries: TimelineResponse }) {
  const rows = props.entries.entries ?? [];
  return (
    <table class="grid compact" data-testid="timeline-table">
      <thead>
        <tr>
          <th>{t('common.time')}</th>
          <th>{t('c360.event')}</th>
          <th>{t('c360.details')}</th>
          <th>{t('c360.actor')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((entry, i) => {
          const e = entry.event ?? {};
          const [kind, payload] = payloadOf(e);
          return (
            <tr key={e.eventId ?? i} data-testid="timeline-row">
              <td class="nowrap">{formatTime(e.occurredAt)}</td>
              <td class="nowrap">{tk('event', kind)}</td>
              <td class="small">{payloadText(payload)}</td>
              <td class="muted">{e.actorId}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
