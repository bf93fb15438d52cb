import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeResults } from '../../../bench/harness/main.js';
import { collectFigures, evaluateTargets, markdownReport } from '../../../bench/harness/report.js';
import { barGroups, resultSvg } from '../../../bench/harness/svg.js';
import type { BenchResult, PipelineRun } from '../../../bench/harness/types.js';

function run(workers: number, rpm: number, recordsPerS: number): PipelineRun {
  return {
    label: `e2e-r${rpm}-w${workers}`, store: 'embedded', workers, recordsPerMessage: rpm, partitions: 4, records: 2_000_000, messages: 2_000_000 / rpm,
    bytes: 192_000_000, seconds: 2_000_000 / recordsPerS, recordsPerS, messagesPerS: recordsPerS / rpm, mbPerS: 96, cpuSecondsPerMillion: 6.5,
    coresUsed: 1.6, peakRssBytes: 600 * 1048576, verified: true, intervalRows: 2_000_000, deadLetterRows: 0, countedRecords: 2_000_000, units: 100, recordsPerUnit: 20_000,
    wallSeconds: 12, brokerCoresUsed: 0.3,
  };
}

function result(): BenchResult {
  const e2e = run(2, 1, 200_000);
  return {
    schema: 'pevmeter-bench/1', runId: 'r1', startedAt: '', finishedAt: '', durationS: 1,
    options: { records: 2_000_000, partitions: 4 },
    machine: { cpus: 2, cpuModel: 'CPU', memoryBytes: 2 ** 34, os: 'Linux', node: 'v20', librdkafka: '2.12.0', kafka: '4.1.1', clickhouseEmbedded: '26.7', loadAverage: [0.1, 0.1, 0.1] },
    topics: [],
    e2e,
    scaling: [e2e, run(1, 1, 150_000), run(2, 16, 400_000)],
    server: [],
    limits: [{
      recordsPerMessage: 1,
      kafkaRead: [
        { tool: 'node-rdkafka', records: 2e6, messages: 2e6, bytes: 1, seconds: 4, recordsPerS: 500_000, messagesPerS: 500_000, mbPerS: 1, cpuUsPerRecord: 2, note: '' },
        { tool: 'kcat', records: 2e6, messages: 2e6, bytes: 1, seconds: 2, recordsPerS: 1_000_000, messagesPerS: 1_000_000, mbPerS: 1, note: '' },
      ],
      decode: { records: 2e6, messages: 2e6, seconds: 8, recordsPerS: 250_000, mbPerS: 1, packRecordsPerS: 1e6, tasks: 500, cpuUsPerRecord: 4, output: 'columns' },
      clickhouseWrite: [
        { store: 'embedded', path: 'store.insertIntervalColumns', pipeline: true, rows: 2e6, bytes: 1, rowsPerInsert: 20_000, concurrency: 3, seconds: 5, rowsPerS: 400_000, mbPerS: 1, cpuUsPerRecord: 3, verified: true },
        { store: 'embedded', path: 'store.insertTsv', pipeline: false, rows: 2e6, bytes: 1, rowsPerInsert: 20_000, concurrency: 3, seconds: 10, rowsPerS: 200_000, mbPerS: 1, cpuUsPerRecord: 5, verified: true },
      ],
    }],
    headline: {
      pipelineRecordsPerS: 200_000, kafkaReadLimit: 1_000_000, clickhouseWriteLimit: 400_000, ratio: 0.5, boundBy: 'ClickHouse write',
      clientReadLimit: 500_000, decodeLimitAllWorkers: 500_000, slowestStage: 'ClickHouse write (store.insertIntervalColumns)', ratioToSlowestStage: 0.5,
    },
    latency: {
      store: 'embedded', recordsPerMessage: 1, offeredRecordsPerS: 100_000, producedRecordsPerS: 99_000, loadShare: 0.5, records: 1e6, seconds: 10, producerCores: 0.43, pollMs: 100,
      p50Ms: 300, p90Ms: 500, p99Ms: 900, maxMs: 1200, unobserved: 0, definition: '', peakRssBytes: 1,
    },
    memory: { sessions: 100_000, records: 1e6, intervalsPerSession: 10, recordsPerS: 1, peakRssBytes: 2 * 1024 ** 3, afterReadRssBytes: 2.2 * 1024 ** 3, readSeconds: 1, distinctSessions: 100_000, verified: true },
    peer: { recordsPerS: 50_000 },
    reconcile: { runs: [{ sessionsPerSecond: 1500, sessions: 20_000, seconds: 13.33 }, { sessionsPerSecond: 1800, sessions: 20_000, seconds: 11.11 }], date: 'd' },
    micro: undefined, targets: [], profile: undefined, figures: {}, errors: [],
  };
}

void t.test('targets: met and missed, with an analysis where missed', (t) => {
  const r = result();
  const targets = evaluateTargets(r);
  t.same(targets.map((x) => [x.met, x.analysis !== undefined]), [[false, true], [false, true], [true, false], [false, true]]);
  t.match(targets[0]!.analysis!, /decode\+validate\+columns 4\.0 µs, ClickHouse insert \(store\.insertIntervalColumns\) 3\.0 µs; together 9\.0 µs/);
  t.match(targets[0]!.analysis!, /As TabSeparated text \(store\.insertTsv, the path a ClickHouse server takes\) chDB takes the same rows at 200,000 rows\/s \(5\.0 µs\/row\) against 400,000 rows\/s \(3\.0 µs\/row\) as columns/);
  t.end();
});

void t.test('latency missed under queueing: the analysis names the load generator\'s share of the machine', (t) => {
  const r = result();
  r.latency = { ...r.latency!, p50Ms: 3_000, p99Ms: 5_000, maxMs: 5_500 };
  const latency = evaluateTargets(r).find((x) => x.name.startsWith('p99 produce-to-queryable'))!;
  t.equal(latency.met, false);
  t.match(latency.analysis!, /^At 100,000 records\/s the pipeline kept up only with queueing: .*the load generator itself \(this harness's producer\) used 0\.43 of the machine's cores meanwhile/);
  t.end();
});

void t.test('figures: named, including the peer ratio and the reconcile rate', (t) => {
  const f = collectFigures(result());
  t.equal(f['e2e.recordsPerS'], 200_000);
  t.equal(f['headline.ratio'], 0.5);
  t.equal(f['limits.r1.read.kcat.recordsPerS'], 1_000_000);
  t.equal(f['limits.r1.write.embedded.store.insertTsv.c3.rowsPerS'], 200_000);
  t.equal(f['limits.r1.write.embedded.store.insertIntervalColumns.c3.rowsPerS'], 400_000);
  t.equal(f['peer.ratio'], 4);
  t.equal(f['reconcile.sessionsPerS'], 1500, 'the first run (every record created), not the faster re-run');
  t.equal(f['latency.p99Ms'], 900);
  t.end();
});

void t.test('markdown and chart carry the figures', (t) => {
  const r = result();
  r.targets = evaluateTargets(r);
  const md = markdownReport(r);
  t.match(md, /\| \*\*Pipeline, end to end\*\* \| \*\*200,000 records\/s\*\* \|/);
  t.match(md, /\| Kafka read limit \(kcat\) \| 1,000,000 records\/s \|/);
  t.match(md, /\| Reconcile, first run \| 1,500 sessions\/s \(13\.33 s\) \|/);
  t.match(md, /\| 1 \| 150,000 \| 200,000 \| 1,000,000 \| 250,000 \| 400,000 \|/);
  t.match(md, /\| Decode limit \(1 thread\) \| 250,000 records\/s \| decodeBatch: frame, Avro, validate, columns; 4\.0 µs\/record \|/);
  t.match(md, /\| ClickHouse write limit \(chDB, store\.insertIntervalColumns\) \| 400,000 rows\/s \| 20,000 rows\/insert, 3 in flight; the pipeline's path \|/);
  t.match(md, /\| ClickHouse write limit \(chDB, store\.insertTsv\) \| 200,000 rows\/s \| 20,000 rows\/insert, 3 in flight \|/);
  const groups = barGroups(r);
  t.same(groups.map((g) => g.bars.length), [7, 3]);
  const svg = resultSvg(r);
  t.match(svg, /^<svg /);
  t.equal((svg.match(/<rect x=/g) ?? []).length, 10);
  t.end();
});

t.test('only a quiet run writes latest.*: a busy one writes its own files, marked, unless --allow-busy', (t) => {
  const quiet = { loadAverageAtStart: [0.2, 0.2, 0.2], seconds: 100, machineCpuSeconds: 150, ownCpuSeconds: 149, otherCpuSeconds: 1, otherCores: 0.01 };
  const busy = { ...result(), runId: 'busy', quiet: { ...quiet, publishable: false, otherCpuSeconds: 60, otherCores: 0.6, reasons: ['other processes used 60.0 CPU s in 100 s (0.60 cores on average, over 0.15)'] } };
  const calm = { ...result(), runId: 'calm', quiet: { ...quiet, publishable: true, reasons: [] } };
  const dir = t.testdir({});
  t.same(writeResults(dir, busy).map((f) => basename(f)), ['busy.json', 'busy.svg']);
  t.notOk(existsSync(join(dir, 'latest.json')), 'no latest.json from a busy run');
  t.match(readFileSync(join(dir, 'busy.json'), 'utf8'), /"publishable": false/);
  t.match(markdownReport(busy), /Not publishable: other processes used 60\.0 CPU s/);
  t.same(writeResults(dir, calm).map((f) => basename(f)), ['calm.json', 'calm.svg', 'latest.json', 'latest.md', 'latest.svg']);
  t.match(readFileSync(join(dir, 'latest.md'), 'utf8'), /Other processes used 1\.0 CPU s during the 100 s run \(0\.01 cores\): quiet, publishable\./);
  t.same(writeResults(dir, busy, { allowBusy: true }).map((f) => basename(f)), ['busy.json', 'busy.svg', 'latest.json', 'latest.md', 'latest.svg']);
  t.end();
});
