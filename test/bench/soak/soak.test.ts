/**
 * A short soak on the real broker and the embedded store: a burst measures the maximum, 30 s of
 * load at 5 % of it, the drain, the truth check. It checks the soak's own consistency with exact
 * values (every record produced is a row, equals the truth, and was seen visible), and that the
 * verdict is the criteria applied to the samples recorded; never speed.
 */
import t from 'tap';
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { evaluateSoak } from '../../../bench/soak/criteria.js';
import { resolveSoakOptions } from '../../../bench/soak/options.js';
import { soakSvg, writeSoakResults } from '../../../bench/soak/report.js';
import { runSoak, type SoakResult } from '../../../bench/soak/run.js';
import { kafkaBrokers } from '../../helpers/services.js';

const BURST = 20_000;
const LOAD = 0.05;

void t.test('a 30-second soak: totals equal the truth, lag back to zero, verdict from the samples', async (t) => {
  const brokers = await kafkaBrokers();
  const lines: string[] = [];
  const o = resolveSoakOptions({
    brokers, minutes: 0.5, load: LOAD, burstRecords: BURST, partitions: 2, workers: 1, sampleS: 3, chunkS: 10, drainTimeoutS: 120,
    outDir: undefined, workDir: t.testdir(), seed: 'soak-test', log: (l) => lines.push(l),
  });
  const r = await runSoak(o);
  t.same(r.errors, [], 'nothing broke');

  t.equal(r.maximum?.records, BURST, 'the burst stored exactly its records');
  t.equal(r.maximum?.verified, true);
  t.equal(r.rate, Math.max(1, Math.round(r.maximum!.recordsPerS * LOAD)), 'the offered rate is the share of the measured maximum');

  const produced = r.warmupRecords + r.load.records;
  t.equal(r.warmupRecords, 1_000);
  t.equal(r.end.producedRecords, produced);
  t.equal(r.end.finalLag, 0, 'consumer lag back to zero');
  t.equal(r.end.rowsWritten, produced, 'a row written per record produced');
  t.equal(r.end.intervalRows, produced, 'interval_raw holds every record once');
  t.equal(r.end.countedRecords, produced, 'the service counted every record in committed units');
  t.equal(r.end.deadLetterRows, 0);
  t.equal(r.end.exitCode, 0);

  t.equal(r.truth.status, 'pass', 'stored sessions and minutes equal the simulator truth');
  t.equal(r.truth.source, 'aggregates');
  t.equal(r.options['truthMinutes'], true, 'a small run checks per-minute sums too');
  t.equal(r.truth.expected.records, produced, 'the truth covers every record produced: whole fleets only');
  t.equal(r.truth.actual.records, r.truth.expected.records);
  t.equal(r.truth.actual.wh, r.truth.expected.wh);
  t.equal(r.truth.actual.minutes, r.truth.expected.minutes);
  t.equal(r.truth.actual.sessions, r.load.sessions, 'every session of every fleet is stored');
  t.equal(r.truth.mismatchedSessions + r.truth.mismatchedMinutes, 0);

  t.equal(r.latency.records, r.load.records, 'every record of the load was seen visible once');
  t.equal(r.latency.unobserved, 0);
  t.ok(r.latency.p99Ms !== null && r.latency.p50Ms !== null && r.latency.p99Ms >= r.latency.p50Ms);

  const load = r.samples.filter((s) => s.phase === 'load');
  t.ok(load.length >= 9, `a sample every 3 s over 30 s: ${load.length}`);
  for (let i = 1; i < r.samples.length; i++) t.ok(r.samples[i]!.producedRecords >= r.samples[i - 1]!.producedRecords, 'produced never goes back');
  t.ok(r.samples.every((s) => s.rssBytes > 0), 'RSS read from the ingest process');
  t.ok(r.samples.slice(1).every((s) => s.activeParts !== null && s.activeParts > 0 && s.merges !== null && s.merges.running >= 0), 'active parts and running merges sampled in the ingest process');
  t.equal(r.samples.at(-1)!.lagMessages, 0);
  t.equal(r.samples.at(-1)!.producedRecords, produced);
  t.ok(lines.filter((l) => / min load /.test(l)).length === load.length, 'a progress line per sample');

  // The verdict is the criteria applied to what was recorded.
  const end = {
    finalLag: r.end.finalLag, producedRecords: r.end.producedRecords, rowsWritten: r.end.rowsWritten,
    truth: { status: r.truth.status, expectedRecords: r.truth.expected.records, expectedWh: r.truth.expected.wh, actualRecords: r.truth.actual.records, actualWh: r.truth.actual.wh },
  };
  t.same(evaluateSoak(r.samples, end, o.bounds), r.verdict);
  t.same(r.verdict.criteria.filter((c) => c.name === 'lag-zero' || c.name === 'truth').map((c) => c.ok), [true, true]);
  t.equal(r.verdict.rss.samples, load.filter((s) => s.t >= load.at(-1)!.t / 2).length, 'the RSS trend is over the second half of the load');
  const lenient = evaluateSoak(r.samples, end, { ...o.bounds, rssMiBPerHour: 1e12, p99MsPerHour: 1e12 });
  // On a loaded machine records become visible in bursts, so some 3-s samples have no p99 and the
  // short second half may hold too few to judge a trend: that is the only way a criterion may fail
  // here, never a bound.
  const failed = lenient.criteria.filter((c) => !c.ok);
  t.same(failed.filter((c) => !(c.name.endsWith('-trend') && c.detail.startsWith('too short to judge'))), [], 'with bounds nothing can exceed, no criterion fails on its bound: lag and totals are right');
  t.equal(lenient.passed, failed.length === 0);
  const strict = evaluateSoak(r.samples, end, { ...o.bounds, rssMiBPerHour: -1e12, p99MsPerHour: -1e12 });
  t.same(strict.criteria.map((c) => c.ok), [false, false, true, true], 'with bounds nothing can meet, the trends fail and only they');
  t.equal(strict.passed, false);

  t.match(soakSvg(r), /^<svg [^]*RSS of the ingest process[^]*Produce-to-queryable p99[^]*Consumer lag[^]*Store size[^]*Active parts[^]*Merges running/);
  checkFiles(t, r);
});

function checkFiles(t: Test, r: SoakResult): void {
  const dir = t.testdir();
  const busy = writeSoakResults(dir, { ...r, quiet: { publishable: false, loadAverageAtStart: [3, 2, 1], seconds: 60, machineCpuSeconds: 100, ownCpuSeconds: 40, otherCpuSeconds: 60, otherCores: 1, reasons: ['busy'] } });
  t.same(busy.map((f) => basename(f)), [`soak-${r.runId}.json`, `soak-${r.runId}.svg`], 'a busy run writes its own files');
  t.equal((JSON.parse(readFileSync(busy[0]!, 'utf8')) as { publishable: boolean }).publishable, false);
  const quiet = writeSoakResults(dir, { ...r, quiet: { publishable: true, loadAverageAtStart: [0.2, 0.2, 0.2], seconds: 60, machineCpuSeconds: 40, ownCpuSeconds: 39, otherCpuSeconds: 1, otherCores: 0.02, reasons: [] } });
  t.same(quiet, [join(dir, 'soak.json'), join(dir, 'soak.svg')], 'a quiet one writes soak.json and soak.svg');
  t.equal((JSON.parse(readFileSync(quiet[0]!, 'utf8')) as { publishable: boolean }).publishable, true);
}
