/**
 * Row encoding: a validated EumdInterval to one row of interval_raw.
 *
 *   current   IntervalColumns.write (aggregate/store/columns.ts): the embedded store's form, the
 *             row's fields appended to per-column buffers
 *   tsv       TsvWriter + writeIntervalRow (ingest/decode/rows.ts), the form a ClickHouse server
 *             takes: bytes written straight into a growable buffer, digits by hand, the per-batch
 *             origin columns pre-encoded
 *   concat    a template string per row, joined per batch and encoded once with Buffer.from
 *   parts     an array of fields per row joined with tabs (a common first attempt)
 */
import { IntervalColumns } from '../../aggregate/store/columns.js';
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
      name: 'IntervalColumns.write',
      current: true,
      note: 'the embedded store (chDB) takes interval rows as columns',
      fn: () => {
        // Sized as the decode workers size it for 1-record messages: one row per message.
        const c = new IntervalColumns(n);
        for (let i = 0; i < n; i++) c.write(records[i]!, 1_000_000 + i);
        return c.result(topic, 3, ingested).rows;
      },
    },
    {
      name: 'TsvWriter + writeIntervalRow',
      note: 'what a ClickHouse server takes',
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
