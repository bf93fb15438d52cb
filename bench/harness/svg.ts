/**
 * The results charts, written by hand as SVG (no dependency): horizontal bars of records/s, one
 * group for the stages of the headline setting (limits, pipeline, peer), one for the scaling runs;
 * and line panels over time for the soak (`renderSeriesSvg`). Both share the frame and styles.
 */
import type { BenchResult } from './types.js';

export interface Bar {
  label: string;
  value: number;
  /** 'pipeline' bars are drawn in the accent colour. */
  kind: 'pipeline' | 'limit' | 'peer' | 'other';
}

export interface BarGroup {
  title: string;
  bars: Bar[];
}

const COLOURS: Record<Bar['kind'], string> = { pipeline: '#1f6feb', limit: '#8b949e', peer: '#d29922', other: '#57ab5a' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function barGroups(r: BenchResult): BarGroup[] {
  const groups: BarGroup[] = [];
  const e = r.e2e;
  const l = r.limits.find((x) => x.recordsPerMessage === e?.recordsPerMessage) ?? r.limits[0];
  const stages: Bar[] = [];
  if (l) {
    for (const rd of l.kafkaRead) stages.push({ label: `Kafka read (${rd.tool})`, value: rd.recordsPerS, kind: 'limit' });
    if (l.decode) stages.push({ label: 'Decode (1 thread)', value: l.decode.recordsPerS, kind: 'limit' });
    for (const w of l.clickhouseWrite) {
      const form = w.path === 'store.insertIntervalColumns' ? 'columns' : 'TSV';
      stages.push({ label: `ClickHouse write (${w.store === 'embedded' ? 'chDB' : 'server'}, ${form}, ${w.concurrency}x)`, value: w.rowsPerS, kind: 'limit' });
    }
  }
  if (e) stages.push({ label: `pevmeter end to end (${e.workers}w, ${e.recordsPerMessage} rec/msg)`, value: e.recordsPerS, kind: 'pipeline' });
  if (r.peer && typeof r.peer.recordsPerS === 'number') stages.push({ label: 'ClickHouse Kafka engine (peer)', value: r.peer.recordsPerS, kind: 'peer' });
  for (const s of r.server) stages.push({ label: `pevmeter to ClickHouse server (${s.workers}w)`, value: s.recordsPerS, kind: 'pipeline' });
  if (stages.length > 0) groups.push({ title: `Records/s per stage${e ? ` (${e.recordsPerMessage} record(s) per message)` : ''}`, bars: stages });
  const scaling = [...r.scaling].sort((a, b) => a.recordsPerMessage - b.recordsPerMessage || a.workers - b.workers);
  if (scaling.length > 0) {
    groups.push({
      title: 'End-to-end records/s by setting',
      bars: scaling.map((s) => ({ label: `${s.workers} worker${s.workers > 1 ? 's' : ''}, ${s.recordsPerMessage} rec/msg`, value: s.recordsPerS, kind: 'pipeline' as const })),
    });
  }
  return groups;
}

export function renderSvg(groups: readonly BarGroup[], title: string, subtitle: string): string {
  const width = 900;
  const labelW = 330;
  const barMax = width - labelW - 120;
  const rowH = 24;
  let y = 56;
  const body: string[] = [];
  for (const g of groups) {
    const max = Math.max(1, ...g.bars.map((b) => b.value));
    body.push(`<text x="16" y="${y}" class="h">${esc(g.title)}</text>`);
    y += 12;
    for (const b of g.bars) {
      const w = Math.max(1, Math.round((b.value / max) * barMax));
      body.push(`<text x="${labelW - 8}" y="${y + 16}" class="l">${esc(b.label)}</text>`);
      body.push(`<rect x="${labelW}" y="${y + 4}" width="${w}" height="${rowH - 8}" fill="${COLOURS[b.kind]}"/>`);
      body.push(`<text x="${labelW + w + 6}" y="${y + 16}" class="v">${esc(Math.round(b.value).toLocaleString('en-US'))}</text>`);
      y += rowH;
    }
    y += 28;
  }
  return frame(width, y, title, subtitle, body);
}

const STYLE =
  '<style>.t{font-size:16px;font-weight:600}.s{font-size:11px;fill:#57606a}.h{font-size:13px;font-weight:600}.l{font-size:12px;text-anchor:end}.v{font-size:12px;fill:#24292f}' +
  '.a{font-size:10px;fill:#57606a}.ar{font-size:10px;fill:#57606a;text-anchor:end}.am{font-size:10px;fill:#57606a;text-anchor:middle}</style>';

function frame(width: number, height: number, title: string, subtitle: string, body: readonly string[]): string {
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">`);
  out.push(STYLE);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="16" y="24" class="t">${esc(title)}</text>`);
  out.push(`<text x="16" y="40" class="s">${esc(subtitle)}</text>`);
  out.push(...body);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** One panel of a time series chart: points (x, y), y null for a gap; an optional fitted line. */
export interface SeriesPanel {
  title: string;
  /** Unit of y, shown on the axis. */
  unit: string;
  xLabel: string;
  points: readonly (readonly [number, number | null])[];
  colour?: string;
  /** Drawn dashed over the points (the soak's second-half trend). */
  line?: { x0: number; y0: number; x1: number; y1: number; label: string } | null;
  /** A vertical marker (the end of the load phase). */
  markX?: number;
}

function nice(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 4, 8, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function label(v: number): string {
  if (v >= 100 || v === 0) return Math.round(v).toLocaleString('en-US');
  return String(Math.round(v * 100) / 100);
}

/** Panels two to a row, each with axes from zero, its points as a line, and its fitted line. */
export function renderSeriesSvg(panels: readonly SeriesPanel[], title: string, subtitle: string): string {
  const width = 900;
  const pw = 360;
  const ph = 170;
  const left = 56;
  const body: string[] = [];
  const xMax = nice(Math.max(1e-9, ...panels.flatMap((p) => p.points.map((q) => q[0]))));
  panels.forEach((p, i) => {
    const ox = 16 + left + (i % 2) * (pw + left + 40);
    const oy = 64 + Math.floor(i / 2) * (ph + 70) + 18;
    const ys = p.points.map((q) => q[1]).filter((v): v is number => v !== null && Number.isFinite(v));
    const yMax = nice(Math.max(0, ...ys, p.line ? Math.max(p.line.y0, p.line.y1) : 0));
    const X = (x: number) => ox + (x / xMax) * pw;
    const Y = (y: number) => oy + ph - (Math.max(0, y) / yMax) * ph;
    body.push(`<text x="${ox - left}" y="${oy - 8}" class="h">${esc(p.title)}</text>`);
    body.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="none" stroke="#d0d7de"/>`);
    for (let k = 0; k <= 4; k++) {
      const yv = (yMax * k) / 4;
      body.push(`<line x1="${ox}" x2="${ox + pw}" y1="${Y(yv).toFixed(1)}" y2="${Y(yv).toFixed(1)}" stroke="#eaeef2"/>`);
      body.push(`<text x="${ox - 4}" y="${(Y(yv) + 3).toFixed(1)}" class="ar">${esc(label(yv))}</text>`);
      const xv = (xMax * k) / 4;
      body.push(`<text x="${X(xv).toFixed(1)}" y="${oy + ph + 13}" class="am">${esc(label(xv))}</text>`);
    }
    body.push(`<text x="${ox - left}" y="${oy + ph + 28}" class="a">${esc(p.unit)}</text>`);
    body.push(`<text x="${ox + pw}" y="${oy + ph + 28}" class="ar">${esc(p.xLabel)}</text>`);
    if (p.markX !== undefined) body.push(`<line x1="${X(p.markX).toFixed(1)}" x2="${X(p.markX).toFixed(1)}" y1="${oy}" y2="${oy + ph}" stroke="#8b949e" stroke-dasharray="2 3"/>`);
    let d = '';
    let pen = false;
    for (const [x, y] of p.points) {
      if (y === null || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${X(x).toFixed(1)} ${Y(y).toFixed(1)} `;
      pen = true;
    }
    if (d !== '') body.push(`<path d="${d.trim()}" fill="none" stroke="${p.colour ?? COLOURS.pipeline}" stroke-width="1.5"/>`);
    if (p.line) {
      const l = p.line;
      body.push(`<line x1="${X(l.x0).toFixed(1)}" y1="${Y(l.y0).toFixed(1)}" x2="${X(l.x1).toFixed(1)}" y2="${Y(l.y1).toFixed(1)}" stroke="#cf222e" stroke-width="1.5" stroke-dasharray="6 4"/>`);
      body.push(`<text x="${ox + pw / 2}" y="${oy + ph + 28}" class="am" style="fill:#cf222e">${esc(l.label)}</text>`);
    }
  });
  const rows = Math.ceil(panels.length / 2);
  return frame(width, 64 + rows * (ph + 70) + 10, title, subtitle, body);
}

export function resultSvg(r: BenchResult): string {
  const m = r.machine;
  return renderSvg(
    barGroups(r),
    `pevmeter benchmark ${r.runId}`,
    `${m.cpus} cores ${m.cpuModel}; Node ${m.node}; Kafka ${m.kafka}; ClickHouse ${m.clickhouseEmbedded} (chDB); ${Number(r.options['records']).toLocaleString('en-US')} records, ${String(r.options['partitions'])} partitions`,
  );
}
