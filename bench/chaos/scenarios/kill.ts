/**
 * The kill scenario: SIGKILL the ingest N times at seeded random points of the load, restart on the
 * same data and group; counts the kills that caught rows inserted but not yet committed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { toInt } from '../../../aggregate/store/values.js';
import type { Store } from '../../../aggregate/store/types.js';
import { checkOffsets } from '../../sim/truth.js';
import { Rng } from '../../sim/random.js';
import type { ExitInfo } from '../ingest-process.js';
import { OffsetReader, feedFleet, tpKey, type TopicPartition } from '../kafka.js';
import { fleetFor, drainTimeoutMs, type Prepared, setup, fed, startChild, cleanup, waitCommitted, withStore, embeddedOptions, prepareStore, verify, result } from './kit.js';
import type { ChaosContext, Check, ScenarioResult } from './types.js';

export async function killScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  // Small units (2,000 messages), so kills fall at many different points of the commit cycle.
  const s = await setup(ctx, 'kill', ctx.brokers, { consumeBatch: 2_000 });
  // The feed keeps at most WINDOW messages ahead of the group's commits: data keeps arriving for
  // as long as the kills go on, whatever the machine's speed, so every kill lands under load.
  const WINDOW = 12_000;
  const pacer = await OffsetReader.open(s.brokers, s.group);
  const copies = new Map<string, Set<number>>();
  let stopped = false;
  let onReady = (): void => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  ctx.log(`[kill] feeding ~${ctx.records.toLocaleString('en-US')} records to ${s.base}.*, at most ${WINDOW} messages ahead of the commits`);
  const feeding = feedFleet({
    brokers: s.brokers,
    topics: s.topics,
    fleet: fleetFor(ctx.records, `${ctx.seed}-kill`),
    copies,
    pace: async (produced) => {
      if (produced >= WINDOW) onReady();
      while (!stopped) {
        let committed: number;
        try {
          committed = await pacer.committedTotal(s.tps, 5_000);
        } catch {
          return;
        }
        if (produced - committed <= WINDOW) return;
        await sleep(50);
      }
    },
  });
  feeding.catch(() => undefined);
  try {
    await Promise.race([ready, feeding]);
    const store = embeddedOptions(s);
    await prepareStore(store);
    const rng = new Rng(`${ctx.seed}-kill-points`);
    // Kill points in messages committed, evenly spread over 90% of the records asked for, each
    // jittered by a third of the spacing, then a random extra delay so a kill does not always come
    // right after a commit.
    const spacing = (0.9 * ctx.records) / (ctx.kills + 1);
    const points = Array.from({ length: ctx.kills }, (_, k) => Math.floor((k + 1) * spacing + rng.range(-spacing / 3, spacing / 3)));
    const faults: string[] = [];
    const kills: Record<string, unknown>[] = [];
    const checks: Check[] = [];
    const recoveries: number[] = [];
    let betweenInsertAndCommit = 0;
    let coverageFailures = 0;
    const longWait = drainTimeoutMs(ctx.records);
    let hookedKills = 0;
    let hookedBetween = 0;
    for (let k = 0; k < points.length; k++) {
      // Every third kill is the process's own, through the fault-run hook: right after unit N is
      // durable and before its commit, the point an outside kill only hits by chance.
      const crashAfter = k % 3 === 2 ? rng.int(2, 5) : 0;
      const child = startChild(s, crashAfter > 0 ? { env: { PEVMETER_TEST_CRASH_AFTER_INSERT: String(crashAfter) } } : {});
      const before = await s.reader.committedTotal(s.tps);
      let exit: ExitInfo;
      if (crashAfter > 0) {
        // Should the data run out before unit N, the kill comes from outside after all.
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        exit = await child.exited;
        clearTimeout(timer);
      } else {
        // Recovery: from the restart to the first commit beyond what the killed process left.
        await waitCommitted(s, before + 1, { timeoutMs: longWait, child, what: `kill ${k + 1}: first commit after restart` });
        if (k > 0) recoveries.push(Date.now() - child.startedAt);
        await waitCommitted(s, Math.max(before + 1, points[k]!), { timeoutMs: longWait, child, what: `kill ${k + 1}: progress to ${points[k]!} committed` });
        await sleep(rng.int(0, 300));
        child.kill('SIGKILL');
        exit = await child.exited;
      }
      const committed = await s.reader.committed(s.tps);
      // Every message below a committed offset was produced and acknowledged long ago, so its
      // copy status is known by now.
      const claimsNow = s.tps.map((tp) => ({ ...tp, committed: committed.get(tpKey(tp.topic, tp.partition)) ?? -1, copies: copies.get(tpKey(tp.topic, tp.partition)) ?? new Set<number>() }));
      const inspect = await withStore(store, async (st) => ({
        beyond: await rowsBeyondCommit(st, committed, s.tps),
        coverage: await checkOffsets(st, claimsNow),
      }));
      let committedTotal = 0;
      for (const v of committed.values()) committedTotal += Math.max(0, v);
      if (inspect.beyond > 0) betweenInsertAndCommit++;
      if (crashAfter > 0) {
        hookedKills++;
        if (inspect.beyond > 0) hookedBetween++;
      }
      if (inspect.coverage.status !== 'pass') coverageFailures++;
      faults.push(`SIGKILL ${k + 1}${crashAfter > 0 ? ` (self, after unit ${crashAfter} was inserted)` : ''} at ${committedTotal} messages committed${inspect.beyond > 0 ? `, ${inspect.beyond} rows inserted but not committed` : ''}`);
      kills.push({ kill: k + 1, hook: crashAfter > 0 ? `after insert of unit ${crashAfter}` : null, signal: exit.signal, aliveMs: exit.ms, committed: committedTotal, rowsInsertedNotCommitted: inspect.beyond, offsetsWithoutRows: inspect.coverage.uncovered });
      ctx.log(`[kill] ${faults[faults.length - 1]!}`);
    }
    const last = startChild(s, { untilIdleMs: 4_000 });
    const before = await s.reader.committedTotal(s.tps);
    await waitCommitted(s, before + 1, { timeoutMs: longWait, child: last, what: 'final run: first commit' });
    recoveries.push(Date.now() - last.startedAt);
    const feed = await feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const exit = await last.wait(drainTimeoutMs(feed.messages), 'final ingest run');
    let uncoveredAtKills = 0;
    for (const kInfo of kills) uncoveredAtKills += Number(kInfo['offsetsWithoutRows'] ?? 0);
    checks.push({ name: 'every kill was a SIGKILL under load', ok: kills.every((x) => x['signal'] === 'SIGKILL') && kills.every((x) => Number(x['committed']) < feed.messages), detail: `${kills.length} kills, all before the last message was committed` });
    checks.push({ name: 'committed offsets were backed by stored rows after every kill', ok: coverageFailures === 0, detail: `${coverageFailures} kills left committed offsets without rows (${uncoveredAtKills} offsets in all)` });
    checks.push({
      name: 'kills landed between an insert and its commit',
      ok: betweenInsertAndCommit > 0 && hookedBetween === hookedKills,
      detail: `${betweenInsertAndCommit} of ${kills.length} kills left rows inserted but not committed (${hookedBetween} of the ${hookedKills} made there on purpose)`,
    });
    checks.push({ name: 'final run drained and exited 0', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const v = await verify(p, store, 'aggregates');
    return result(p, v, {
      faults,
      recoveryMs: recoveries.length > 0 ? Math.max(...recoveries) : null,
      recoveryNote: 'restart of the killed process to its first new commit (process start, store open, group rebalance after the session timeout), worst of all kills',
      checks,
      started,
      details: { kills, betweenInsertAndCommit, hookedKills, recoveriesMs: recoveries },
    });
  } finally {
    stopped = true;
    await feeding.catch(() => undefined);
    await pacer.close();
    await cleanup(ctx, s);
  }
}

/** Rows stored at or beyond each partition's committed offset: written, not yet committed. */
async function rowsBeyondCommit(store: Store, committed: Map<string, number>, tps: readonly TopicPartition[]): Promise<number> {
  let rows = 0;
  for (const tp of tps) {
    const from = Math.max(0, committed.get(tpKey(tp.topic, tp.partition)) ?? -1);
    for (const t of ['interval_raw', 'session_event_raw', 'vehicle_report_raw', 'enrollment', 'dead_letter']) {
      const [r] = await store.select<{ n: unknown }>(
        `SELECT count() AS n FROM {db}.${t} WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset >= {from:UInt64}`,
        { topic: tp.topic, partition: tp.partition, from },
      );
      rows += toInt(r?.n);
    }
  }
  return rows;
}
