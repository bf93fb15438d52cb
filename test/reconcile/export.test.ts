/**
 * The export's two formats carry the same record fields under the same names, and a record with
 * no bill line says why: 'void' for a VOID, 'none' for a BILLED record of 0 Wh.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORT_RECORD_FIELDS, exportPeriod } from '../../reconcile/billing.js';
import { resolveConfig } from '../../reconcile/config.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import type { Period } from '../../reconcile/types.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, T0, sid } from './fixtures.js';

const PERIOD: Period = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const FLAT = { programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' };

function parseCsv(text: string): string[][] {
  // The fields compared here hold no quotes or commas (warn codes are space-separated).
  return text.trim().split('\n').map((l) => l.split(','));
}

void t.test('CSV columns = JSON keys; a BILLED record of 0 Wh is not a void', async (t) => {
  const store = await tempStore(t, { database: 'rexport' });
  const fx = new Fixture().enroll(FLAT);
  fx.session({ sessionId: sid(1), energies: Array.from({ length: 30 }, () => 100) });
  fx.session({ sessionId: sid(2), energies: Array.from({ length: 10 }, () => 0), end: { energyWh: 0 }, vehicleWh: 0, startMs: T0 + 86_400_000 });
  await fx.write(store);
  const r = await reconcilePeriod(store, PERIOD, {}, resolveConfig({}), { asOfMs: Date.UTC(2026, 10, 2) });
  t.match(r, { sessions: 2, billed: 2, held: 0, billedWh: 3000 }, 'both billed, one at 0 Wh');

  const csvFile = join(t.testdirName, 'oct.csv');
  const jsonFile = join(t.testdirName, 'oct.jsonl');
  await exportPeriod(store, PERIOD, {}, 'csv', csvFile, { nowMs: Date.UTC(2026, 10, 3) });
  await exportPeriod(store, PERIOD, {}, 'json', jsonFile, { mode: 'all', nowMs: Date.UTC(2026, 10, 3) });
  const [header, ...rows] = parseCsv(readFileSync(csvFile, 'utf8'));
  const json = readFileSync(jsonFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  const recordColumns = header!.filter((c) => !c.startsWith('line_'));
  t.same(recordColumns, [...EXPORT_RECORD_FIELDS], 'CSV record columns');
  for (const rec of json) t.same(Object.keys(rec), [...EXPORT_RECORD_FIELDS, 'lines'], `${String(rec['session_id'])}: JSON keys = CSV record columns, in order, + lines`);

  t.equal(rows.length, 2, 'one row per bill line: one energy line, one line-less record');
  for (const row of rows) {
    const rec = json.find((j) => j['session_id'] === row[0])!;
    for (const [i, col] of recordColumns.entries()) {
      const v = rec[col];
      // The JSON export was 'all': already_exported differs by design (1 there, 0 in the first CSV).
      if (col === 'already_exported') continue;
      const asCsv = Array.isArray(v) ? v.join(' ') : String(v);
      t.equal(row[i], asCsv, `${row[0]!} ${col}`);
    }
  }
  const zero = rows.find((row) => row[0] === sid(2))!;
  const at = (c: string) => zero[header!.indexOf(c)];
  t.same([at('status'), at('record_energy_wh'), at('record_amount_minor'), at('line_kind'), at('line_wh'), at('line_amount_minor')], ['BILLED', '0', '0', 'none', '0', '0'], 'BILLED at 0 Wh: line_kind none');
  const billed = rows.find((row) => row[0] === sid(1))!;
  t.same([billed[header!.indexOf('record_energy_wh')], billed[header!.indexOf('line_kind')]], ['3000', 'energy']);
});
