import type { FC } from "hono/jsx";
import type { StatsRow } from "../stats/compute.ts";

/**
 * The statistics as an SVG bar chart drawn on the server: no script, so it
 * needs nothing from the page's CSP but its stylesheet (the bars take their
 * colours from classes). Per group, two bars on one hour scale: booked time,
 * and use (use inside bookings, then unbooked use), with the utilisation
 * written at the end. The table next to it holds the same numbers for
 * screen readers and copying; the chart says so in its description.
 */
export const STATS_CHART_STYLES = `
.chart{max-width:100%;height:auto;display:block;margin:8px 0}
.chart text{fill:var(--fg);font:12px system-ui,sans-serif}
.chart .tick{fill:var(--mute)}
.chart .gridline{stroke:var(--grid)}
.chart .booked{fill:var(--acc2)}
.chart .used{fill:var(--acc)}
.chart .unbooked{fill:var(--warn)}
`;

const LABEL_W = 150;
const BAR_W = 480;
const TAIL_W = 110;
const ROW_H = 34;
const TOP = 22;

/** A round step for the hour axis: 1, 2 or 5 times a power of ten, about five ticks. */
export function tickStep(max: number): number {
  if (!(max > 0)) return 1;
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p);
}

const fmt = (h: number) => (Number.isInteger(h) ? String(h) : h.toFixed(1));
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export const StatsChart: FC<{ rows: StatsRow[]; by: string }> = ({ rows, by }) => {
  const max = Math.max(1, ...rows.map((r) => Math.max(r.bookedHours, r.usedHours)));
  const step = tickStep(max);
  const top = Math.ceil(max / step) * step;
  const x = (h: number) => LABEL_W + (h / top) * BAR_W;
  const height = TOP + rows.length * ROW_H + 6;
  const width = LABEL_W + BAR_W + TAIL_W;
  const ticks: number[] = [];
  for (let t = 0; t <= top + 1e-9; t += step) ticks.push(Math.round(t * 1000) / 1000);
  return (
    <svg class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox={`0 0 ${width} ${height}`} width={width} height={height} xmlns="http://www.w3.org/2000/svg">
      <title id="chart-title">{`Hours booked and used per ${by}`}</title>
      <desc id="chart-desc">{`Per ${by}: the upper bar is the time booked, the lower bar the time used (inside bookings, then unbooked use); the utilisation is written after it. The table below holds the same numbers.`}</desc>
      {ticks.map((t) => (
        <g>
          <line class="gridline" x1={x(t)} x2={x(t)} y1={TOP - 4} y2={height - 4} />
          <text class="tick" x={x(t)} y={TOP - 8} text-anchor="middle">
            {`${fmt(t)} h`}
          </text>
        </g>
      ))}
      {rows.map((r, i) => {
        const y = TOP + i * ROW_H;
        const usedIn = Math.max(0, r.usedHours - r.unbookedHours);
        return (
          <g data-group={r.group}>
            <text x={LABEL_W - 8} y={y + 19} text-anchor="end">
              {cut(r.group, 20)}
            </text>
            <rect class="booked" x={LABEL_W} y={y + 3} width={x(r.bookedHours) - LABEL_W} height={12}>
              <title>{`${r.group}: ${r.bookedHours} h booked`}</title>
            </rect>
            <rect class="used" x={LABEL_W} y={y + 17} width={x(usedIn) - LABEL_W} height={12}>
              <title>{`${r.group}: ${Math.round(usedIn * 100) / 100} h used in bookings`}</title>
            </rect>
            <rect class="unbooked" x={x(usedIn)} y={y + 17} width={x(usedIn + r.unbookedHours) - x(usedIn)} height={12}>
              <title>{`${r.group}: ${r.unbookedHours} h unbooked use`}</title>
            </rect>
            <text x={x(Math.max(r.bookedHours, r.usedHours)) + 6} y={y + 19}>
              {`${r.utilisation.toFixed(1)} %`}
            </text>
          </g>
        );
      })}
    </svg>
  );
};
