/**
 * Row encoding: a validated EumdInterval to one TabSeparated row of interval_raw.
 *
 *   current   TsvWriter + writeIntervalRow (ingest/decode/rows.ts): bytes written straight into a
 *             growable buffer, digits by hand, the per-batch origin columns pre-encoded
 *   concat    a template string per row, joined per batch and encoded once with Buffer.from
 *   parts     an array of fields per row joined with tabs (a common first attempt)
 */
import { TsvWriter } from '../../aggregate/store/tsv.js';
import { rowOrigin, writeIntervalRow } from '../../ingest/decode/rows.js';
import { latestSchema, type EumdInterval } from '../../schemas/index.js';
import { isMain, printResult, runCases, sampleMessages, writeMicro, type MicroResult } from './runner.js';

export function run(): MicroResult {
  const type = latestSchema('interval').type;
  const records = sampleMessages(10_000).map((m) => type.fromBuffer(m.value.subarray(5)) as EumdInterval);
  const n = records.length;
  const topic = 'pev.eumd-interval';
  const ingested = Date.now();
  const origin = rowOrigin(topic, 3, ingested);
  return runCases('row-encoding', 'interval row', n, [
    {
      name: 'TsvWriter + writeIntervalRow',
      current: true,
      fn: () => {
        const w = new TsvWriter(n * 160);
        for (let i = 0; i < n; i++) writeIntervalRow(w, records[i]!, origin, 1_000_000 + i);
        return w.result().length;
      },
    },
    {
      name: 'template string per row + Buffer.from',
      note: 'simplest code; one string per row and a UTF-8 encode of the whole batch',
      fn: () => {
        let out = '';
        for (let i = 0; i < n; i++) {
          const r = records[i]!;
          out += `${r.session_id}\t${r.seq}\t${r.esci_id}\t${r.eumd_id}\t${r.premise_id}\t${r.pev_id}\t${r.interval_start / 1000}\t${r.interval_s}\t${r.energy_wh}\t${r.register_wh}\t${r.quality}\t${topic}\t3\t${1_000_000 + i}\t${ingested}\n`;
        }
        return Buffer.from(out, 'utf8').length;
      },
    },
    {
      name: 'field array join per row',
      note: 'an array per row',
      fn: () => {
        const rows: string[] = [];
        for (let i = 0; i < n; i++) {
          const r = records[i]!;
          rows.push([r.session_id, r.seq, r.esci_id, r.eumd_id, r.premise_id, r.pev_id, r.interval_start / 1000, r.interval_s, r.energy_wh, r.register_wh, r.quality, topic, 3, 1_000_000 + i, ingested].join('\t'));
        }
        return Buffer.from(rows.join('\n') + '\n', 'utf8').length;
      },
    },
  ]);
}

if (isMain(import.meta.url)) {
  const r = run();
  printResult(r);
  writeMicro('micro-row-encoding.json', r);
}
