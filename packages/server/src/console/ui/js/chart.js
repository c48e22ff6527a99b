/**
 * Time-series charts on uPlot (canvas, 50 KB, no dependency). The colours come from the
 * page's CSS variables, so a chart follows the light or dark scheme, and it is redrawn when
 * the scheme or the width changes. Every chart is a figure with a caption and a text summary:
 * a canvas says nothing to a screen reader.
 */
import uPlot from '../vendor/uPlot.js';
import { html, useEffect, useRef } from './ui.js';

const SERIES_VARS = ['--series-1', '--series-2', '--series-3', '--series-4', '--series-5', '--series-6'];

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * A line chart. `x`: epoch seconds; `series`: `[{ label, values }]` (one value per x).
 * `bars`: draw bars (counts per bucket) instead of lines.
 */
export function Chart({ title, x, series, summary, height = 200, bars = false }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    let plot;
    // Bars are stacked: each series is drawn as the running sum, tallest first, so none hides another.
    const drawn = bars
      ? series
          .map((s, i) => ({
            ...s,
            colour: i,
            values: s.values.map((_, j) =>
              series.slice(0, i + 1).reduce((a, t) => a + (t.values[j] ?? 0), 0),
            ),
          }))
          .reverse()
      : series.map((s, i) => ({ ...s, colour: i }));
    const draw = () => {
      plot?.destroy();
      const text = css('--text');
      const grid = css('--grid');
      const opts = {
        width: Math.max(200, el.clientWidth),
        height,
        cursor: { drag: { x: false, y: false } },
        legend: { show: true, live: false },
        axes: [
          { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 48 },
        ],
        scales: {
          // One point has no span: show a minute around it rather than uPlot's years.
          x: { time: true, range: () => (x.length > 1 ? [x[0], x[x.length - 1]] : [x[0] - 60, x[0] + 60]) },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        },
        series: [
          {},
          ...drawn.map((s) => ({
            label: s.label,
            stroke: css(SERIES_VARS[s.colour % SERIES_VARS.length]),
            width: bars ? 0 : 2,
            points: { show: !bars && x.length < 40 },
            ...(bars
              ? {
                  paths: uPlot.paths.bars({ size: [0.8, 40] }),
                  fill: css(SERIES_VARS[s.colour % SERIES_VARS.length]),
                }
              : {}),
          })),
        ],
      };
      plot = new uPlot(opts, [x, ...drawn.map((s) => s.values)], el);
    };
    draw();
    let width = el.clientWidth;
    const resize = new ResizeObserver(() => {
      if (Math.abs(el.clientWidth - width) < 8) return;
      width = el.clientWidth;
      plot?.setSize({ width: Math.max(200, width), height });
    });
    resize.observe(el);
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', draw);
    return () => {
      resize.disconnect();
      scheme.removeEventListener('change', draw);
      plot?.destroy();
    };
  }, [x, series, height, bars]);
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div ref=${box} class="chart-box" role="img" aria-label=${`${title}: ${summary}`}></div>
    <p class="chart-summary">${summary}</p>
  </figure>`;
}

/** Counts per time bucket: `events` (with `at`) → `{ x, values }` over `[from, to)`. */
export function bucketize(items, { from, to, step, keyOf, keys, atOf, weightOf = () => 1 }) {
  const n = Math.max(1, Math.ceil((to - from) / step));
  const x = Array.from({ length: n }, (_, i) => Math.floor((from + i * step) / 1000));
  const values = Object.fromEntries(keys.map((k) => [k, new Array(n).fill(0)]));
  for (const item of items) {
    const at = atOf(item);
    if (at < from || at >= to) continue;
    const key = keyOf(item);
    if (!(key in values)) continue;
    values[key][Math.floor((at - from) / step)] += weightOf(item);
  }
  return { x, values };
}
