/**
 * The soak's outputs: the summary printed at the end, the chart (the harness's SVG code, line
 * panels), and the files: soak.json / soak.svg for a quiet run, soak-<run>.* for a busy one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSeriesSvg, type SeriesPanel } from '../harness/svg.js';
import type { SoakResult } from './run.js';

const MIB = 1024 * 1024;
const n = (x: number) => Math.round(x).toLocaleString('en-US');

export function soakSvg(r: SoakResult): string {
  const x = (t: number) => t / 60;
  const loadEnd = r.samples.filter((s) => s.phase === 'load').at(-1)?.t;
  const mark = loadEnd === undefined ? {} : { markX: x(loadEnd) };
  const trend = (t: SoakResult['verdict']['rss'], unit: string) =>
    t.line && t.slopePerHour !== null
      ? { x0: t.line.fromMin, y0: t.line.fromY, x1: t.line.toMin, y1: t.line.toY, label: `second half: ${t.slopePerHour >= 0 ? '+' : ''}${t.slopePerHour.toFixed(0)} ${unit}/h (bound +${t.bound})` }
      : null;
  const panels: SeriesPanel[] = [
    { title: 'RSS of the ingest process', unit: 'MiB', xLabel: 'minutes', points: r.samples.map((s) => [x(s.t), s.rssBytes / MIB] as const), line: trend(r.verdict.rss, 'MiB'), ...mark },
    { title: 'Produce-to-queryable p99 per sample', unit: 'ms', xLabel: 'minutes', colour: '#d29922', points: r.samples.map((s) => [x(s.t), s.p99Ms] as const), line: trend(r.verdict.p99, 'ms'), ...mark },
    { title: 'Consumer lag', unit: 'messages', xLabel: 'minutes', colour: '#8250df', points: r.samples.map((s) => [x(s.t), s.lagMessages] as const), ...mark },
    { title: 'Store size on disk (active parts)', unit: 'MiB', xLabel: 'minutes', colour: '#57ab5a', points: r.samples.map((s) => [x(s.t), s.storeBytes === null ? null : s.storeBytes / MIB] as const), ...mark },
    { title: 'Active parts of the store', unit: 'parts', xLabel: 'minutes', colour: '#57ab5a', points: r.samples.map((s) => [x(s.t), s.activeParts ?? null] as const), ...mark },
    { title: 'Merges running at the sample (bytes merged)', unit: 'MiB', xLabel: 'minutes', colour: '#cf222e', points: r.samples.map((s) => [x(s.t), s.merges === null ? null : s.merges.bytes / MIB] as const), ...mark },
  ];
  const busy = r.quiet && !r.quiet.publishable ? ' — BUSY MACHINE, not publishable' : '';
  return renderSeriesSvg(
    panels,
    `pevmeter soak ${r.runId}: ${r.verdict.passed ? 'passed' : 'FAILED'}${busy}`,
    `${n(r.rate)} records/s for ${(r.load.seconds / 60).toFixed(1)} min${r.maximum ? ` (${Math.round((r.rate / r.maximum.recordsPerS) * 100)} % of ${n(r.maximum.recordsPerS)} measured)` : ''}; ` +
      `${r.machine.cpus} cores; Node ${r.machine.node}; Kafka ${r.machine.kafka}; chDB ${r.machine.clickhouseEmbedded}; a sample every ${String(r.options['sampleS'])} s`,
  );
}

export function soakSummary(r: SoakResult): string {
  const lines: string[] = [];
  lines.push('', `pevmeter soak ${r.runId}: ${r.verdict.passed && r.errors.length === 0 ? 'PASSED' : 'FAILED'}`);
  if (r.maximum) lines.push(`  maximum        ${n(r.maximum.recordsPerS)} records/s (burst of ${n(r.maximum.records)} records, ${r.maximum.cpuSecondsPerMillion.toFixed(1)} CPU s per million)`);
  lines.push(`  load           ${n(r.rate)} records/s offered, ${n(r.load.recordsPerS)} achieved, ${n(r.load.records)} records in ${(r.load.seconds / 60).toFixed(1)} min (${r.load.fleets} fleets, ${n(r.load.sessions)} sessions) + ${n(r.warmupRecords)} warm-up`);
  lines.push(`  drain          ${r.drainSeconds.toFixed(1)} s to lag ${r.end.finalLag}`);
  const l = r.latency;
  lines.push(`  latency        p50 ${l.p50Ms ?? '-'} ms, p99 ${l.p99Ms ?? '-'} ms, max ${l.maxMs === null ? '-' : Math.round(l.maxMs)} ms over ${n(l.records)} records (${n(l.unobserved)} unobserved); target p99 under ${r.target.p99Ms} ms: ${r.target.met === null ? 'n/a' : r.target.met ? 'met' : 'NOT met'}`);
  lines.push(`  RSS            peak ${(r.peakRssBytes / MIB).toFixed(0)} MiB`);
  lines.push(`  store          ${r.end.storeBytes === null ? '?' : `${(r.end.storeBytes / MIB).toFixed(0)} MiB`} on disk; interval_raw ${n(r.end.intervalRows)} rows; ${r.end.deadLetterRows} dead letters`);
  lines.push(`  truth          ${r.truth.status}: ${n(r.truth.actual.records)} intervals / ${n(r.truth.actual.wh)} Wh stored, truth ${n(r.truth.expected.records)} / ${n(r.truth.expected.wh)} Wh (${r.truth.source}${r.options['truthMinutes'] ? ', minutes too' : ''})`);
  for (const c of r.verdict.criteria) lines.push(`  ${c.ok ? 'pass' : 'FAIL'} ${c.name.padEnd(10)}${c.detail}`);
  for (const e of r.errors) lines.push(`  error          ${e}`);
  if (r.quiet) {
    const q = r.quiet;
    lines.push(`  machine        load average ${q.loadAverageAtStart.join(', ')} at the start; other processes used ${q.otherCpuSeconds.toFixed(1)} CPU s in ${q.seconds.toFixed(0)} s (${q.otherCores.toFixed(2)} cores): ${q.publishable ? 'quiet, publishable' : 'BUSY, not publishable'}`);
  }
  return lines.join('\n') + '\n\n';
}

/** soak.json and soak.svg when the run may be published (or `allowBusy`), else soak-<run>.*. */
export function writeSoakResults(dir: string, r: SoakResult, o: { allowBusy?: boolean } = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const publish = r.quiet?.publishable === true || o.allowBusy === true;
  const base = publish ? 'soak' : `soak-${r.runId}`;
  const json = join(dir, `${base}.json`);
  const svg = join(dir, `${base}.svg`);
  writeFileSync(json, JSON.stringify({ ...r, publishable: r.quiet?.publishable === true }, null, 2) + '\n');
  writeFileSync(svg, soakSvg(r));
  return [json, svg];
}
