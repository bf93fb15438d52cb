/** The scale scenario: consumer group 1 -> 2 -> 1 under load (HTTP store shared by both); redelivery counted. */
import { drainTimeoutMs, type Prepared, setup, fed, heldFeed, startChild, cleanup, waitCommitted, httpOptions, prepareStore, verify, result } from './kit.js';
import type { ChaosContext, Check, ScenarioResult } from './types.js';

export async function scaleScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const ch = await ctx.clickhouse();
  const s = await setup(ctx, 'scale', ctx.brokers, { consumeBatch: 5_000 });
  // A third is a backlog; the rest arrives while the group changes shape, paced so that the
  // second change still happens under load.
  const feed0 = heldFeed(ctx, s, 0.35, 12_000);
  try {
    await feed0.holding;
    const admin = httpOptions(ch, s.database);
    await prepareStore(admin);
    const checks: Check[] = [];
    const http = { clickhouseUrl: ch.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: s.database };
    const first = startChild(s, http);
    const at1 = await waitCommitted(s, Math.floor(feed0.backlog * 0.4), { timeoutMs: drainTimeoutMs(feed0.backlog), child: first, what: 'progress with one consumer' });
    const second = startChild(s, http);
    feed0.release();
    const joinedAt = Date.now();
    await waitCommitted(s, at1 + 1, { timeoutMs: 120_000, child: second, what: 'progress after the second consumer joined' });
    const joinRecovery = Date.now() - joinedAt;
    // The leave comes while the paced feed is still producing: about 30 % into the rest of the data.
    const at2 = await waitCommitted(s, Math.floor(feed0.backlog + (ctx.records - feed0.backlog) * 0.3), { timeoutMs: drainTimeoutMs(ctx.records), child: second, what: 'progress with two consumers' });
    const leftAt = Date.now();
    first.kill('SIGTERM');
    const firstExit = await first.wait(60_000, 'first consumer leaving');
    const leaveMs = Date.now() - leftAt;
    await waitCommitted(s, at2 + 1, { timeoutMs: 120_000, child: second, what: 'progress after the first consumer left' });
    const leaveRecovery = Date.now() - leftAt;
    const feed = await feed0.feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const total = feed.messages;
    checks.push({ name: 'the first consumer left while data was still arriving', ok: at2 + 1 < total, detail: `left at ${at2} of ${total} messages committed` });
    await waitCommitted(p, total, { timeoutMs: drainTimeoutMs(total), child: second, what: 'drain with one consumer' });
    second.kill('SIGTERM');
    const secondExit = await second.wait(60_000, 'second consumer stopping');
    checks.push({ name: 'the consumer that left exited 0 within 30 s', ok: firstExit.code === 0 && leaveMs <= 30_000, detail: `exit ${firstExit.code} after ${leaveMs} ms` });
    checks.push({ name: 'the remaining consumer drained and exited 0', ok: secondExit.code === 0, detail: `exit ${JSON.stringify(secondExit)}` });
    const v = await verify(p, admin, 'raw-dedup');
    return result(p, v, {
      faults: [`second consumer joined at ${at1} messages committed (1 -> 2)`, `first consumer left at ${at2} of ${total} (2 -> 1, SIGTERM)`],
      recoveryMs: Math.max(joinRecovery, leaveRecovery),
      recoveryNote: 'membership change to the first new commit, worst of join and leave',
      checks,
      started,
      details: { joinRecoveryMs: joinRecovery, leaveRecoveryMs: leaveRecovery, leaveMs },
    });
  } finally {
    feed0.stop();
    await feed0.feeding.catch(() => undefined);
    await cleanup(ctx, s);
  }
}
