/**
 * The few lines `pevmeter reconcile` prints on a terminal: what was billed, what is held and why,
 * where the report and the export went. A program reading stdout (a pipe, or --json) gets the
 * full summary as JSON instead; the lines here are for a person and may change.
 */
import type { ExportResult } from './billing.js';
import type { RunSummary } from './run.js';

const n = (x: number): string => x.toLocaleString('en-US');
const plural = (x: number, one: string, many = `${one}s`): string => `${n(x)} ${x === 1 ? one : many}`;

function money(byCurrency: Record<string, number>): string {
  const parts = Object.entries(byCurrency).sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => `${n(v)} ${c} minor units`);
  return parts.length > 0 ? parts.join(', ') : 'nothing';
}

export function summaryText(s: RunSummary, report: string | null, exported: ExportResult | null): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const held = Object.entries(s.heldBy).sort(([, a], [, b]) => b - a).map(([code, k]) => `${code} ${n(k)}`).join(', ');
  const r = s.records;
  const lines = [
    `reconciled ${s.cycle === '' ? `${iso(s.period.fromMs)} to ${iso(s.period.toMs)}` : `bill cycle ${s.cycle} (each account's own period)`}: ${plural(s.sessions, 'session')} in ${((s.finishedMs - s.startedMs) / 1000).toFixed(1)} s`,
    `  billed       ${plural(s.billed, 'session')}, ${n(s.billedWh)} Wh, ${money(s.amountMinor)}`,
    `  held         ${plural(s.held, 'session')}${held ? ` (${held})` : ''}`,
    ...(s.review.sessions > 0
      ? [`  review       ${plural(s.review.sessions, 'session')} with an operator's action: ${n(s.review.applied)} applied, ${n(s.review.reheld)} re-held by new data, ${n(s.review.notNeeded)} not needed`]
      : []),
    `  records      ${n(r.created)} created, ${n(r.newVersions)} new versions, ${n(r.rewritten)} rewritten, ${n(r.unchanged)} unchanged, ${n(r.voided)} voided`,
    `  adjustments  ${n(s.adjustments)} since the last export`,
    ...(s.reprice.kept > 0 ? [`  reprice      ${plural(s.reprice.kept, 'exported record')} kept under the configuration ${s.reprice.kept === 1 ? 'it' : 'they'} went out under; this configuration prices ${s.reprice.kept === 1 ? 'it' : 'them'} differently (--reprice to issue adjustments)`] : []),
    ...(s.reprice.repriced > 0 ? [`  reprice      ${plural(s.reprice.repriced, 'exported record')} re-priced under this configuration (--reprice): new versions, ADJUSTMENT`] : []),
    `  report       ${report ?? 'none (--report FILE)'}`,
    `  export       ${exported ? `${exported.file}: ${plural(exported.records, 'record')} (${n(exported.voided)} void), ${n(exported.energyWh)} Wh, ${n(exported.amountMinor)} minor units` : 'none (--export csv|json --out FILE)'}`,
    `  run          ${s.runId} (--json for the full summary)`,
  ];
  return lines.join('\n') + '\n';
}
