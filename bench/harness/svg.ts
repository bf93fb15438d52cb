/**
 * The results chart, written by hand as SVG (no dependency): horizontal bars of records/s, one
 * group for the stages of the headline setting (limits, pipeline, peer), one for the scaling runs.
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
    for (const w of l.clickhouseWrite) stages.push({ label: `ClickHouse write (${w.store === 'embedded' ? 'chDB' : 'server'}, ${w.path}, ${w.concurrency}x)`, value: w.rowsPerS, kind: 'limit' });
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
  const out: string[] = [];
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
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="system-ui, sans-serif">`);
  out.push('<style>.t{font-size:16px;font-weight:600}.s{font-size:11px;fill:#57606a}.h{font-size:13px;font-weight:600}.l{font-size:12px;text-anchor:end}.v{font-size:12px;fill:#24292f}</style>');
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="16" y="24" class="t">${esc(title)}</text>`);
  out.push(`<text x="16" y="40" class="s">${esc(subtitle)}</text>`);
  out.push(...body);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function resultSvg(r: BenchResult): string {
  const m = r.machine;
  return renderSvg(
    barGroups(r),
    `pevmeter benchmark ${r.runId}`,
    `${m.cpus} cores ${m.cpuModel}; Node ${m.node}; Kafka ${m.kafka}; ClickHouse ${m.clickhouseEmbedded} (chDB); ${Number(r.options['records']).toLocaleString('en-US')} records, ${String(r.options['partitions'])} partitions`,
  );
}
