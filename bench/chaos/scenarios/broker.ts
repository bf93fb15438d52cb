/**
 * The broker scenario: stop a private broker mid-load, start it again; the consumer reconnects, and
 * a SIGTERM after the restart drains and exits in time.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { scrapeMetrics, type IngestProcess } from '../ingest-process.js';
import { freePort } from '../services.js';
import { drainTimeoutMs, type Prepared, setup, fed, heldFeed, startChild, cleanup, waitCommitted, embeddedOptions, prepareStore, verify, result } from './kit.js';
import type { ChaosContext, Check, ScenarioResult } from './types.js';

export async function brokerScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const broker = await ctx.privateBroker();
  await broker.start();
  const s = await setup(ctx, 'broker', broker.brokers, { consumeBatch: 5_000, rdkafka: { 'reconnect.backoff.max.ms': 2_000 } });
  // Half the data waits until the broker is back, so consumption goes on after the restart.
  const feed0 = heldFeed(ctx, s, 0.5);
  try {
    await feed0.holding;
    const store = embeddedOptions(s);
    await prepareStore(store);
    const checks: Check[] = [];
    const faults: string[] = [];
    const metricsPort = await freePort();
    const child = startChild(s, { httpPort: metricsPort });
    const atStop = await waitCommitted(s, Math.floor(feed0.backlog * 0.3), { timeoutMs: drainTimeoutMs(feed0.backlog), child, what: 'progress before the broker stops' });
    await broker.stop();
    ctx.log(`[broker] broker stopped at ${atStop} committed; down for ${ctx.brokerDownMs} ms`);
    await sleep(ctx.brokerDownMs);
    const aliveDuringOutage = child.running;
    await broker.start();
    const upAt = Date.now();
    faults.push(`broker stopped for ${ctx.brokerDownMs} ms at ${atStop} messages committed, restarted`);
    const resumed = await waitCommitted(s, atStop + 1, { timeoutMs: 180_000, child, what: 'progress after the broker restart' }).catch(async (err: Error) => {
      // Say whether the process still answers (its event loop turns) and what its metrics show.
      throw new Error(`${await diagnose(child, metricsPort)}\n${err.message}`);
    });
    const recoveryMs = Date.now() - upAt;
    ctx.log(`[broker] progress resumed ${recoveryMs} ms after the restart (${resumed} committed)`);
    feed0.release();
    const feed = await feed0.feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const total = feed.messages;
    // Shut down in the middle of the load, after the restart: it must not hang.
    await waitCommitted(p, Math.min(total, resumed + Math.floor((total - resumed) / 3)), { timeoutMs: drainTimeoutMs(total), child, what: 'more progress after the restart' });
    const termAt = Date.now();
    child.kill('SIGTERM');
    const term = await child.wait(60_000, 'SIGTERM after the broker restart');
    const shutdownMs = Date.now() - termAt;
    faults.push('SIGTERM under load after the broker restart');
    checks.push({ name: 'the ingest survived the broker outage', ok: aliveDuringOutage, detail: aliveDuringOutage ? 'kept running' : `exited ${JSON.stringify(child.exitInfo)}` });
    checks.push({ name: 'shutdown after the broker restart exits 0 within 30 s', ok: term.code === 0 && shutdownMs <= 30_000, detail: `exit ${term.code} after ${shutdownMs} ms` });
    const last = startChild(p, { untilIdleMs: 4_000 });
    const exit = await last.wait(drainTimeoutMs(total), 'final ingest run');
    checks.push({ name: 'final run drained and exited 0', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const v = await verify(p, store, 'aggregates');
    return result(p, v, { faults, recoveryMs, recoveryNote: 'broker back up to the first new commit', checks, started, details: { shutdownMs, committedAtStop: atStop } });
  } finally {
    feed0.release();
    await feed0.feeding.catch(() => undefined);
    await cleanup(ctx, s);
  }
}


/**
 * A stuck child, described: whether its event loop still answers (/metrics), what its metrics say,
 * and what each of its threads waits on (Linux /proc: a JS thread parked in a futex while
 * librdkafka's threads run is a blocked event loop).
 */
async function diagnose(child: IngestProcess, metricsPort: number): Promise<string> {
  const m = await scrapeMetrics(metricsPort);
  const metrics = m
    ? [...m.entries()].filter(([k]) => /^pevmeter_(paused|inflight_units|offset_commits_total|store_retries_total|dead_letters_total|messages_in_total)/.test(k)).map(([k, v]) => `${k}=${v}`).join(' ')
    : '/metrics does not answer (event loop blocked, or the process is gone)';
  const threads: string[] = [];
  try {
    for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
      const at = (f: string) => readFileSync(`/proc/${child.pid}/task/${tid}/${f}`, 'utf8').trim();
      threads.push(`${at('comm')}:${at('wchan')}`);
    }
  } catch {
    // gone
  }
  let stack = '';
  if (!m && child.running) {
    // The JS thread's native stack says where it is stuck (gdb, when installed).
    try {
      const bt = execFileSync('gdb', ['-p', String(child.pid), '-batch', '-ex', 'thread 1', '-ex', 'bt 25'], { timeout: 60_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      stack = '\n' + bt.split('\n').filter((l) => /^#\d+/.test(l)).map((l) => l.replace(/ \(.*?\) at /, ' at ').slice(0, 160)).join('\n');
    } catch {
      stack = ' (no gdb stack)';
    }
  }
  return `DIAGNOSIS pid ${child.pid} running=${child.running}; ${metrics}; threads ${threads.join(' ')}${stack}`;
}
