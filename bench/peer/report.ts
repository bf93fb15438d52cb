/** The peer benchmark's result as a plain-text table (what bench:peer prints; the bench report can quote it). */
import { TOTAL_FAULTS, type ExactnessRow, type PeerBenchResult } from './index.js';

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

export function renderTable(r: PeerBenchResult): string {
  const c = r.conditions;
  const lines: string[] = [];
  lines.push(
    `peer comparison: ${fmt(c.records)} interval records in ${fmt(c.messages)} messages, ${c.partitions} partitions, ` +
      `${c.recordsPerMessage} record(s) per message; ${r.machine.cpus} cores (load ${r.machine.loadAverage.join(' ')}), Node ${r.machine.node}, ClickHouse ${r.machine.clickhouseEmbedded || '?'}, Kafka ${r.machine.kafka}`,
  );
  const w = [34, 12, 9, 9, 9, 12, 10];
  lines.push(pad(['system', 'records/s', 'seconds', 'read s', 'CPU s', 'CPU s/1M rec', 'RSS MiB'], w));
  if (r.kcat) lines.push(pad(['kcat (consume only)', fmt(r.kcat.recordsPerS), fmt(r.kcat.seconds, 2), fmt(r.kcat.seconds, 2), '-', '-', '-'], w));
  const row = (name: string, f: PeerBenchResult['peer']) => {
    if (f) lines.push(pad([name, fmt(f.recordsPerSec), fmt(f.seconds, 2), fmt(f.readSeconds, 2), fmt(f.cpuSeconds, 1), fmt(f.cpuSecondsPerMillion, 1), fmt(f.maxRssMiB)], w));
  };
  row(`peer: Kafka engine + MV (${c.peerConsumers} cons.)`, r.peer);
  row('pevmeter', r.ours);
  lines.push(`ratio pevmeter / peer: ${r.ratio === null ? '-' : r.ratio.toFixed(2)}${r.oursFromCaller ? ` (the harness's e2e run measured pevmeter at ${fmt(r.oursFromCaller)} records/s)` : ''}`);
  const x = r.exactness;
  if (x) {
    lines.push('');
    lines.push(
      `exactness: ${fmt(x.records)} records, ${fmt(x.sessions)} sessions (${TOTAL_FAULTS.map((k) => `${x.faultSessions[k] ?? 0} ${k}`).join(', ')}, ` +
        `${x.faultSessions['clean'] ?? 0} clean); each consumer SIGKILLed once after half the messages were read, then restarted`,
    );
    const we = [10, 18, 14, 14, 22, 24];
    lines.push(pad(['system', 'sessions differing', '|Wh| off', 'signed Wh', 'rows stored / records', 'at kill: read / queryable'], we));
    const er = (e: ExactnessRow | null) => {
      if (!e) return;
      lines.push(
        pad([e.system, `${fmt(e.sessionsDiffering)} / ${fmt(e.sessions)}`, fmt(e.whDiffAbs), fmt(e.whDiffSigned), `${fmt(e.rowsStored)} / ${fmt(e.recordsInTopic)}`, e.kill ? `${fmt(e.kill.messagesRead)} / ${fmt(e.kill.rowsQueryable)}` : 'no kill (drained first)'], we),
      );
      const kinds = Object.entries(e.byFault)
        .map(([k, v]) => `${k} ${v.differing}/${v.sessions} (${fmt(v.whDiffAbs)} Wh)`)
        .join(', ');
      lines.push(`  by fault kind, differing/sessions: ${kinds}`);
    };
    er(x.peer);
    er(x.ours);
  }
  return lines.join('\n');
}
