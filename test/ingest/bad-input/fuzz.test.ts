/**
 * The CI-sized fuzz run (bench/fuzz): 100,000 seeded payloads through decodeBatch in this thread
 * and 10,000 more through the worker pool. Every batch must keep every invariant of
 * bench/fuzz/check.ts (no throw, bounded time, good + dead-lettered = declared per message, TSV
 * shape) and the pool must agree with the thread byte for byte. The full run is
 * `node dist/bench/fuzz/main.js --payloads 1000000`.
 */
import t from 'tap';
import { checkBatch, declaredOf, declaredRecords, taskOf } from '../../../bench/fuzz/check.js';
import { PayloadGenerator, fuzzSchemas } from '../../../bench/fuzz/generate.js';
import { runFuzz } from '../../../bench/fuzz/run.js';
import { loadConfig } from '../../../schemas/config.js';
import { decodeBatch } from '../../../ingest/decode/batch.js';
import { recordCountOf } from '../../../ingest/codec/framing.js';
import { columnsAsTsv } from '../../helpers/columns.js';

void t.test('the generator is seeded: same seed, same payloads; another seed, others', (t) => {
  const a = new PayloadGenerator('repro').batch(200);
  const b = new PayloadGenerator('repro').batch(200);
  const c = new PayloadGenerator('other').batch(200);
  const bytes = (x: typeof a) => Buffer.concat(x.messages.map((m) => m.value ?? Buffer.from('<null>')));
  t.equal(a.kind, b.kind);
  t.ok(bytes(a).equals(bytes(b)), 'identical bytes for the same seed');
  t.same(a.messages.map((m) => m.headers ?? null), b.messages.map((m) => m.headers ?? null), 'identical headers');
  t.notOk(bytes(a).equals(bytes(c)), 'different bytes for another seed');
  t.end();
});

void t.test('declared records: the checker reads pev-records by the written rule, and the product agrees', (t) => {
  const table: [string, { 'pev-records'?: string | Buffer; other?: string }[] | undefined, number][] = [
    ['no headers', undefined, 1],
    ['another header only', [{ other: '5' }], 1],
    ['2', [{ 'pev-records': '2' }], 2],
    ['65535', [{ 'pev-records': '65535' }], 65_535],
    ['as bytes', [{ 'pev-records': Buffer.from('7') }], 7],
    ['the first header counts', [{ 'pev-records': '3' }, { 'pev-records': '1' }], 3],
    ['0', [{ 'pev-records': '0' }], 1],
    ['70000', [{ 'pev-records': '70000' }], 1],
    ['-1', [{ 'pev-records': '-1' }], 1],
    ['empty', [{ 'pev-records': '' }], 1],
    ['abc', [{ 'pev-records': 'abc' }], 1],
    ['1e3', [{ 'pev-records': '1e3' }], 1],
    ['leading space', [{ 'pev-records': ' 2' }], 1],
    ['hex', [{ 'pev-records': '0x10' }], 1],
    ['2^32 + 1', [{ 'pev-records': '4294967297' }], 1],
    ['2.0', [{ 'pev-records': '2.0' }], 1],
  ];
  for (const [name, headers, want] of table) {
    const h = headers as Parameters<typeof declaredRecords>[0];
    t.equal(declaredRecords(h), want, `checker: ${name}`);
    t.equal(Math.max(1, recordCountOf(h as Parameters<typeof recordCountOf>[0])), want, `product: ${name}`);
  }
  t.end();
});

void t.test('the checker catches a broken result (it is not vacuous)', (t) => {
  const gen = new PayloadGenerator('checker');
  const batch = gen.batch(50);
  const cfg = loadConfig({ env: {} });
  const good = decodeBatch(taskOf(batch, fuzzSchemas(), cfg, Date.UTC(2026, 11, 1)));
  t.same(checkBatch(batch, good), [], 'a real result passes');
  const declared = declaredOf(batch).reduce((a, b) => a + b, 0);
  t.equal(good.stats.records, declared);
  // A dropped record: one dead letter forgets it stands for a record.
  const i = good.dead.records.findIndex((r) => r > 0);
  t.ok(i >= 0, 'the batch has a dead letter to tamper with');
  const tampered = structuredClone(good);
  tampered.dead.records[i]! -= 1;
  tampered.stats.deadRecords -= 1;
  t.match(checkBatch(batch, tampered).join('\n'), /rows \+ dead-lettered = \d+; declared/, 'a lost record is reported');
  // A row split in two by an unescaped tab.
  const split = structuredClone(good);
  const tsv = Buffer.from(split.tables[0]!.tsv);
  const tab = tsv.indexOf(9);
  if (tab >= 0) {
    split.tables[0]!.tsv = new Uint8Array(Buffer.concat([tsv.subarray(0, tab), Buffer.from('\t'), tsv.subarray(tab)]));
    t.match(checkBatch(batch, split).join('\n'), /fields; expected/, 'an extra field is reported');
  }
  t.end();
});

// The time bound is a hang detector, not a speed test: 30 s for a 500-message batch that takes
// well under a second even on a loaded two-core machine.
void t.test('100,000 payloads in-thread and 10,000 through the pool: no crash, no hang, everything accounted for', async (t) => {
  const s = await runFuzz({ payloads: 100_000, poolPayloads: 10_000, seed: 'ci', batchSize: 500, threads: 2, maxBatchMs: 30_000 });
  t.comment(
    `fuzz: ${s.payloads} in-thread + ${s.poolPayloads} pool payloads in ${s.seconds.toFixed(1)} s (${s.payloadsPerSecond}/s); ` +
      `records ${s.records}, good ${s.good}, dead-lettered ${s.deadRecords} in ${s.letters} letters; slowest batch ${s.maxBatchMs.toFixed(1)} ms / pool ${s.maxPoolBatchMs.toFixed(1)} ms`,
  );
  t.comment(`letters by code: ${JSON.stringify(s.lettersByCode)}`);
  t.same(s.problems, [], 'no batch broke an invariant');
  t.equal(s.failedBatches, 0);
  t.equal(s.payloads, 100_000);
  t.equal(s.poolPayloads, 10_000);
  t.equal(s.good + s.deadRecords, s.records, 'good + dead-lettered = declared input');
  t.ok(s.good > 0 && s.deadRecords > 0, 'both outcomes occur');
  // The mutations reach deep: most record codes show up, not only framing errors.
  const codes = Object.keys(s.lettersByCode);
  for (const code of ['PEV_NO_MAGIC', 'PEV_UNKNOWN_SCHEMA', 'PEV_TRUNCATED', 'PEV_TRAILING_BYTES', 'PEV_AVRO_INVALID', 'PEV_BAD_ID', 'PEV_WRONG_RECORD_TYPE', 'PEV_SCHEMA_INCOMPATIBLE', 'PEV_EMPTY_VALUE', 'PEV_OVERSIZE']) {
    t.ok(codes.includes(code), `${code} reached`);
  }
});

// The columnar path (chDB's interval insert) takes the same bad input: every fuzzed batch decoded
// both ways must give the same dead letters and counts, and the same good rows value for value.
void t.test('fuzzed batches decoded as columns equal the text path: same letters, same rows', (t) => {
  const gen = new PayloadGenerator('columnar');
  const cfg = loadConfig({ env: {} });
  const schemas = fuzzSchemas();
  let intervalBatches = 0;
  let goodRows = 0;
  const differing: number[] = [];
  for (let b = 0; b < 400; b++) {
    const batch = gen.batch(100);
    const task = taskOf(batch, schemas, cfg, Date.UTC(2026, 11, 1));
    const text = decodeBatch(task);
    const columnar = decodeBatch({ ...task, columnar: true });
    const rows = Buffer.from(text.tables[0]!.tsv).toString('utf8');
    const same = columnar.tables[0]!.columns
      ? columnsAsTsv([columnar.tables[0]!.columns]) === rows && columnar.tables[0]!.tsv.length === 0
      : Buffer.from(columnar.tables[0]!.tsv).toString('utf8') === rows;
    if (!same || JSON.stringify(columnar.dead) !== JSON.stringify(text.dead) || JSON.stringify(columnar.stats) !== JSON.stringify(text.stats)) differing.push(b);
    if (text.kind === 'interval') {
      intervalBatches++;
      goodRows += text.stats.ok.interval;
      if (columnar.tables[0]!.columns?.rows !== text.stats.ok.interval) differing.push(b);
    }
  }
  t.same(differing, [], 'no batch differs between the two row formats');
  t.ok(intervalBatches > 0 && goodRows > 0, `interval batches compared: ${intervalBatches}, good rows: ${goodRows}`);
  t.end();
});
