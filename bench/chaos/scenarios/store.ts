/**
 * The store scenario: stop the ClickHouse server (18.16, HTTP) for a while; partitions pause,
 * memory stays bounded, no offset passes durable data, lag returns to zero.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { checkOffsets } from '../../sim/truth.js';
import { scrapeMetrics } from '../ingest-process.js';
import { TcpProxy } from '../proxy.js';
import { freePort } from '../services.js';
import { drainTimeoutMs, type Prepared, setup, fed, heldFeed, startChild, cleanup, waitCommitted, withStore, httpOptions, prepareStore, verify, result, claims } from './kit.js';
import type { ChaosContext, Check, ScenarioResult } from './types.js';

export async function storeScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const ch = await ctx.clickhouse();
  // Units of 5,000 messages, so several are in flight when the server goes.
  const s = await setup(ctx, 'store', ctx.brokers, { retryMaxMs: 2_000, requestTimeoutMs: 10_000, consumeBatch: 5_000 });
  const proxy = await TcpProxy.start(ch.httpPort);
  // Half the data is a backlog; the other half is produced while the server is down, so the
  // consumer has to hold back new data it cannot store.
  const feed0 = heldFeed(ctx, s, 0.5);
  const { backlog, feeding } = feed0;
  try {
    await feed0.holding;
    const direct = httpOptions(ch, s.database);
    await prepareStore(direct);
    const checks: Check[] = [];
    const metricsPort = await freePort();
    const child = startChild(s, { clickhouseUrl: proxy.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: s.database, untilIdleMs: 8_000, httpPort: metricsPort, rssEveryMs: 200 });
    const atStop = await waitCommitted(s, Math.floor(backlog * 0.3), { timeoutMs: drainTimeoutMs(backlog), child, what: 'progress before the server stops' });
    const rssBefore = child.rssPeakKb;
    const stopAt = Date.now();
    await ch.stop();
    feed0.release();
    ctx.log(`[store] ClickHouse server stopped at ${atStop} committed; down for ${ctx.storeDownMs} ms while the rest of the data arrives`);
    // While it is down: what the group commits, whether consumption pauses, and memory.
    const committedDuring = new Map<string, number>();
    let pausedSeen = false;
    let maxInflight = 0;
    let retries = 0;
    const outageSamples: [number, number][] = [];
    while (Date.now() - stopAt < ctx.storeDownMs) {
      try {
        for (const [k, v] of await s.reader.committed(s.tps, 5_000)) committedDuring.set(k, Math.max(committedDuring.get(k) ?? -1, v));
      } catch {
        // a slow answer: the next round asks again
      }
      const m = await scrapeMetrics(metricsPort);
      if (m) {
        if (m.get('pevmeter_paused') === 1) pausedSeen = true;
        maxInflight = Math.max(maxInflight, m.get('pevmeter_inflight_units') ?? 0);
        retries = Math.max(retries, m.get('pevmeter_store_retries_total') ?? 0);
      }
      const last = child.rssSamples[child.rssSamples.length - 1];
      if (last) outageSamples.push(last);
      await sleep(500);
    }
    const aliveDuringOutage = child.running;
    const feed = await feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const total = feed.messages;
    // Bring the server back where only this runner can see it, and compare what the group
    // committed during the outage with what the server holds.
    proxy.block();
    await ch.start();
    const snapshot = await withStore(direct, (st) => checkOffsets(st, claims(p, p.feed.copies, committedDuring)));
    let committedAtOutage = 0;
    for (const v of committedDuring.values()) committedAtOutage += Math.max(0, v);
    proxy.unblock();
    const upAt = Date.now();
    ctx.log(`[store] server back; offsets committed during the outage: ${committedAtOutage}, backed by stored rows: ${snapshot.status}`);
    await waitCommitted(p, total, { timeoutMs: drainTimeoutMs(total), child, what: 'lag back to zero after the outage' });
    const recoveryMs = Date.now() - upAt;
    const exit = await child.wait(drainTimeoutMs(total), 'ingest after the outage');
    const outagePeakKb = Math.max(0, ...outageSamples.map(([, kb]) => kb));
    checks.push({ name: 'the ingest waited the outage out', ok: aliveDuringOutage, detail: aliveDuringOutage ? 'kept running' : `exited ${JSON.stringify(child.exitInfo)}` });
    checks.push({ name: 'consumption paused during the outage', ok: pausedSeen && maxInflight <= 3, detail: `pevmeter_paused seen 1: ${pausedSeen}; inflight units at most ${maxInflight} (limit 3); store retries ${retries}` });
    checks.push({ name: 'no offset committed past durable data during the outage', ok: snapshot.status === 'pass', detail: `${snapshot.uncovered} offsets committed without rows${snapshot.error ? `; ${snapshot.error}` : ''}` });
    checks.push({ name: 'memory bounded during the outage', ok: outagePeakKb > 0 && outagePeakKb <= Math.max(rssBefore * 1.5, rssBefore + 262_144), detail: `RSS peak ${Math.round(rssBefore / 1024)} MiB before, ${Math.round(outagePeakKb / 1024)} MiB during` });
    checks.push({ name: 'lag back to zero and a clean exit', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const v = await verify(p, direct, 'raw-dedup');
    return result(p, v, {
      faults: [`ClickHouse server stopped for ${ctx.storeDownMs} ms at ${atStop} of ${total} messages committed, with ${total - backlog} more arriving meanwhile`],
      recoveryMs,
      recoveryNote: 'server reachable again to consumer lag zero (every partition committed to its high watermark)',
      checks,
      started,
      details: { committedAtStop: atStop, committedAtOutage, rssBeforeKb: rssBefore, rssOutagePeakKb: outagePeakKb, maxInflight, storeRetries: retries, outageRss: outageSamples },
    });
  } finally {
    feed0.release();
    await feeding.catch(() => undefined);
    await proxy.close();
    await cleanup(ctx, s);
  }
}
