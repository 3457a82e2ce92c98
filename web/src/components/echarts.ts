// ECharts, tree-shaken: only the charts and components the console draws
// (stacked bars, the Pareto line), on the canvas renderer. Loaded on demand
// (a separate chunk) by the pages that draw charts.
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export { echarts };
