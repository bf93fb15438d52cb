/**
 * From a BenchResult to what people read: the targets checked (with an analysis of the bounding
 * stage when one is missed), a flat map of figures (each must be present and positive), and the
 * markdown table the README quotes (bench/results/latest.md).
 */
import type { BenchResult, PipelineRun, StageLimits, TargetCheck, WriteLimit } from './types.js';
import { loadConfig } from '../../schemas/config.js';
import { unitMessages } from '../../ingest/pipeline/kafka-loop.js';

export const TARGETS = {
  ratio: 0.7,
  recordsPerS: 250_000,
  p99Ms: 2_000,
  rssBytes: 1.5 * 1024 ** 3,
} as const;

const n0 = (n: number) => Math.round(n).toLocaleString('en-US');
const n1 = (n: number) => n.toFixed(1);
const n2 = (n: number) => n.toFixed(2);
const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;

function bestRead(l: StageLimits | undefined): number {
  return Math.max(0, ...(l?.kafkaRead ?? []).map((r) => r.recordsPerS));
}

/** The fastest chDB write limit on the path the pipeline takes there (columns), if measured. */
export function bestPipelineWrite(l: StageLimits | undefined): WriteLimit | undefined {
  let best: WriteLimit | undefined;
  for (const w of l?.clickhouseWrite ?? []) if (w.pipeline && w.store === 'embedded' && (!best || w.rowsPerS > best.rowsPerS)) best = w;
  return best;
}

function bestWrite(l: StageLimits | undefined): number {
  return bestPipelineWrite(l)?.rowsPerS ?? 0;
}

/** A warning when other work shared the machine: the quiet watch's verdict, else the start load. */
export function noiseWarning(r: BenchResult): string | undefined {
  if (r.quiet !== undefined) {
    if (r.quiet.publishable) return undefined;
    return `Not publishable: ${r.quiet.reasons.join('; ')}. Wall-time figures are not representative; CPU per record is the steadier figure.`;
  }
  const load = r.machine.loadAverage[0] ?? 0;
  if (load <= 0.75 * r.machine.cpus) return undefined;
  return `The machine was busy with other work when the run started (load average ${load} on ${r.machine.cpus} cores): wall-time figures are not representative; CPU per record is the steadier figure.`;
}

/** Where the pipeline's time goes, from the stage limits' CPU per record and the run's own. */
export function throughputAnalysis(r: BenchResult): string {
  const e = r.e2e;
  if (!e) return '';
  const l = r.limits.find((x) => x.recordsPerMessage === e.recordsPerMessage);
  const cores = r.machine.cpus;
  const parts: string[] = [];
  const noise = noiseWarning(r);
  if (noise) parts.push(noise);
  const broker = e.brokerCoresUsed ?? 0;
  const used = e.coresUsed + broker;
  parts.push(
    `The pipeline process used ${n2(e.coresUsed)} cores and the Kafka broker ${n2(broker)} of the machine's ${cores} while measured` +
      (used >= 0.85 * cores ? ': the machine is CPU-bound, so throughput = cores / CPU per record.' : '.'),
  );
  parts.push(`The pipeline spends ${n1(e.cpuSecondsPerMillion)} µs of CPU per record (all threads: consumer, main thread, decode workers, chDB).`);
  if (l) {
    const read = l.kafkaRead.find((x) => x.tool === 'node-rdkafka');
    const write = bestPipelineWrite(l);
    const text = l.clickhouseWrite.find((w) => w.store === 'embedded' && !w.pipeline && w.concurrency === write?.concurrency);
    const costs: string[] = [];
    if (read?.cpuUsPerRecord !== undefined) costs.push(`Kafka consume ${n1(read.cpuUsPerRecord)} µs`);
    if (l.decode) costs.push(`decode+validate+${l.decode.output === 'columns' ? 'columns' : 'TSV'} ${n1(l.decode.cpuUsPerRecord)} µs`);
    if (write) costs.push(`ClickHouse insert (${write.path}) ${n1(write.cpuUsPerRecord)} µs`);
    if (costs.length > 0) {
      const sum = (read?.cpuUsPerRecord ?? 0) + (l.decode?.cpuUsPerRecord ?? 0) + (write?.cpuUsPerRecord ?? 0);
      parts.push(`Measured alone, the stages cost per record: ${costs.join(', ')}; together ${n1(sum)} µs, so on ${cores} cores (less the broker's share) the stages alone allow about ${n0((Math.max(0.1, cores - broker) / sum) * 1e6)} records/s.`);
    }
    const kcat = l.kafkaRead.find((x) => x.tool === 'kcat');
    if (read?.cpuUsPerRecord !== undefined && kcat?.cpuUsPerRecord !== undefined && read.cpuUsPerRecord > 2 * kcat.cpuUsPerRecord) {
      parts.push(
        `Consuming alone, node-rdkafka costs ${n1((read.cpuUsPerRecord * read.records) / read.messages)} µs of CPU per message against kcat's ${n2((kcat.cpuUsPerRecord * kcat.records) / kcat.messages)} µs (C, also librdkafka): ` +
          'every message becomes a JS object on the main thread with its value and key copied into new Buffers and eight properties set one by one ' +
          '(node-rdkafka src/common.cc, Conversion::Message::ToV8Object), then garbage. At one record per message that is the largest cost in the pipeline and it is all on one thread; ' +
          'more records per message divide it (see the scaling table).',
      );
    }
    if (write && text) {
      parts.push(
        `As TabSeparated text (store.insertTsv, the path a ClickHouse server takes) chDB takes the same rows at ${n0(text.rowsPerS)} rows/s (${n1(text.cpuUsPerRecord)} µs/row) ` +
          `against ${n0(write.rowsPerS)} rows/s (${n1(write.cpuUsPerRecord)} µs/row) as columns (${write.path}), ${write.concurrency} in flight.`,
      );
    }
  }
  if (r.profile) {
    const w = r.profile.windowMs;
    if (w) {
      const busy = r.profile.threads.map((t) => `${t.thread} ${Math.round((t.totalMs / w) * 100)}%`).join(', ');
      parts.push(`Under the profiler, JS threads were busy for this share of the measured window: ${busy} (the main thread runs the consumer's message objects, task packing, commits and the insert's string handling; librdkafka and chDB threads are outside these profiles).`);
    }
    const main = r.profile.threads.find((t) => t.thread === 'main');
    const top = main?.top.slice(0, 5).map((f) => `${f.fn} ${f.selfPct}%`).join(', ');
    if (top) parts.push(`Main thread profile, top self time: ${top}.`);
    const worker = r.profile.threads.find((t) => t.thread.startsWith('worker'));
    const wtop = worker?.top.slice(0, 5).map((f) => `${f.fn} ${f.selfPct}%`).join(', ');
    if (wtop) parts.push(`Decode worker profile, top self time: ${wtop}.`);
  }
  return parts.join(' ');
}

/** The pipeline's defaults that size a unit of work (kafka.consumeBatch, pipeline.maxUnitRecords). */
const DEFAULTS = loadConfig({ env: {} });

export function latencyAnalysis(r: BenchResult): string {
  const l = r.latency;
  if (!l) return '';
  if (l.producedRecordsPerS < 0.95 * l.offeredRecordsPerS) {
    return `The producer reached only ${n0(l.producedRecordsPerS)} of ${n0(l.offeredRecordsPerS)} records/s: the machine could not carry producer, broker and pipeline at this load.`;
  }
  const unit = unitMessages(DEFAULTS.kafka.consumeBatch, DEFAULTS.pipeline.maxUnitRecords, l.recordsPerMessage);
  const fillS = unit / (l.offeredRecordsPerS / l.recordsPerMessage);
  const parts: string[] = [];
  if (fillS >= 0.5 && l.p99Ms >= 500 * fillS) {
    parts.push(
      `p99 (${n0(l.p99Ms)} ms) is of the order of the time a unit takes to fill: ${n0(unit)} messages at ${n0(l.offeredRecordsPerS / l.recordsPerMessage)} messages/s = ${n0(fillS * 1000)} ms. ` +
        "node-rdkafka's consume(n) (src/workers.cc, KafkaConsumerConsumeNum) returns once n messages arrived or no message came for kafka.consumeTimeoutMs; " +
        'under a steady flow below the drain rate messages never pause that long, so a unit waits to fill. ' +
        "With 'enable.partition.eof' the call returns as soon as it has caught up with a partition (librdkafka then polls with a 1 ms timeout), so a unit is whatever has arrived; " +
        'try it without a code change: --set kafka.rdkafka.enable.partition.eof=true, or smaller units: --set kafka.consumeBatch=N.',
    );
  } else {
    parts.push(
      `At ${n0(l.offeredRecordsPerS)} records/s the pipeline kept up only with queueing: units wait for decode and inserts of the units before them (see the throughput analysis)` +
        (l.producerCores > 0 ? `; the load generator itself (this harness's producer) used ${l.producerCores.toFixed(2)} of the machine's cores meanwhile, beside the broker and the latency poller's queries inside the pipeline.` : '.'),
    );
  }
  return parts.join(' ');
}

export function evaluateTargets(r: BenchResult): TargetCheck[] {
  const out: TargetCheck[] = [];
  const h = r.headline;
  if (h) {
    const met = h.ratio >= TARGETS.ratio;
    const t: TargetCheck = {
      name: 'pipeline / min(Kafka read limit, ClickHouse write limit)',
      target: `>= ${TARGETS.ratio}`,
      value: `${n2(h.ratio)} (${n0(h.pipelineRecordsPerS)} / min(${n0(h.kafkaReadLimit)}, ${n0(h.clickhouseWriteLimit)}); bound: ${h.boundBy}; the slowest stage the pipeline runs is ${h.slowestStage} at ${n0(h.pipelineRecordsPerS / h.ratioToSlowestStage)}/s)`,
      met,
    };
    if (!met) t.analysis = throughputAnalysis(r);
    out.push(t);
  }
  if (r.e2e) {
    const met = r.e2e.recordsPerS >= TARGETS.recordsPerS && r.e2e.verified;
    const t: TargetCheck = {
      name: 'end-to-end interval records/s (embedded ClickHouse, broker on the same machine)',
      target: `>= ${n0(TARGETS.recordsPerS)}`,
      value: `${n0(r.e2e.recordsPerS)}${r.e2e.verified ? '' : ' (run did not verify)'}`,
      met,
    };
    if (!met) t.analysis = throughputAnalysis(r);
    out.push(t);
  }
  if (r.latency) {
    const l = r.latency;
    const met = l.p99Ms < TARGETS.p99Ms && l.unobserved === 0;
    const t: TargetCheck = {
      name: `p99 produce-to-queryable latency at ${Math.round(l.loadShare * 100)}% of the maximum load`,
      target: `< ${TARGETS.p99Ms} ms`,
      value: `${n0(l.p99Ms)} ms (p50 ${n0(l.p50Ms)} ms, offered ${n0(l.offeredRecordsPerS)} records/s)`,
      met,
    };
    if (!met) t.analysis = latencyAnalysis(r);
    out.push(t);
  }
  if (r.memory) {
    const m = r.memory;
    const met = m.peakRssBytes < TARGETS.rssBytes && m.verified;
    const t: TargetCheck = {
      name: `peak RSS of the pipeline with ${n0(m.sessions)} concurrently active sessions`,
      target: '< 1.5 GiB',
      value: `${mib(m.peakRssBytes)} (${mib(m.afterReadRssBytes)} after reading every session back)`,
      met,
    };
    if (!met) t.analysis = 'The pipeline keeps no per-session state; its memory is the in-flight units (3 x 20,000 messages), the decode workers and chDB. See the profile and the chDB share of RSS.';
    out.push(t);
  }
  return out;
}

/** Every figure of the run by a stable name. A figure that is 0 or missing means a phase failed. */
export function collectFigures(r: BenchResult): Record<string, number> {
  const f: Record<string, number> = {};
  const run = (prefix: string, x: PipelineRun) => {
    f[`${prefix}.recordsPerS`] = x.recordsPerS;
    f[`${prefix}.mbPerS`] = x.mbPerS;
    f[`${prefix}.messagesPerS`] = x.messagesPerS;
    f[`${prefix}.cpuSecondsPerMillion`] = x.cpuSecondsPerMillion;
    f[`${prefix}.peakRssBytes`] = x.peakRssBytes;
  };
  if (r.e2e) run('e2e', r.e2e);
  for (const s of r.scaling) run(`scaling.r${s.recordsPerMessage}-w${s.workers}`, s);
  for (const s of r.server) run(`server.r${s.recordsPerMessage}-w${s.workers}`, s);
  for (const l of r.limits) {
    const k = `limits.r${l.recordsPerMessage}`;
    for (const rd of l.kafkaRead) f[`${k}.read.${rd.tool}.recordsPerS`] = rd.recordsPerS;
    if (l.decode) f[`${k}.decode.recordsPerS`] = l.decode.recordsPerS;
    for (const w of l.clickhouseWrite) f[`${k}.write.${w.store}.${w.path.replaceAll(' ', '-')}.c${w.concurrency}.rowsPerS`] = w.rowsPerS;
  }
  if (r.headline) {
    f['headline.ratio'] = r.headline.ratio;
    f['headline.kafkaReadLimit'] = r.headline.kafkaReadLimit;
    f['headline.clickhouseWriteLimit'] = r.headline.clickhouseWriteLimit;
    f['headline.clientReadLimit'] = r.headline.clientReadLimit;
    f['headline.ratioToSlowestStage'] = r.headline.ratioToSlowestStage;
  }
  if (r.latency) {
    f['latency.offeredRecordsPerS'] = r.latency.offeredRecordsPerS;
    f['latency.p50Ms'] = r.latency.p50Ms;
    f['latency.p99Ms'] = r.latency.p99Ms;
  }
  if (r.memory) {
    f['memory.peakRssBytes'] = r.memory.peakRssBytes;
    f['memory.afterReadRssBytes'] = r.memory.afterReadRssBytes;
  }
  const rec = reconcileFirstRun(r);
  if (rec) f['reconcile.sessionsPerS'] = rec.sessionsPerS;
  if (r.peer && typeof r.peer.recordsPerS === 'number') {
    f['peer.recordsPerS'] = r.peer.recordsPerS;
    if (r.e2e) f['peer.ratio'] = r.e2e.recordsPerS / r.peer.recordsPerS;
  }
  return f;
}

/**
 * The reconcile benchmark's first run (bench/reconcile-bench.ts writes bench/results/reconcile.json
 * with one entry per run): the one that creates every billing record, the issue's target; later
 * runs find every record unchanged and are faster.
 */
export function reconcileFirstRun(r: BenchResult): { sessionsPerS: number; seconds: number; sessions: number; date: string } | undefined {
  const x = r.reconcile;
  const runs = x?.['runs'];
  if (!Array.isArray(runs) || runs.length === 0) return undefined;
  const first = runs[0] as { sessionsPerSecond?: unknown; sessions?: unknown; seconds?: unknown };
  if (typeof first.sessionsPerSecond !== 'number') return undefined;
  return {
    sessionsPerS: first.sessionsPerSecond,
    seconds: typeof first.seconds === 'number' ? first.seconds : 0,
    sessions: typeof first.sessions === 'number' ? first.sessions : 0,
    date: typeof x?.['date'] === 'string' ? x['date'] : '',
  };
}

interface ExactnessLike {
  system?: string;
  sessions?: number;
  sessionsDiffering?: number;
  whDiffAbs?: number;
  whDiffSigned?: number;
  rowsStored?: number;
  recordsInTopic?: number;
}

/** The peer's exactness table (bench/peer), when its run had one: sessions whose total is off. */
function peerExactness(r: BenchResult): string[] {
  const x = r.peer?.['exactness'] as { records?: number; faultShare?: number; peer?: ExactnessLike | null; ours?: ExactnessLike | null } | null | undefined;
  if (!x) return [];
  const rows = [x.ours, x.peer].filter((e): e is ExactnessLike => !!e && typeof e.sessions === 'number');
  if (rows.length === 0) return [];
  const out = [
    `Exactness under faults (bench/peer: ${n0(x.records ?? 0)} records, resends, out-of-order and conflicting duplicates, one SIGKILL and restart of each consumer):`,
    '',
    '| System | Sessions off / sessions | Wh off (sum of abs) | Wh off (signed) | Rows stored / records |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const e of rows) {
    const name = e.system === 'ours' ? 'pevmeter' : 'ClickHouse Kafka engine (peer)';
    out.push(`| ${name} | ${n0(e.sessionsDiffering ?? 0)} / ${n0(e.sessions ?? 0)} | ${n0(e.whDiffAbs ?? 0)} | ${n0(e.whDiffSigned ?? 0)} | ${n0(e.rowsStored ?? 0)} / ${n0(e.recordsInTopic ?? 0)} |`);
  }
  out.push('');
  return out;
}

/** The markdown the README quotes. */
export function markdownReport(r: BenchResult): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`### Benchmark ${r.runId}`, '');
  lines.push(
    `Machine: ${m.cpus} cores (${m.cpuModel}), ${(m.memoryBytes / 1024 ** 3).toFixed(0)} GiB, ${m.os}; Node ${m.node}; librdkafka ${m.librdkafka}; ` +
      `Kafka ${m.kafka} (one broker, same machine); ClickHouse ${m.clickhouseEmbedded || '?'} (chDB, in-process)` +
      `${m.clickhouseServer ? `; server ${m.clickhouseServer}` : ''}${m.kcat ? `; kcat ${m.kcat}` : ''}. Load average at start: ${m.loadAverage.join(', ')}.${r.quiet ? ` Other processes used ${r.quiet.otherCpuSeconds.toFixed(1)} CPU s during the ${r.quiet.seconds.toFixed(0)} s run (${r.quiet.otherCores.toFixed(2)} cores): ${r.quiet.publishable ? 'quiet, publishable' : 'busy, not publishable'}.` : ''}`,
    '',
  );
  const noise = noiseWarning(r);
  if (noise) lines.push(`**${noise}**`, '');
  const o = r.options;
  lines.push(`Data: ${n0(Number(o['records']))} simulated interval records per topic (Confluent Avro), ${String(o['partitions'])} partitions, no faults.`, '');
  lines.push('| Figure | Value | Conditions |', '| --- | ---: | --- |');
  const e = r.e2e;
  if (e) {
    lines.push(`| **Pipeline, end to end** | **${n0(e.recordsPerS)} records/s** | ${e.workers} workers, ${e.recordsPerMessage} record(s)/message, chDB; ${n1(e.mbPerS)} MB/s, ${n0(e.messagesPerS)} messages/s |`);
    lines.push(`| CPU per million records | ${n2(e.cpuSecondsPerMillion)} s | pipeline process, all threads (${n2(e.coresUsed)} cores busy; broker ${n2(e.brokerCoresUsed ?? 0)}) |`);
    lines.push(`| Peak RSS | ${mib(e.peakRssBytes)} | pipeline process incl. chDB |`);
  }
  const l = r.limits.find((x) => x.recordsPerMessage === e?.recordsPerMessage) ?? r.limits[0];
  if (l) {
    for (const rd of l.kafkaRead) lines.push(`| Kafka read limit (${rd.tool}) | ${n0(rd.recordsPerS)} records/s | consume only, ${n1(rd.mbPerS)} MB/s |`);
    if (l.decode) lines.push(`| Decode limit (1 thread) | ${n0(l.decode.recordsPerS)} records/s | decodeBatch: frame, Avro, validate, ${l.decode.output === 'columns' ? 'columns' : 'TSV'}; ${n1(l.decode.cpuUsPerRecord)} µs/record |`);
    for (const w of l.clickhouseWrite) {
      lines.push(`| ClickHouse write limit (${w.store === 'embedded' ? 'chDB' : 'server'}, ${w.path}) | ${n0(w.rowsPerS)} rows/s | ${n0(w.rowsPerInsert)} rows/insert, ${w.concurrency} in flight${w.pipeline ? "; the pipeline's path" : ''} |`);
    }
  }
  if (r.headline) {
    const h = r.headline;
    lines.push(`| **Pipeline / min(read, write)** | **${n2(h.ratio)}** | the issue's ratio: best Kafka read limit (${n0(h.kafkaReadLimit)}) and ClickHouse write limit (${n0(h.clickhouseWriteLimit)}); bound: ${h.boundBy} |`);
    lines.push(`| Pipeline / slowest stage it runs | ${n2(h.ratioToSlowestStage)} | slowest: ${h.slowestStage} |`);
  }
  if (r.peer) {
    lines.push(`| ClickHouse Kafka engine (peer) | ${n0(r.peer.recordsPerS)} records/s | same topic; AvroConfluent, MV to SummingMergeTree |`);
    if (e) lines.push(`| Pipeline / peer | ${n2(e.recordsPerS / r.peer.recordsPerS)} | |`);
  }
  if (r.latency) {
    const x = r.latency;
    lines.push(`| Latency p50 / p99 | ${n0(x.p50Ms)} / ${n0(x.p99Ms)} ms | produce to queryable at ${n0(x.offeredRecordsPerS)} records/s (${Math.round(x.loadShare * 100)}% of max), polled every ${x.pollMs} ms |`);
  }
  if (r.memory) {
    lines.push(`| Peak RSS, ${n0(r.memory.sessions)} active sessions | ${mib(r.memory.peakRssBytes)} | ${n0(r.memory.records)} records; ${mib(r.memory.afterReadRssBytes)} after reading every session back |`);
  }
  for (const s of r.server) lines.push(`| Pipeline, ClickHouse server | ${n0(s.recordsPerS)} records/s | ${s.workers} workers, ${s.recordsPerMessage} record(s)/message, over HTTP |`);
  const rec = reconcileFirstRun(r);
  if (rec) lines.push(`| Reconcile, first run | ${n0(rec.sessionsPerS)} sessions/s (${rec.seconds} s) | ${n0(rec.sessions)} sessions, every billing record created, chDB; bench/reconcile-bench.ts (run ${rec.date}) |`);
  lines.push('');
  if (r.scaling.length > 1) {
    const workers = [...new Set(r.scaling.map((s) => s.workers))].sort((a, b) => a - b);
    const rpms = [...new Set(r.scaling.map((s) => s.recordsPerMessage))].sort((a, b) => a - b);
    lines.push('Scaling (records/s end to end):', '');
    lines.push(`| records/message | ${workers.map((w) => `${w} worker${w > 1 ? 's' : ''}`).join(' | ')} | read limit | decode limit (1 thread) | write limit |`);
    lines.push(`| ---: | ${workers.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`);
    for (const rpm of rpms) {
      const cells = workers.map((w) => {
        const s = r.scaling.find((x) => x.recordsPerMessage === rpm && x.workers === w);
        return s ? n0(s.recordsPerS) : '';
      });
      const lim = r.limits.find((x) => x.recordsPerMessage === rpm);
      lines.push(`| ${rpm} | ${cells.join(' | ')} | ${lim ? n0(bestRead(lim)) : ''} | ${lim?.decode ? n0(lim.decode.recordsPerS) : ''} | ${lim ? n0(bestWrite(lim)) : ''} |`);
    }
    lines.push('');
  }
  lines.push(...peerExactness(r));
  if (r.targets.length > 0) {
    lines.push('Targets:', '');
    lines.push('| Target | Goal | Measured | Met |', '| --- | --- | --- | --- |');
    for (const t of r.targets) lines.push(`| ${t.name} | ${t.target} | ${t.value} | ${t.met ? 'yes' : '**no**'} |`);
    lines.push('');
    const said = new Map<string, string>();
    for (const t of r.targets) {
      if (!t.analysis) continue;
      const first = said.get(t.analysis);
      lines.push(first ? `- ${t.name}: as for ${first}.` : `- ${t.name}: ${t.analysis}`);
      if (!first) said.set(t.analysis, t.name);
    }
    if (r.targets.some((t) => t.analysis)) lines.push('');
  }
  if (r.profile) {
    lines.push(`Profile (${r.profile.label}), top self time per thread:`, '');
    for (const th of r.profile.threads) {
      const share = r.profile.windowMs ? ` = ${Math.round((th.totalMs / r.profile.windowMs) * 100)}% of the window` : '';
      lines.push(`- ${th.thread} (${n0(th.totalMs)} ms busy${share}): ${th.top.slice(0, 8).map((f) => `\`${f.fn}\` ${f.selfPct}%${f.where ? ` (${f.where})` : ''}`).join(', ')}`);
    }
    lines.push('');
  }
  if (r.errors.length > 0) {
    lines.push('Errors in this run:', '');
    for (const err of r.errors) lines.push(`- ${err.split('\n')[0] ?? ''}`);
    lines.push('');
  }
  lines.push(`Reproduce: \`npm run bench -- --records ${String(o['records'])} --partitions ${String(o['partitions'])}\` (see bench/README.md). Full JSON: bench/results/${r.runId}.json.`, '');
  return lines.join('\n');
}
