/**
 * The pipeline under test, in a child process: the real `runIngestService` with the real consumer,
 * worker pool and store, configured by flags. The harness watches its /metrics endpoint and stops
 * it once every row is written; afterwards the child verifies the rows and reports what it sampled.
 *
 * The latency poller (job.pollMs) lives here because chDB is in-process: a reader elsewhere could
 * not open the same folder. It costs the pipeline one small query per poll, counted in its CPU.
 */
import { loadConfig } from '../../schemas/config.js';
import { createLogger } from '../../ingest/log.js';
import { storeOptionsOf } from '../../aggregate/store/connect.js';
import { runIngestService } from '../../ingest/service.js';
import { openStore } from '../../aggregate/store/index.js';
import type { Store } from '../../aggregate/store/types.js';
import type { PipelineJob } from './protocol.js';
import { startSampler } from './sampler.js';
import type { PipelineChildResult, VisibilityObservation } from './types.js';

type Emit = (name: string, data: Record<string, unknown>) => void;

/**
 * Polls for data parts of interval_raw it has not seen, and records which Kafka offsets each new
 * part made queryable, stamped with the time the poll started. Parts are immutable: a part seen
 * once is never read again; a merged part covers offsets already seen, and the harness keeps the
 * earliest time per offset, so merges do not blur the figures.
 */
class VisibilityPoller {
  readonly observations: VisibilityObservation[] = [];
  private seen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  /**
   * Offsets already seen, per partition, as sorted disjoint ranges. Below the end of the first
   * range (from offset 0, topics are fresh) everything was seen, so a merged part is read only
   * above that floor: big merged parts cost a scan of one column, and only their few recent
   * offsets are listed. (Without the floor, the 20-second latency run's poller listed up to half a
   * million offsets again from merged parts, on the pipeline's own main thread.)
   */
  private readonly covered = new Map<number, [number, number][]>();

  /**
   * `onPoll` (streaming, the soak): each poll's observations go there instead of `observations`,
   * and names of parts no longer active are forgotten, so nothing grows with the length of the run.
   */
  constructor(
    private readonly store: Store,
    private readonly everyMs: number,
    private readonly onPoll?: (observations: VisibilityObservation[]) => void,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.poll().catch(() => undefined).then(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.everyMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.poll();
  }

  private async poll(): Promise<void> {
    const t = Date.now();
    const streaming = this.onPoll !== undefined;
    const parts = await this.store.select<{ name: string }>(
      "SELECT name FROM system.parts WHERE database = {d:String} AND table = 'interval_raw' AND active",
      { d: this.store.database },
    );
    const fresh = parts.map((p) => p.name).filter((n) => !this.seen.has(n));
    if (streaming) {
      const active = new Set(parts.map((p) => p.name));
      this.seen = new Set([...this.seen].filter((n) => active.has(n)));
    }
    if (fresh.length === 0) return;
    const found: VisibilityObservation[] = [];
    // Only offsets above the partition's floor (all of them seen already).
    const floors: number[] = [];
    for (const [p, r] of this.covered) if (r[0]?.[0] === 0) floors[p] = r[0][1];
    const floorList = Array.from({ length: floors.length }, (_, i) => floors[i] ?? -1);
    const rows = await this.store.select<{ part: string; p: number; lo: string; hi: string; n: string }>(
      'SELECT _part AS part, src_partition AS p, min(src_offset) AS lo, max(src_offset) AS hi, uniqExact(src_offset) AS n ' +
        'FROM {db}.interval_raw WHERE _part IN {parts:Array(String)} ' +
        'AND src_offset > if(src_partition < length({floors:Array(Int64)}), {floors:Array(Int64)}[src_partition + 1], -1) GROUP BY part, p',
      { parts: fresh, floors: floorList },
    );
    for (const r of rows) {
      const lo = Number(r.lo);
      const hi = Number(r.hi);
      if (Number(r.n) === hi - lo + 1) {
        found.push({ t, partition: Number(r.p), ranges: [[lo, hi]] });
        continue;
      }
      // Not contiguous (a merge joined inserts that completed out of order): list the offsets.
      const [detail] = await this.store.select<{ offs: string[] }>(
        'SELECT arraySort(groupUniqArray(src_offset)) AS offs FROM {db}.interval_raw WHERE _part = {part:String} AND src_partition = {p:Int32} AND src_offset >= {lo:Int64}',
        { part: r.part, p: Number(r.p), lo },
      );
      const ranges: [number, number][] = [];
      for (const o of (detail?.offs ?? []).map(Number)) {
        const last = ranges[ranges.length - 1];
        if (last && last[1] === o - 1) last[1] = o;
        else ranges.push([o, o]);
      }
      found.push({ t, partition: Number(r.p), ranges });
    }
    for (const n of fresh) this.seen.add(n);
    for (const o of found) this.cover(o.partition, o.ranges);
    if (streaming) {
      if (found.length > 0) this.onPoll(found);
    } else {
      for (const o of found) this.observations.push(o);
    }
  }

  /** Adds seen ranges to the partition's sorted disjoint list, joining neighbours. */
  private cover(partition: number, ranges: readonly [number, number][]): void {
    const all = [...(this.covered.get(partition) ?? []), ...ranges.map(([a, b]) => [a, b] as [number, number])].sort((x, y) => x[0] - y[0]);
    const out: [number, number][] = [];
    for (const r of all) {
      const last = out[out.length - 1];
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else out.push([r[0], r[1]]);
    }
    this.covered.set(partition, out);
  }
}

/**
 * The soak's view from inside the pipeline process: its RSS, the store's size on disk (active
 * parts of every table of the database: bytes on disk, rows, parts) and the merges running at that
 * moment (how many, their bytes, the longest one's age, the table of the biggest), sent as a
 * 'sample' event.
 */
function startStoreSampler(store: Store, everyMs: number, emit: Emit): NodeJS.Timeout {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const [r] = await store.select<{ b: string; n: string; parts: string }>(
        'SELECT sum(bytes_on_disk) AS b, sum(rows) AS n, count() AS parts FROM system.parts WHERE database = {d:String} AND active',
        { d: store.database },
      );
      const [m] = await store.select<{ merges: string; bytes: string; longest: string; biggest: string }>(
        'SELECT count() AS merges, sum(total_size_bytes_compressed) AS bytes, max(elapsed) AS longest, argMax(table, total_size_bytes_compressed) AS biggest ' +
          'FROM system.merges WHERE database = {d:String}',
        { d: store.database },
      );
      emit('sample', {
        t: Date.now(), rssBytes: process.memoryUsage.rss(), storeBytes: Number(r?.b ?? 0), storeRows: Number(r?.n ?? 0), activeParts: Number(r?.parts ?? 0),
        merges: Number(m?.merges ?? 0), mergeBytes: Number(m?.bytes ?? 0), longestMergeS: Number(m?.longest ?? 0), biggestMergeTable: m?.biggest ?? '',
      });
    } catch {
      // a failed size query leaves one sample out; the next one tries again
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  void tick();
  return timer;
}

export async function runPipelineJob(job: PipelineJob, emit: Emit, onStop: (fn: () => void) => void): Promise<PipelineChildResult> {
  const sampler = startSampler(job.sampleMs);
  const clock = { monoUs: Number(process.hrtime.bigint() / 1000n), epochMs: Date.now() };
  const cfg = loadConfig({ env: {}, flags: job.flags });
  const stop = new AbortController();
  onStop(() => stop.abort());
  let poller: VisibilityPoller | undefined;
  let pollStore: Store | undefined;
  let sampleTimer: NodeJS.Timeout | undefined;
  const started: Promise<void>[] = [];
  const summary = await runIngestService(cfg, {
    idleExitMs: job.idleExitMs,
    stop: stop.signal,
    log: createLogger('warn'),
    onReady: ({ port }) => {
      emit('ready', { port: port ?? 0 });
      if (job.pollMs !== undefined) {
        const everyMs = job.pollMs;
        started.push(
          openStore(storeOptionsOf(cfg)).then((s) => {
            pollStore = s;
            const stream = job.stream;
            poller = new VisibilityPoller(s, everyMs, stream ? (obs) => emit('visibility', { observations: obs }) : undefined);
            poller.start();
            if (stream) sampleTimer = startStoreSampler(s, stream.sampleEveryMs, emit);
          }),
        );
      }
    },
  });
  // The pipeline's own peak, before the verification queries below add theirs.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  await Promise.all(started);
  if (sampleTimer) clearInterval(sampleTimer);
  await poller?.stop();
  await pollStore?.close();

  const store = await openStore(storeOptionsOf(cfg));
  let result: PipelineChildResult;
  try {
    const [raw] = await store.select<{ n: string; lo: string; hi: string; s: string }>(
      'SELECT count() AS n, min(ingested_ms) AS lo, max(ingested_ms) AS hi, uniqExact(session_id) AS s FROM {db}.interval_raw',
    );
    const [dead] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.dead_letter');
    const [version] = await store.select<{ v: string }>('SELECT version() AS v');
    let afterReadRssBytes: number | undefined;
    let readSeconds: number | undefined;
    if (job.readBack) {
      const t0 = performance.now();
      await store.select('SELECT count() AS sessions, sum(energy_wh) AS wh, sum(intervals_seen) AS intervals FROM {db}.session_rollup');
      await store.select('SELECT count() AS minutes, sum(energy_wh) AS wh, max(running_wh) AS top FROM {db}.session_minute');
      readSeconds = (performance.now() - t0) / 1000;
      afterReadRssBytes = process.resourceUsage().maxRSS * 1024;
    }
    const ru = process.resourceUsage();
    result = {
      summary: {
        units: summary.units, committedUnits: summary.committedUnits, messages: summary.messages, records: summary.records,
        deadLetters: summary.deadLetters, exitCode: summary.exitCode,
      },
      firstUnitMs: Number(raw?.lo ?? 0),
      lastUnitMs: Number(raw?.hi ?? 0),
      intervalRows: Number(raw?.n ?? 0),
      deadLetterRows: Number(dead?.n ?? 0),
      distinctSessions: Number(raw?.s ?? 0),
      samples: sampler.stop(),
      peakRssBytes,
      cpuTotalSeconds: (ru.userCPUTime + ru.systemCPUTime) / 1e6,
      clickhouseVersion: version?.v ?? '',
      clock,
    };
    if (poller) result.visibility = poller.observations;
    if (afterReadRssBytes !== undefined) result.afterReadRssBytes = afterReadRssBytes;
    if (readSeconds !== undefined) result.readSeconds = readSeconds;
  } finally {
    await store.close();
  }
  return result;
}
