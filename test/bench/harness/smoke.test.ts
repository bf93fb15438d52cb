/**
 * Smoke run of the harness on a tiny topic (5,000 records, 2 partitions): the end-to-end path and
 * the stage limits against the real broker and chDB. It checks the harness's own consistency,
 * never speed: the pipeline stored every record produced, and every figure is present and positive.
 */
import t from 'tap';
import { resolveBenchOptions } from '../../../bench/harness/options.js';
import { markdownReport } from '../../../bench/harness/report.js';
import { runBench } from '../../../bench/harness/run.js';
import { resultSvg } from '../../../bench/harness/svg.js';
import { kafkaBrokers } from '../../helpers/services.js';

const RECORDS = 5_000;

void t.test('e2e and limits on a tiny topic', async (t) => {
  const brokers = await kafkaBrokers();
  const r = await runBench(
    resolveBenchOptions({
      records: RECORDS, partitions: 2, recordsPerMessage: [1], workers: [2], phases: ['e2e', 'limits'], brokers,
      clickhouseUrl: undefined, profile: 'never', limitSeconds: 0, outDir: undefined, workDir: t.testdir(), quiet: true, timeoutS: 120, seed: 'smoke',
    }),
  );
  t.same(r.errors, [], 'no phase failed');

  const topic = r.topics[0]!;
  t.equal(topic.records, RECORDS, 'the harness produced exactly the records asked for');
  const e2e = r.e2e!;
  t.equal(e2e.intervalRows, RECORDS, 'interval_raw holds every record produced');
  t.equal(e2e.records, topic.records, 'rows counted in ClickHouse equal records produced');
  t.equal(e2e.countedRecords, topic.records, 'records counted by the pipeline itself equal records produced');
  t.equal(e2e.deadLetterRows, 0);
  t.equal(e2e.verified, true);

  const limits = r.limits[0]!;
  const read = limits.kafkaRead.find((x) => x.tool === 'node-rdkafka')!;
  t.equal(read.messages, topic.messages, 'the read limit read every message');
  t.equal(read.records, RECORDS);
  t.equal(limits.decode?.records, RECORDS, 'the decode limit decoded every record into a row');
  for (const w of limits.clickhouseWrite) t.equal(w.verified, true, `write limit ${w.path} x${w.concurrency} stored every row`);
  t.equal(limits.decode?.output, 'columns', 'on chDB the decode limit writes columns, as the pipeline does');
  t.same(limits.clickhouseWrite.map((w) => [w.path, w.concurrency, w.pipeline]), [
    ['store.insertIntervalColumns', 1, true], ['store.insertIntervalColumns', 3, true], ['store.insertTsv', 1, false], ['store.insertTsv', 3, false],
  ], "the pipeline's columnar path, then the text one for comparison");
  t.equal(limits.clickhouseWrite[0]!.rows, RECORDS, 'the columnar write limit inserted every row');

  const expected = [
    'e2e.recordsPerS', 'e2e.mbPerS', 'e2e.messagesPerS', 'e2e.cpuSecondsPerMillion', 'e2e.peakRssBytes',
    'limits.r1.read.node-rdkafka.recordsPerS', 'limits.r1.decode.recordsPerS',
    'limits.r1.write.embedded.store.insertIntervalColumns.c1.rowsPerS', 'limits.r1.write.embedded.store.insertIntervalColumns.c3.rowsPerS',
    'limits.r1.write.embedded.store.insertTsv.c1.rowsPerS', 'limits.r1.write.embedded.store.insertTsv.c3.rowsPerS',
    'headline.ratio', 'headline.kafkaReadLimit', 'headline.clickhouseWriteLimit', 'headline.clientReadLimit', 'headline.ratioToSlowestStage',
  ];
  for (const k of expected) t.ok(k in r.figures, `figure ${k} is present`);
  for (const [k, v] of Object.entries(r.figures)) t.ok(Number.isFinite(v) && v > 0, `figure ${k} = ${v} is positive`);

  t.match(markdownReport(r), /Pipeline, end to end/);
  t.match(resultSvg(r), /^<svg /);
});

void t.test('latency at a fixed rate: every record produced is seen visible once by the poller', async (t) => {
  const brokers = await kafkaBrokers();
  const r = await runBench(
    resolveBenchOptions({
      records: RECORDS, partitions: 2, recordsPerMessage: [1], workers: [2], phases: ['latency'], brokers, latencyRate: 1_500, latencySeconds: 2,
      clickhouseUrl: undefined, profile: 'never', limitSeconds: 0, outDir: undefined, workDir: t.testdir(), quiet: true, timeoutS: 120, seed: 'smoke',
    }),
  );
  t.same(r.errors, [], 'no phase failed');
  const l = r.latency!;
  // 1,500 records/s for 2 s after a warm-up of 250 messages (a twentieth of the topic): the poller
  // must see each of the 3,000 timed records in some part, the merged ones included.
  t.equal(l.records, 3_000, 'every timed record was observed');
  t.equal(l.unobserved, 0, 'none was missed');
  t.ok(l.p50Ms > 0 && l.p99Ms >= l.p50Ms && l.maxMs >= l.p99Ms, `percentiles in order: ${l.p50Ms} / ${l.p99Ms} / ${l.maxMs} ms`);
});
