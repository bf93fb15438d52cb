/**
 * The checker scenario, the checker's own check: a double delivery read without deduplication must
 * fail, an unreachable store must read 'unverified'.
 */
import { join } from 'node:path';
import { checkTruth } from '../../sim/truth.js';
import { IngestProcess } from '../ingest-process.js';
import { drainTimeoutMs, prepare, startChild, cleanup, withStore, embeddedOptions, prepareStore, verify, result } from './kit.js';
import type { ChaosContext, Check, ScenarioResult } from './types.js';

/**
 * The checker's own check. One store receives everything twice (two consumer groups, as a
 * redelivery of the whole stream would): read with deduplication it must pass; read without, it
 * must fail and name the double count; an unreachable store must read 'unverified'.
 */
export async function checkerScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const records = Math.min(ctx.records, 50_000);
  const p = await prepare(ctx, 'checker', ctx.brokers, {}, records);
  try {
    const store = embeddedOptions(p);
    await prepareStore(store);
    const total = p.feed.messages;
    const a = startChild(p, { untilIdleMs: 3_000 });
    const aExit = await a.wait(drainTimeoutMs(total), 'first delivery');
    const again = IngestProcess.start({ brokers: p.brokers, group: `${p.group}-again`, configFile: p.configFile, logFile: p.logFile, dataDir: join(p.dir, 'chdb'), untilIdleMs: 3_000 });
    p.children.push(again);
    const bExit = await again.wait(drainTimeoutMs(total), 'second delivery');
    const checks: Check[] = [{ name: 'both deliveries drained', ok: aExit.code === 0 && bExit.code === 0, detail: `${JSON.stringify(aExit)} ${JSON.stringify(bExit)}` }];
    const [withAggregates, withDedup, rawDedup, noDedup] = await withStore(store, async (s) => [
      await checkTruth(s, p.feed.truths, { source: 'aggregates' }),
      await checkTruth(s, p.feed.truths, { source: 'views' }),
      await checkTruth(s, p.feed.truths, { source: 'raw-dedup' }),
      await checkTruth(s, p.feed.truths, { source: 'raw-no-dedup' }),
    ]);
    checks.push({
      name: 'double delivery read with deduplication passes',
      ok: withAggregates.status === 'pass' && withDedup.status === 'pass' && rawDedup.status === 'pass',
      detail: `aggregates ${withAggregates.status}, views ${withDedup.status}, raw-dedup ${rawDedup.status}`,
    });
    checks.push({
      name: 'double delivery read without deduplication fails',
      ok: noDedup.status === 'fail' && noDedup.doubleCounted.wh >= noDedup.expected.wh,
      detail: `${noDedup.status}: ${noDedup.doubleCounted.wh} Wh and ${noDedup.doubleCounted.records} intervals double counted (truth ${noDedup.expected.wh} Wh)`,
    });
    const unreachable = await withStore({ kind: 'http', url: 'http://127.0.0.1:9', username: 'default', password: '', database: 'pevmeter', requestTimeoutMs: 2_000 }, (s) => checkTruth(s, p.feed.truths));
    checks.push({ name: 'an unreachable store reads unverified', ok: unreachable.status === 'unverified', detail: `${unreachable.status}: ${unreachable.error ?? ''}` });
    const missing = await withStore({ ...store, database: 'no_such_database' }, (s) => checkTruth(s, p.feed.truths));
    checks.push({ name: 'a store without the tables reads unverified', ok: missing.status === 'unverified', detail: `${missing.status}: ${(missing.error ?? '').slice(0, 120)}` });
    // The group-level offsets: the second group must have drained too.
    const v = await verify(p, store, 'aggregates');
    return result(p, v, {
      faults: ['every record delivered twice (two groups into one store)', 'dedup switched off in the reader', 'checker pointed at an unreachable store'],
      recoveryMs: null,
      recoveryNote: 'n/a',
      checks,
      started,
      details: { noDedup: { doubleCounted: noDedup.doubleCounted, mismatchedSessions: noDedup.mismatchedSessions, mismatchedMinutes: noDedup.mismatchedMinutes } },
    });
  } finally {
    await cleanup(ctx, p);
  }
}
