import { useEffect, useRef, useState } from 'preact/hooks';

type EChartsModule = typeof import('./echarts');
let loading: Promise<EChartsModule> | null = null;
function loadECharts(): Promise<EChartsModule> {
  loading ??= import('./echarts');
  return loading;
}

export interface ChartClick {
  seriesIndex?: number;
  dataIndex?: number;
  seriesName?: string;
  name?: string;
}

/**
 * An ECharts chart. `data-state` turns "ready" once drawn (test hook).
 * Geometry only: every figure the page states is also in a table beside it.
 */
export function Chart(props: {
  option: Record<string, unknown>;
  height?: number;
  testid?: string;
  onClick?: (p: ChartClick) => void;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<{ setOption: (o: unknown, notMerge?: boolean) => void; dispose: () => void; resize: () => void; on: (e: string, f: (p: ChartClick) => void) => void } | null>(null);
  const onClick = useRef(props.onClick);
  onClick.current = props.onClick;
  const [state, setState] = useState('loading');
  useEffect(() => {
    let disposed = false;
    const resize = () => chart.current?.resize();
    loadECharts().then(({ echarts }) => {
      if (disposed || !el.current) return;
      const c = echarts.init(el.current, undefined, { renderer: 'canvas' });
      c.on('click', (p: ChartClick) => onClick.current?.(p));
      chart.current = c as unknown as typeof chart.current;
      chart.current!.setOption(props.option, true);
      setState('ready');
      window.addEventListener('resize', resize);
    });
    return () => {
      disposed = true;
      window.removeEventListener('resize', resize);
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(props.option, true);
  }, [props.option]);
  return (
    <div
      class="chart"
      ref={el}
      style={{ height: `${props.height ?? 320}px` }}
      data-testid={props.testid}
      data-state={state}
    />
  );
}
