// 工作清单: Review/Worklist of an owner or a region (docs/review.md
// "Worklist"), with the customers' names, grouped by reason or customer,
// sortable; every row links to the customer's 360° page.
import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { call } from '../api/client';
import type { WorklistItem, WorklistResponse } from '../api/types';
import { type Column, Field, Loaded, Page, Pager, Select, SortableTable } from '../components/ui';
import { formatTime } from '../format';
import { useLoad } from '../hooks';
import { t, tk } from '../i18n';
import { customerHref, navigate, type Route } from '../router';
import { useSession } from '../session';
import { urgencyBadge } from './Customer360';

/** The domain's reason order (docs/review.md "Contact cadence and the worklist"). */
const REASONS = ['COMPLAINT_SLA', 'CONTACT_OVERDUE', 'TURNED_DECLINING', 'PAYMENT_OVERDUE', 'CONTRACT_ENDING', 'REPURCHASE_DUE', 'BIRTHDAY'];

export function WorklistPage(props: { route: Route }) {
  const session = useSession();
  const q = props.route.query;
  const scoped = session.regions;
  let owner = scoped ? '' : (q.get('owner') ?? '');
  let region = q.get('region') ?? '';
  if (scoped && !scoped.includes(region)) region = scoped[0];
  if (owner) region = '';
  const group = q.get('group') ?? 'reason';
  const key = owner || region ? JSON.stringify(['worklist', owner, region]) : null;
  const [pages, setPages] = useState<{ key: string | null; tokens: string[] }>({ key, tokens: [''] });
  const tokens = pages.key === key ? pages.tokens : [''];
  const token = tokens[tokens.length - 1];
  const load = useLoad<WorklistResponse>(key === null ? null : `${key}|${token}`, (signal) =>
    call('Review', 'Worklist', owner ? { ownerId: owner, pageSize: 1000, pageToken: token } : { region, pageSize: 1000, pageToken: token }, signal),
  );
  const go = (patch: Record<string, string | undefined>) => navigate('worklist', { owner: owner || undefined, region: region || undefined, group, ...patch });
  return (
    <Page name="worklist" state={key === null ? 'ready' : load.state} title={t('worklist.title')}>
      <form
        class="controls no-print"
        onSubmit={(e: JSX.TargetedEvent<HTMLFormElement>) => {
          e.preventDefault();
          const v = e.currentTarget.querySelector<HTMLInputElement>('input[name=owner]')?.value.trim();
          if (v) go({ owner: v, region: undefined });
        }}
      >
        {!scoped && (
          <Field label={t('worklist.owner')}>
            <input name="owner" value={owner} placeholder="rep-01" data-testid="worklist-owner" onChange={(e: JSX.TargetedEvent<HTMLInputElement>) => go({ owner: e.currentTarget.value.trim() || undefined, region: undefined })} />
          </Field>
        )}
        <Field label={t('worklist.region')}>
          {scoped ? (
            <Select value={region} testid="worklist-region" options={scoped.map((r) => [r, r])} onChange={(v) => go({ region: v, owner: undefined })} />
          ) : (
            <input name="region" value={region} placeholder="华东" data-testid="worklist-region" onChange={(e: JSX.TargetedEvent<HTMLInputElement>) => go({ region: e.currentTarget.value.trim() || undefined, owner: undefined })} />
          )}
        </Field>
        <Field label={t('worklist.group')}>
          <Select
            value={group}
            testid="worklist-group"
            options={[
              ['reason', t('worklist.groupReason')],
              ['customer', t('worklist.groupCustomer')],
              ['none', t('worklist.groupNone')],
            ]}
            onChange={(v) => go({ group: v })}
          />
        </Field>
        {scoped && <p class="note">{t('worklist.scopedNote')}</p>}
      </form>
      {key === null && <p class="hint">{t('worklist.prompt')}</p>}
      <Loaded load={load} testid="worklist-error">
        {(w) => (
          <>
            <Grouped items={w.items ?? []} group={group} />
            <Pager
              testid="worklist-pager"
              page={tokens.length}
              hasNext={!!w.nextPageToken}
              onPrev={() => setPages({ key, tokens: tokens.slice(0, -1) })}
              onNext={() => setPages({ key, tokens: [...tokens, w.nextPageToken!] })}
            />
          </>
        )}
      </Loaded>
    </Page>
  );
}

function columns(without: 'reason' | 'customer' | null): Column<WorklistItem>[] {
  const s = (k: keyof WorklistItem) => (a: WorklistItem, b: WorklistItem) => String(a[k] ?? '').localeCompare(String(b[k] ?? ''));
  const all: Column<WorklistItem>[] = [
    {
      key: 'customer',
      label: t('common.customer'),
      render: (w) => (
        <a href={customerHref(w.customerId ?? '')} data-testid="worklist-customer">
          <span data-testid="worklist-customer-name">{w.customerName || w.customerId}</span> <span class="muted small">{w.customerId}</span>
        </a>
      ),
      compare: s('customerName'),
    },
    { key: 'reason', label: t('worklist.reason'), render: (w) => tk('reason', w.reason), compare: (a, b) => REASONS.indexOf(a.reason ?? '') - REASONS.indexOf(b.reason ?? '') },
    { key: 'subject', label: t('worklist.subject'), render: (w) => (w.subjectId === w.customerId ? '' : w.subjectId), compare: s('subjectId') },
    { key: 'at', label: t('worklist.at'), render: (w) => formatTime(w.at), compare: s('at') },
    { key: 'urgency', label: t('worklist.urgency'), render: (w) => urgencyBadge(w.urgency), compare: s('urgency') },
    { key: 'owner', label: t('common.owner'), render: (w) => w.ownerId, compare: s('ownerId') },
    { key: 'region', label: t('common.region'), render: (w) => w.region, compare: s('region') },
  ];
  return all.filter((c) => c.key !== without);
}

function Grouped(props: { items: WorklistItem[]; group: string }) {
  const { items, group } = props;
  const rowKey = (w: WorklistItem) => `${w.customerId}|${w.reason}|${w.subjectId}|${w.at}`;
  if (group === 'none') {
    return (
      <section class="card">
        <SortableTable columns={columns(null)} rows={items} rowKey={rowKey} testid="worklist-table" rowTestid={() => 'worklist-row'} />
      </section>
    );
  }
  const groups = new Map<string, WorklistItem[]>();
  for (const w of items) {
    const k = (group === 'customer' ? w.customerId : w.reason) ?? '';
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(w);
  }
  const keys = [...groups.keys()];
  if (group === 'reason') keys.sort((a, b) => REASONS.indexOf(a) - REASONS.indexOf(b));
  const out: ComponentChildren[] = keys.map((k) => {
    const rows = groups.get(k)!;
    const title = group === 'customer' ? <a href={customerHref(k)}>{rows[0].customerName || k}</a> : tk('reason', k);
    return (
      <section class="card" key={k} data-testid={`worklist-group-${k}`}>
        <h2>
          {title} <span class="muted small">{t('worklist.items', { n: rows.length })}</span>
        </h2>
        <SortableTable
          columns={columns(group === 'customer' ? 'customer' : 'reason')}
          rows={rows}
          rowKey={rowKey}
          testid="worklist-table"
          rowTestid={() => 'worklist-row'}
        />
      </section>
    );
  });
  return <div data-testid="worklist-groups">{out.length ? out : <p class="muted">{t('common.noData')}</p>}</div>;
}
