import type { JSX } from 'preact';
import type { Dimension } from '../api/types';
import { t } from '../i18n';
import { GRANULARITIES, REVIEW_DIMENSIONS } from '../period';
import { useSession } from '../session';
import { Field, Select } from './ui';

export interface PeriodQuery {
  gran: string;
  date: string;
  dim: string;
  value: string;
}

/**
 * Period (granularity + a date inside it) × dimension and value. A
 * region-scoped token is offered ALL and REGION only, and its regions only
 * (docs/security.md "Region scope").
 */
export function PeriodControls(props: {
  q: PeriodQuery;
  onChange: (q: PeriodQuery) => void;
  prefix: string;
  /** Known values of the chosen dimension (from the comparison table). */
  values?: string[];
  dimensions?: [string, Dimension][];
}) {
  const session = useSession();
  const { q } = props;
  const scoped = session.regions;
  const dims = (props.dimensions ?? REVIEW_DIMENSIONS).filter(([n]) => !scoped || n === 'all' || n === 'region');
  const set = (patch: Partial<PeriodQuery>) => props.onChange({ ...q, ...patch });
  const listId = `${props.prefix}-values`;
  return (
    <form
      class="controls no-print"
      onSubmit={(e: JSX.TargetedEvent<HTMLFormElement>) => {
        e.preventDefault();
        const input = e.currentTarget.querySelector<HTMLInputElement>('input[name=value]');
        if (input) set({ value: input.value.trim() });
      }}
    >
      <Field label={t('period.granularity')}>
        <Select
          value={q.gran}
          testid={`${props.prefix}-granularity`}
          options={GRANULARITIES.map(([n, g]) => [n, t(`gran.${g}` as never)])}
          onChange={(gran) => set({ gran })}
        />
      </Field>
      <Field label={t('period.date')}>
        <input
          type="date"
          value={q.date}
          data-testid={`${props.prefix}-date`}
          onChange={(e: JSX.TargetedEvent<HTMLInputElement>) => e.currentTarget.value && set({ date: e.currentTarget.value })}
        />
      </Field>
      <Field label={t('dim.label')}>
        <Select
          value={q.dim}
          testid={`${props.prefix}-dimension`}
          options={dims.map(([n, d]) => [n, t(`dim.${d}` as never)])}
          onChange={(dim) => set({ dim, value: '' })}
        />
      </Field>
      {q.dim !== 'all' &&
        (scoped && q.dim === 'region' ? (
          <Field label={t('dim.value')}>
            <Select
              value={q.value}
              testid={`${props.prefix}-value`}
              options={[['', '—'] as [string, string]].concat(scoped.map((r) => [r, r]))}
              onChange={(value) => set({ value })}
            />
          </Field>
        ) : (
          <Field label={t('dim.value')}>
            <input
              name="value"
              list={listId}
              value={q.value}
              data-testid={`${props.prefix}-value`}
              onChange={(e: JSX.TargetedEvent<HTMLInputElement>) => set({ value: e.currentTarget.value.trim() })}
            />
            <datalist id={listId}>
              {(props.values ?? []).map((v) => (
                <option key={v} value={v} />
              ))}
            </datalist>
          </Field>
        ))}
      {scoped && (
        <p class="note" data-testid={`${props.prefix}-scoped-note`}>
          {t('dim.scopedNote', { regions: scoped.join('、') })}
        </p>
      )}
    </form>
  );
}
