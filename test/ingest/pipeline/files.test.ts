/**
 * The file ingest (ingest/pipeline/files.ts) on the embedded store: a container whose records are
 * of a type the product does not read is dead-lettered block by block and the batch goes on,
 * wherever the file sits in it; a file that cannot be read stops the batch before anything is
 * written.
 *
 * chDB holds one folder per process: every run here uses the same folder, told apart by file
 * names (a file's base name is its src_topic).
 */
import t from 'tap';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { openStore } from '../../../aggregate/store/connect.js';
import { toInt } from '../../../aggregate/store/values.js';
import { loadConfig, type Config } from '../../../schemas/config.js';
import { PevmeterError } from '../../../schemas/errors.js';
import { createLogger } from '../../../ingest/log.js';
import { ingestFiles, type FileIngestSummary } from '../../../ingest/pipeline/files.js';
import { withPipeline } from '../../../ingest/service.js';
import { goodInterval } from '../bad-input/cases.js';
import { buildContainer, buildContainerOf } from '../bad-input/container-files.js';

const dir = t.testdirName;
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'files'), { recursive: true });
t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

const GOOD_RECORDS = 1_440;
const BLOCK = 90;
/** A record the product has never heard of, as an ESCI firmware might one day send. */
const meterStatus = avro.Type.forSchema({
  type: 'record', name: 'MeterStatus', namespace: 'org.example.esci',
  fields: [{ name: 'esci_id', type: 'string' }, { name: 'ok', type: 'boolean' }],
});
const UNKNOWN_BLOCKS = [3, 5, 2];

function config(): Config {
  return loadConfig({ env: {}, flags: { 'store.path': join(dir, 'chdb'), 'pipeline.workers': 2, 'log.level': 'warn' } });
}

/** Under 350 kW in a minute, whatever n. */
const interval = (n: number) => goodInterval(n, { energy_wh: 100 + (n % 900) });

function goodFile(name: string, base: number): string {
  const blocks = Array.from({ length: GOOD_RECORDS / BLOCK }, (_, b) => Array.from({ length: BLOCK }, (_, i) => interval(base + b * BLOCK + i)));
  const p = join(dir, 'files', `${name}.avro`);
  writeFileSync(p, buildContainer('interval', blocks).bytes);
  return p;
}

function unknownFile(name: string): string {
  const blocks = UNKNOWN_BLOCKS.map((n, b) => Array.from({ length: n }, (_, i) => ({ esci_id: `ESCI-${b}-${i}`, ok: i % 2 === 0 })));
  const p = join(dir, 'files', `${name}.avro`);
  writeFileSync(p, buildContainerOf({ text: JSON.stringify(meterStatus.schema()), type: meterStatus }, blocks).bytes);
  return p;
}

/** interval_raw inserts by form, over every ingest of this file. */
const intervalInserts = { columns: 0, text: 0 };

async function ingest(paths: string[]): Promise<FileIngestSummary> {
  // Small units: several writes are in flight while the unknown file is read.
  return withPipeline(config(), createLogger('warn'), (p) => {
    const store = p.store;
    const counted = {
      ...store,
      insertIntervalColumns: async (parts: Parameters<NonNullable<typeof store.insertIntervalColumns>>[0]) => {
        intervalInserts.columns++;
        await store.insertIntervalColumns!(parts);
      },
      insertTsv: async (table: Parameters<typeof store.insertTsv>[0], chunks: Parameters<typeof store.insertTsv>[1]) => {
        if (table === 'interval_raw') intervalInserts.text++;
        await store.insertTsv(table, chunks);
      },
    };
    return ingestFiles(paths, { ...p, store: counted, unitRecords: 200 });
  });
}

const unknownRecords = UNKNOWN_BLOCKS.reduce((a, b) => a + b, 0);

for (const where of ['first', 'middle', 'last'] as const) {
  void t.test(`a file of unknown record type ${where} in the batch: dead-lettered, the good files stored whole`, async (t) => {
    const a = goodFile(`${where}-good-a`, 10_000);
    const b = goodFile(`${where}-good-b`, 20_000);
    const u = unknownFile(`${where}-meter-status`);
    const paths = where === 'first' ? [u, a, b] : where === 'middle' ? [a, u, b] : [a, b, u];
    const s = await ingest(paths);
    t.equal(s.files, 3, 'three files read');
    t.equal(s.records, 2 * GOOD_RECORDS + unknownRecords, `records = 2 x ${GOOD_RECORDS} + ${unknownRecords}`);
    t.equal(s.rowsByTable['interval_raw'], 2 * GOOD_RECORDS, 'interval rows written');
    t.same(s.deadByCode, { PEV_WRONG_RECORD_TYPE: UNKNOWN_BLOCKS.length }, 'one dead letter per block of the unknown file');
    t.equal(s.recordsLost, unknownRecords, `${unknownRecords} records lost`);
    t.same(s.lostByCode, { PEV_WRONG_RECORD_TYPE: unknownRecords }, 'records lost by code');
    t.ok(intervalInserts.columns > 0, `interval rows went to chDB as columns (${intervalInserts.columns} inserts)`);
    t.equal(intervalInserts.text, 0, 'no interval rows as text');

    const store = await openStore({ kind: 'embedded', path: join(dir, 'chdb'), database: 'pevmeter' });
    try {
      const rows = await store.select<{ src_topic: string; n: string; wh: string }>(
        'SELECT src_topic, count() AS n, sum(energy_wh) AS wh FROM {db}.interval_raw WHERE startsWith(src_topic, {p:String}) GROUP BY src_topic ORDER BY src_topic',
        { p: `${where}-` },
      );
      const whOf = (base: number) => Array.from({ length: GOOD_RECORDS }, (_, i) => interval(base + i).energy_wh).reduce((x, y) => x + y, 0);
      t.same(rows.map((r) => [r.src_topic, toInt(r.n), toInt(r.wh)]), [
        [`${where}-good-a`, GOOD_RECORDS, whOf(10_000)],
        [`${where}-good-b`, GOOD_RECORDS, whOf(20_000)],
      ], 'each good file stored whole, exact Wh');
      const dead = await store.select<{ src_offset: string; code: string; message: string }>(
        'SELECT src_offset, code, message FROM {db}.dead_letter WHERE src_topic = {t:String} ORDER BY src_offset',
        { t: `${where}-meter-status` },
      );
      t.same(dead.map((d) => [toInt(d.src_offset), d.code]), [[0, 'PEV_WRONG_RECORD_TYPE'], [3, 'PEV_WRONG_RECORD_TYPE'], [8, 'PEV_WRONG_RECORD_TYPE']], 'dead letters at each block\'s first ordinal');
      t.match(dead[0]?.message ?? '', /MeterStatus are none of EumdInterval/, 'the message names the record type');
    } finally {
      await store.close();
    }
  });
}

void t.test('a file that cannot be read stops the batch before anything is written', async (t) => {
  const a = goodFile('missing-good-a', 30_000);
  const err = await ingest([a, join(dir, 'files', 'no-such-file.avro')]).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof PevmeterError, 'a PevmeterError');
  t.equal((err as PevmeterError).code, 'PEV_INPUT', 'code PEV_INPUT');
  t.match((err as Error).message, /no-such-file\.avro: cannot read/, 'names the file');
  const store = await openStore({ kind: 'embedded', path: join(dir, 'chdb'), database: 'pevmeter' });
  try {
    const [r] = await store.select<{ n: string }>("SELECT count() AS n FROM {db}.interval_raw WHERE src_topic = 'missing-good-a'");
    t.equal(toInt(r?.n), 0, 'the good file before it: 0 rows');
  } finally {
    await store.close();
  }
});
