/**
 * The soak: the ingest service under a steady share of its maximum for a long time, watched.
 *
 *   maximum   unless --rate is given: a burst of the harness's fleet records through the
 *             harness's end-to-end run (bench/harness/pipeline-run.ts), records/s
 *   pipeline  the real `runIngestService` in a child process (the harness's pipeline job) on a
 *             fresh topic set and chDB folder, with the harness's visibility poller in streaming
 *             mode and a sampler of its RSS and store size
 *   warm-up   the first messages produced at once and waited for (group joined, code warm)
 *   load      the harness's steady-rate producer (`produceSteady`) feeding simulated fleets made
 *             on the fly (./source.ts) at the rate for --minutes; a sample every --sample-s
 *   drain     the producer stops after its last whole fleet; samples go on until the group's
 *             committed offsets reach the high watermarks and every record is a row
 *   check     the stored totals against the simulator's truth (bench/sim/truth.ts), and the
 *             criteria (./criteria.ts)
 *
 * Per sample: RSS of the ingest process (/proc/<pid>/status VmRSS), consumer lag (the group's
 * committed offsets against the high watermarks, read without joining the group), the p99 of
 * produce-to-queryable latency of the records that became visible during the sample's window
 * (./visibility.ts, the harness's definition), and the store's bytes on disk (active parts).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../aggregate/store/index.js';
import { OffsetReader, partitionsOf, tpKey } from '../chaos/kafka.js';
import { fleetMessages } from '../harness/data.js';
import { createTopics, deleteTopics, produceAll, produceSteady, topicSetNames, topicsOf, type SteadyProgress } from '../harness/kafka.js';
import { resolveBenchOptions } from '../harness/options.js';
import { pipelineFlags, runPipeline, type RunContext } from '../harness/pipeline-run.js';
import type { PipelineJob } from '../harness/protocol.js';
import { newRunId } from '../harness/run.js';
import { benchError, startChild } from '../harness/spawn.js';
import type { PipelineChildResult, TopicSet, VisibilityObservation } from '../harness/types.js';
import { brokerPid, metricValue, scrape } from '../harness/watch.js';
import { describeMachine, type MachineInfo } from '../measure/machine.js';
import type { QuietVerdict } from '../measure/quiet.js';
import { checkTruth, type TruthCheck } from '../sim/truth.js';
import { evaluateSoak, type SoakVerdict, type TrendSample } from './criteria.js';
import type { SoakOptions } from './options.js';
import { FleetChunks } from './source.js';
import { VisibilityTracker } from './visibility.js';

export interface SoakMerges {
  running: number;
  bytes: number;
  longestS: number;
  biggestTable: string;
}

export interface SoakSample extends TrendSample {
  /** Epoch ms of the sample. */
  at: number;
  /** Records the broker acknowledged so far (warm-up included). */
  producedRecords: number;
  /** pevmeter_rows_written_total for interval_raw. */
  rowsWritten: number;
  /** Messages between the group's committed offsets and the high watermarks. */
  lagMessages: number | null;
  storeBytes: number | null;
  storeRows: number | null;
  /** Active parts of the store's tables at the pipeline's last store sample. */
  activeParts: number | null;
  /**
   * Merges running at that sample: how many, the compressed bytes they merge, the longest one's
   * age in seconds, the table of the biggest ('' when none runs).
   */
  merges: SoakMerges | null;
  /** Records that became visible during the window, and their p50 (p99 is in TrendSample). */
  visibleRecords: number;
  p50Ms: number | null;
}

export interface SoakResult {
  schema: 'pevmeter-soak/1';
  runId: string;
  startedAt: string;
  finishedAt: string;
  options: Record<string, unknown>;
  machine: MachineInfo;
  /** The burst that measured the maximum (absent with --rate). */
  maximum: { records: number; recordsPerS: number; cpuSecondsPerMillion: number; verified: boolean } | null;
  rate: number;
  /** Load phase as run: seconds, records offered, and the rate achieved. */
  load: { seconds: number; records: number; messages: number; recordsPerS: number; fleets: number; sessions: number };
  warmupRecords: number;
  drainSeconds: number;
  samples: SoakSample[];
  latency: { records: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; unobserved: number; pollMs: number; definition: string };
  peakRssBytes: number;
  /** Consumer lag and rows once drained; the pipeline's own counts when it stopped. */
  end: { finalLag: number; producedRecords: number; rowsWritten: number; intervalRows: number; countedRecords: number; deadLetterRows: number; exitCode: number; storeBytes: number | null };
  truth: TruthCheck;
  verdict: SoakVerdict;
  /** The issue's latency target (p99 under 2 s at half the maximum), reported beside the criteria. */
  target: { p99Ms: number; met: boolean | null };
  quiet?: QuietVerdict;
  errors: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** VmRSS of a live process, bytes; undefined when it is gone or /proc is missing. */
export function processRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const runId = newRunId();
  const dir = join(o.workDir, runId);
  mkdirSync(dir, { recursive: true });
  const startedAt = new Date().toISOString();
  const log = o.log;
  const bench = resolveBenchOptions({
    brokers: o.brokers, partitions: o.partitions, workDir: o.workDir, seed: o.seed, pipelineFlags: o.pipelineFlags, outDir: undefined, quiet: true,
    timeoutS: Math.ceil(o.minutes * 60 + o.drainTimeoutS + 900),
  });
  const ctx: RunContext = { options: bench, runId, dir, brokerPid: brokerPid(o.brokers), log };
  const created: string[] = [];
  const errors: string[] = [];
  const makeTopics = async (label: string): Promise<TopicSet> => {
    const names = topicSetNames(runId, label);
    await createTopics(o.brokers, topicsOf(names), o.partitions);
    created.push(...topicsOf(names));
    return { ...names, partitions: o.partitions, recordsPerMessage: o.recordsPerMessage, records: 0, messages: 0, bytes: 0, produceSeconds: 0, source: 'fleet' };
  };
  const machine = describeMachine();

  try {
    // ---- the maximum
    let maximum: SoakResult['maximum'] = null;
    let rate = o.rate;
    if (rate === undefined) {
      log(`[soak] measuring the maximum: a burst of ${o.burstRecords.toLocaleString('en-US')} records, ${o.workers} workers`);
      const set = await makeTopics('burst');
      const p = await produceAll(o.brokers, set.interval, fleetMessages(o.burstRecords, o.recordsPerMessage, `${o.seed}/burst`));
      Object.assign(set, { records: p.records, messages: p.messages, bytes: p.bytes, produceSeconds: p.seconds });
      const { run, child } = await runPipeline(ctx, set, { label: 'burst', workers: o.workers, store: 'embedded', expect: set.records });
      machine.clickhouseEmbedded ||= child.clickhouseVersion;
      maximum = { records: run.records, recordsPerS: run.recordsPerS, cpuSecondsPerMillion: run.cpuSecondsPerMillion, verified: run.verified };
      if (!run.verified) throw benchError(`the burst did not verify: ${run.error ?? ''}`);
      rate = Math.max(1, Math.round(run.recordsPerS * o.load));
      log(`[soak] maximum ${Math.round(run.recordsPerS).toLocaleString('en-US')} records/s; the soak offers ${rate.toLocaleString('en-US')} (${o.load * 100} %)`);
    }
    const offered = rate;

    // ---- the pipeline, streaming what it sees
    const set = await makeTopics('soak');
    const label = 'soak';
    const flags = pipelineFlags(ctx, set, label, o.workers, 'embedded');
    const job: PipelineJob = {
      kind: 'pipeline', flags, idleExitMs: Math.ceil((o.drainTimeoutS + 600) * 1000), sampleMs: 1_000, pollMs: o.pollMs,
      stream: { sampleEveryMs: Math.max(500, Math.round((o.sampleS * 1000) / 2)) },
    };
    const expectedRecords = offered * o.minutes * 60;
    const truthMinutes = o.truthMinutes === 'auto' ? expectedRecords <= 2_000_000 : o.truthMinutes;
    const tracker = new VisibilityTracker();
    let childSample: { rssBytes: number; storeBytes: number; storeRows: number; activeParts: number; merges: SoakMerges } | undefined;
    const child = startChild<PipelineChildResult>(job, { timeoutMs: bench.timeoutS * 1000, label: 'soak pipeline' });
    child.onEvent('visibility', (d) => {
      for (const obs of d['observations'] as VisibilityObservation[]) tracker.observe(obs);
    });
    child.onEvent('sample', (d) => {
      childSample = {
        rssBytes: Number(d['rssBytes']), storeBytes: Number(d['storeBytes']), storeRows: Number(d['storeRows']), activeParts: Number(d['activeParts']),
        merges: { running: Number(d['merges']), bytes: Number(d['mergeBytes']), longestS: Number(d['longestMergeS']), biggestTable: typeof d['biggestMergeTable'] === 'string' ? d['biggestMergeTable'] : '' },
      };
    });
    let childDone = false;
    const finished = child.result.finally(() => {
      childDone = true;
    });
    finished.catch(() => undefined);
    const ready = await Promise.race([child.event('ready'), finished.then(() => undefined)]);
    if (!ready) throw benchError('the soak pipeline stopped before it was ready');
    const port = Number(ready['port']);
    const reader = await OffsetReader.open(o.brokers, String(flags['kafka.groupId']));
    const tps = partitionsOf([set.interval], o.partitions);
    let rowsWritten = 0;
    const scrapeRows = async (): Promise<number> => {
      try {
        rowsWritten = metricValue(await scrape(port), 'pevmeter_rows_written_total', 'table="interval_raw"');
      } catch {
        // the ops server is gone while the child drains: keep the last reading
      }
      return rowsWritten;
    };
    const lag = async (): Promise<number | null> => {
      try {
        const committed = await reader.committed(tps, 10_000);
        const high = await reader.high(tps, 10_000);
        let n = 0;
        for (const tp of tps) {
          const k = tpKey(tp.topic, tp.partition);
          n += Math.max(0, (high.get(k) ?? 0) - Math.max(0, committed.get(k) ?? 0));
        }
        return n;
      } catch {
        return null;
      }
    };

    let loadEnd = Number.POSITIVE_INFINITY;
    const source = new FleetChunks({
      seed: o.seed,
      recordsPerMessage: o.recordsPerMessage,
      truthMinutes,
      chunkRecords: () => {
        const left = Number.isFinite(loadEnd) ? (loadEnd - Date.now()) / 1000 : o.chunkS;
        return left < 2 ? 0 : Math.round(offered * Math.min(o.chunkS, left));
      },
    });
    const samples: SoakSample[] = [];
    let peakRss = 0;
    let warmupRecords = 0;
    let load: SoakResult['load'] = { seconds: 0, records: 0, messages: 0, recordsPerS: 0, fleets: 0, sessions: 0 };
    let drainSeconds = 0;
    let finalLag = -1;
    try {
      // ---- warm-up: group joined and rows written before the clock runs
      const warm = await produceAll(o.brokers, set.interval, source.take(Math.max(1, Math.round(1_000 / o.recordsPerMessage))));
      warmupRecords = warm.records;
      const warmDeadline = Date.now() + 120_000;
      while ((await scrapeRows()) < warmupRecords) {
        if (childDone || Date.now() > warmDeadline) throw benchError(`the warm-up did not arrive: ${rowsWritten} of ${warmupRecords} rows after 120 s`);
        await sleep(100);
      }
      tracker.settle();
      tracker.takeWindow();

      // ---- load
      const t0 = Date.now();
      loadEnd = t0 + o.minutes * 60_000;
      const progress: SteadyProgress = { records: 0, messages: 0, bytes: 0, deliveredRecords: 0, deliveredMessages: 0 };
      let producing = true;
      const producer = produceSteady(o.brokers, set.interval, source, offered, { progress, onDelivered: (p, off, t, n) => tracker.delivered(p, off, t, n) }).finally(() => {
        producing = false;
      });
      producer.catch(() => undefined);
      log(`[soak] load: ${offered.toLocaleString('en-US')} records/s for ${o.minutes} min, a sample every ${o.sampleS} s (run ${runId})`);
      const takeSample = async (phase: 'load' | 'drain'): Promise<SoakSample> => {
        tracker.settle();
        const w = tracker.takeWindow();
        const rss = processRss(child.pid) ?? childSample?.rssBytes ?? 0;
        if (rss > peakRss) peakRss = rss;
        const s: SoakSample = {
          t: (Date.now() - t0) / 1000, at: Date.now(), phase, producedRecords: warmupRecords + progress.deliveredRecords, rowsWritten: await scrapeRows(),
          lagMessages: await lag(), rssBytes: rss, storeBytes: childSample?.storeBytes ?? null, storeRows: childSample?.storeRows ?? null,
          activeParts: childSample?.activeParts ?? null, merges: childSample?.merges ?? null,
          visibleRecords: w.records, p50Ms: w.p50Ms ?? null, p99Ms: w.p99Ms ?? null,
        };
        samples.push(s);
        log(sampleLine(s));
        return s;
      };
      let nextAt = t0 + o.sampleS * 1000;
      while (producing) {
        if (childDone) throw benchError('the pipeline stopped during the load');
        const wait = nextAt - Date.now();
        if (wait > 0) await Promise.race([sleep(Math.min(wait, 250)), producer.catch(() => undefined)]);
        if (Date.now() >= nextAt) {
          await takeSample('load');
          nextAt += o.sampleS * 1000;
        }
      }
      const produced = await producer;
      load = {
        seconds: produced.seconds, records: produced.records, messages: produced.messages, recordsPerS: produced.seconds > 0 ? produced.records / produced.seconds : 0,
        fleets: source.fleets, sessions: source.truth.length,
      };
      if (samples.length === 0 || samples[samples.length - 1]!.t < (Date.now() - t0) / 1000 - 0.5) await takeSample('load');
      log(`[soak] load done: ${produced.records.toLocaleString('en-US')} records in ${produced.seconds.toFixed(1)} s (${Math.round(load.recordsPerS).toLocaleString('en-US')} records/s, ${source.fleets} fleets); draining`);

      // ---- drain: lag back to zero and a row per record
      const drainStart = Date.now();
      const total = warmupRecords + progress.deliveredRecords;
      nextAt = Date.now() + o.sampleS * 1000;
      for (;;) {
        const l = await lag();
        const rows = await scrapeRows();
        if (l === 0 && rows >= total) {
          finalLag = 0;
          break;
        }
        if (childDone || Date.now() - drainStart > o.drainTimeoutS * 1000) {
          finalLag = l ?? -1;
          errors.push(`not drained after ${((Date.now() - drainStart) / 1000).toFixed(0)} s: lag ${String(l)}, ${rows} of ${total} rows`);
          break;
        }
        if (Date.now() >= nextAt) {
          await takeSample('drain');
          nextAt += o.sampleS * 1000;
        }
        await sleep(250);
      }
      drainSeconds = (Date.now() - drainStart) / 1000;
      await takeSample('drain');
    } finally {
      child.stop();
      await reader.close();
    }
    const result = await finished;
    await child.exited;
    tracker.settle();
    machine.clickhouseEmbedded ||= result.clickhouseVersion;
    log(`[soak] drained in ${drainSeconds.toFixed(1)} s; checking the totals against the simulator's truth (${o.truthSource}${truthMinutes ? ', per minute too' : ', per session'})`);

    // ---- the truth
    const store = await openStore({ kind: 'embedded', path: String(flags['store.path']), database: String(flags['store.database']) });
    let truth: TruthCheck;
    try {
      truth = await checkTruth(store, source.truth, { source: o.truthSource, minutes: truthMinutes });
    } finally {
      await store.close();
    }
    const producedRecords = warmupRecords + load.records;
    const verdict = evaluateSoak(samples, {
      finalLag, producedRecords, rowsWritten,
      truth: { status: truth.status, expectedRecords: truth.expected.records, expectedWh: truth.expected.wh, actualRecords: truth.actual.records, actualWh: truth.actual.wh, ...(truth.error ? { error: truth.error } : {}) },
    }, o.bounds);
    if (result.deadLetterRows !== 0) errors.push(`${result.deadLetterRows} dead letters`);
    const loadHist = tracker.total;
    const p99 = loadHist.percentile(0.99);
    const last = samples[samples.length - 1];
    return {
      schema: 'pevmeter-soak/1',
      runId,
      startedAt,
      finishedAt: new Date().toISOString(),
      options: {
        minutes: o.minutes, rate: o.rate ?? null, load: o.load, burstRecords: o.burstRecords, partitions: o.partitions, workers: o.workers,
        recordsPerMessage: o.recordsPerMessage, sampleS: o.sampleS, pollMs: o.pollMs, chunkS: o.chunkS, drainTimeoutS: o.drainTimeoutS,
        truthMinutes, truthSource: o.truthSource, bounds: o.bounds, seed: o.seed, brokers: o.brokers, pipelineFlags: o.pipelineFlags,
      },
      machine,
      maximum,
      rate: offered,
      load,
      warmupRecords,
      drainSeconds,
      samples,
      latency: {
        records: loadHist.count, p50Ms: loadHist.percentile(0.5) ?? null, p99Ms: p99 ?? null, maxMs: loadHist.count > 0 ? loadHist.max : null,
        unobserved: tracker.pendingRecords(), pollMs: o.pollMs,
        definition: 'per record: start of the first poll whose newly visible interval_raw parts hold its (partition, offset), minus the moment the producer handed its message to librdkafka (= its Kafka timestamp); polls every pollMs; percentiles to the whole ms',
      },
      peakRssBytes: Math.max(peakRss, result.peakRssBytes),
      end: {
        finalLag, producedRecords, rowsWritten, intervalRows: result.intervalRows, countedRecords: result.summary.records, deadLetterRows: result.deadLetterRows,
        exitCode: result.summary.exitCode, storeBytes: last?.storeBytes ?? null,
      },
      truth,
      verdict,
      target: { p99Ms: o.bounds.p99TargetMs, met: p99 === undefined ? null : p99 <= o.bounds.p99TargetMs },
      errors,
    };
  } finally {
    if (!o.keep) {
      const failed = await deleteTopics(o.brokers, created).catch((err: unknown) => [String(err)]);
      if (failed.length > 0) log(`[soak] topic cleanup: ${failed.join('; ')}`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const MIB = 1024 * 1024;

export function sampleLine(s: SoakSample): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const min = (s.t / 60).toFixed(1).padStart(5);
  const p99 = s.p99Ms === null ? '-' : `${n(s.p99Ms)} ms`;
  const p50 = s.p50Ms === null ? '-' : `${n(s.p50Ms)}`;
  return (
    `[soak] ${min} min ${s.phase.padEnd(5)} produced ${n(s.producedRecords)}  rows ${n(s.rowsWritten)}  lag ${s.lagMessages === null ? '?' : n(s.lagMessages)}  ` +
    `RSS ${(s.rssBytes / MIB).toFixed(0)} MiB  p99 ${p99} (p50 ${p50}, ${n(s.visibleRecords)} records)  store ${s.storeBytes === null ? '?' : `${(s.storeBytes / MIB).toFixed(0)} MiB`}` +
    `${s.activeParts === null ? '' : ` in ${n(s.activeParts)} parts`}${s.merges === null ? '' : `  merging ${s.merges.running} (${(s.merges.bytes / MIB).toFixed(0)} MiB, longest ${s.merges.longestS.toFixed(1)} s${s.merges.biggestTable ? `, biggest in ${s.merges.biggestTable}` : ''})`}`
  );
}
