/** Charts: a time series on uPlot, and grouped bars drawn as SVG; both say in text what they show. */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** One line of a time series. */
export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

/** A time series chart that fills its container's width. */
export function TimeChart(props: { times: number[]; series: Series[]; height?: number; label: string; format?: (value: number) => string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fmt = props.format ?? ((v: number) => String(v));
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: props.height ?? 240,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" }, ticks: { stroke: "rgba(128,128,128,0.3)" } },
          { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" }, ticks: { stroke: "rgba(128,128,128,0.3)" }, size: 70, values: (_, ticks) => ticks.map(fmt) },
        ],
        series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, fill: `${s.color}22`, width: 2, value: (_: uPlot, v: number | null) => (v === null ? "—" : fmt(v)) }))],
      },
      [props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 240 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.times, props.series, props.height]);
  return <div ref={box} class="chart" role="img" aria-label={props.label} />;
}

/** One group of bars (a cluster) with a value per key. */
export interface BarGroup {
  label: string;
  values: Record<string, number | null>;
}

/** Grouped horizontal bars with a legend and the numbers printed beside each bar. */
export function GroupedBars(props: { groups: BarGroup[]; keys: { key: string; label: string; color: string }[]; label: string }) {
  const max = Math.max(1, ...props.groups.flatMap((g) => Object.values(g.values).map((v) => v ?? 0)));
  const barH = 14;
  const gap = 4;
  const groupGap = 18;
  const labelW = 130;
  const width = 520;
  const groupH = props.keys.length * (barH + gap) - gap;
  const height = props.groups.length * (groupH + groupGap);
  return (
    <figure class="bars">
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={props.label} preserveAspectRatio="xMinYMin meet">
        {props.groups.map((g, gi) => {
          const y0 = gi * (groupH + groupGap);
          return (
            <g key={g.label}>
              <text x={0} y={y0 + groupH / 2 + 4} class="bar-group-label">
                {g.label.length > 16 ? `${g.label.slice(0, 15)}…` : g.label}
              </text>
              {props.keys.map((k, ki) => {
                const v = g.values[k.key];
                const w = v === null || v === undefined ? 0 : ((width - labelW - 60) * v) / max;
                const y = y0 + ki * (barH + gap);
                return (
                  <g key={k.key}>
                    <rect x={labelW} y={y} width={Math.max(w, v ? 2 : 0)} height={barH} rx={3} fill={k.color} />
                    <text x={labelW + w + 6} y={y + barH - 3} class="bar-value">
                      {v === null || v === undefined ? "n/a" : v}
                    </text>
                  </g>
                );
              })}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {props.keys.map((k) => (
          <span key={k.key}>
            <i style={{ background: k.color }} aria-hidden="true" /> {k.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
