/**
 * The rejected scenario: make the store refuse writes for good mid-load (table gone, user
 * read-only, password changed); the service halts with exit code 2 and never commits past the
 * rejected unit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkOffsets } from '../../sim/truth.js';
import { tail } from '../ingest-process.js';
import { usersXmlOf, type ClickhouseControl } from '../services.js';
import { drainTimeoutMs, type Prepared, setup, fed, heldFeed, startChild, cleanup, waitCommitted, withStore, httpOptions, prepareStore, verify, result, claims } from './kit.js';
import type { ChaosContext, Check, ScenarioResult } from './types.js';

type Rejection = 'missing-table' | 'read-only' | 'wrong-password';

export async function rejectedScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const ch = await ctx.clickhouse();
  // Small units, and a feed paced at most 12,000 messages ahead of the commits, so data is still
  // flowing when each fault comes however fast the pipeline is: a unit has to hit it.
  const p = await setup(ctx, 'rejected', ctx.brokers, { requestTimeoutMs: 10_000, consumeBatch: 2_000 });
  const feed0 = heldFeed(ctx, p, 0.1, 12_000);
  const usersXml = usersXmlOf(ch.httpPort);
  const original = readFileSync(usersXml, 'utf8');
  const restoreUsers = async () => {
    writeFileSync(usersXml, original);
    await waitForLogin(ch, ch.username, ch.password, true);
  };
  try {
    await feed0.holding;
    feed0.release();
    const admin = httpOptions(ch, p.database, 'default');
    // 2,000-message units make about 600 inserts per million records: merges stay on (the
    // redelivered count is then a lower bound; this scenario is about commits, not redelivery).
    await prepareStore(admin, 'keep');
    // Round targets from the records asked for; the exact message count is known when the feed ends.
    const total = ctx.records;
    const checks: Check[] = [];
    const faults: string[] = [];
    const rounds: Record<string, unknown>[] = [];
    const kinds: Rejection[] = ['missing-table', 'read-only', 'wrong-password'];
    for (const [i, kind] of kinds.entries()) {
      const child = startChild(p, { clickhouseUrl: ch.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: p.database });
      const before = await p.reader.committedTotal(p.tps);
      await waitCommitted(p, Math.min(total, Math.max(before + 1, Math.floor((total * (i + 1)) / 5))), { timeoutMs: drainTimeoutMs(total), child, what: `progress before ${kind}` });
      feed0.gate(false);
      const injectedAt = Date.now();
      if (kind === 'missing-table') {
        await withStore(admin, (s) => s.client.command({ query: `RENAME TABLE ${p.database}.interval_raw TO ${p.database}.interval_raw_hidden` }));
      } else {
        const edited = kind === 'read-only'
          ? original.replace(new RegExp(`(<${ch.username}>[\\s\\S]*?<profile>)default(</profile>)`), '$1readonly$2')
          : original.replace(new RegExp(`(<${ch.username}>[\\s\\S]*?<password>)[^<]*(</password>)`), '$1not-the-password$2');
        if (edited === original) throw new Error(`rejected: could not edit ${usersXml} for ${kind}`);
        writeFileSync(usersXml, edited);
        await waitForLogin(ch, ch.username, ch.password, kind === 'read-only' ? 'readonly' : false);
      }
      faults.push(`store refuses writes: ${kind}`);
      feed0.gate(true);
      const exit = await child.wait(120_000, `ingest after ${kind}`);
      const haltMs = Date.now() - injectedAt;
      const committed = await p.reader.committed(p.tps);
      // Undo the fault, then look: every committed offset must be backed by stored rows.
      if (kind === 'missing-table') await withStore(admin, (s) => s.client.command({ query: `RENAME TABLE ${p.database}.interval_raw_hidden TO ${p.database}.interval_raw` }));
      else await restoreUsers();
      const coverage = await withStore(admin, (s) => checkOffsets(s, claims(p, feed0.copies, committed)));
      let committedTotal = 0;
      for (const v of committed.values()) committedTotal += Math.max(0, v);
      const log = tail(p.logFile, 200);
      const halted = /ingest halted/.test(log);
      rounds.push({ kind, exit, haltMs, committed: committedTotal, coverage: coverage.status, uncovered: coverage.uncovered, haltLogged: halted });
      checks.push({ name: `${kind}: the service halts with exit code 2`, ok: exit.code === 2, detail: `exit ${JSON.stringify(exit)} ${haltMs} ms after the fault` });
      checks.push({ name: `${kind}: nothing committed past the rejected unit`, ok: coverage.status === 'pass', detail: `${coverage.uncovered} committed offsets without rows${coverage.error ? `; ${coverage.error}` : ''}` });
      ctx.log(`[rejected] ${kind}: exit ${exit.code} after ${haltMs} ms; committed ${committedTotal}; coverage ${coverage.status}`);
    }
    const fixedAt = Date.now();
    const last = startChild(p, { clickhouseUrl: ch.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: p.database, untilIdleMs: 4_000 });
    const feed = await feed0.feeding;
    fed(ctx, p, feed);
    const exit = await last.wait(drainTimeoutMs(feed.messages), 'final ingest run');
    checks.push({ name: 'after the fix, a restart drains and exits 0', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const fedAll: Prepared = { ...p, feed };
    const v = await verify(fedAll, admin, 'raw-dedup');
    return result(fedAll, v, { faults, recoveryMs: Date.now() - fixedAt, recoveryNote: 'restart after the operator fix to drained (includes the 4 s idle exit)', checks, started, details: { rounds } });
  } finally {
    writeFileSync(usersXml, original);
    feed0.stop();
    await feed0.feeding.catch(() => undefined);
    await cleanup(ctx, p);
  }
}

/**
 * Waits until the server applies an edited users.xml (it rereads it every few seconds): logging in
 * works (`true`), fails (`false`), or works read-only (`'readonly'`).
 */
async function waitForLogin(ch: ClickhouseControl, username: string, password: string, want: boolean | 'readonly'): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let state: boolean | 'readonly' = false;
    try {
      // POST: ClickHouse runs every GET request read-only, which would hide what is being waited for.
      const res = await fetch(`${ch.url}/`, {
        method: 'POST',
        body: "SELECT value FROM system.settings WHERE name = 'readonly'",
        headers: { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
        signal: AbortSignal.timeout(3_000),
      });
      if (res.ok) state = (await res.text()).trim() === '0' ? true : 'readonly';
    } catch {
      state = false;
    }
    if (state === want) return;
    if (Date.now() > deadline) throw new Error(`users.xml change not applied within 30 s (login state ${String(state)}, wanted ${String(want)})`);
    await sleep(250);
  }
}
