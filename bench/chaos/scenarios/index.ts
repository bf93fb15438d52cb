/**
 * The fault runs (issue 6), one file per scenario as docs/faults.md describes them ("What each run
 * does and checks"), the kit they share in kit.ts. Each scenario feeds a simulated fleet to fresh
 * topics, runs the ingest service as child processes, injects its fault, lets the pipeline
 * recover, and then checks two things against ground truth:
 *
 *   totals   per-session energy and per-minute sums equal the simulator's truth (bench/sim/truth.ts)
 *   offsets  every committed offset is backed by stored rows, and the group ends at the high
 *            watermarks (nothing left behind, nothing committed past unwritten data)
 *
 * and reports records fed, faults injected, records lost, records double counted, recovery time and
 * redelivered records. The scenarios:
 *
 *   kill      SIGKILL the ingest N times at seeded random points of the load, restart on the same
 *             data and group; counts the kills that caught rows inserted but not yet committed
 *   broker    stop a private broker mid-load, start it again; the consumer reconnects, and a
 *             SIGTERM after the restart drains and exits in time
 *   store     stop the ClickHouse server (18.16, HTTP) for a while; partitions pause, memory stays
 *             bounded, no offset passes durable data, lag returns to zero
 *   rejected  make the store refuse writes for good mid-load (table gone, user read-only, password
 *             changed); the service halts with exit code 2 and never commits past the rejected unit
 *   scale     consumer group 1 -> 2 -> 1 under load (HTTP store shared by both); redelivery counted
 *   replay    a new group reads everything again into a fresh store: rollups identical
 *   checker   the checker's own check: a double delivery read without deduplication must fail, an
 *             unreachable store must read 'unverified'
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioName, ChaosContext, ScenarioResult } from './types.js';
import { killScenario } from './kill.js';
import { brokerScenario } from './broker.js';
import { storeScenario } from './store.js';
import { rejectedScenario } from './rejected.js';
import { scaleScenario } from './scale.js';
import { replayScenario } from './replay.js';
import { checkerScenario } from './checker.js';

export { SCENARIOS, type ChaosContext, type Check, type ScenarioName, type ScenarioResult } from './types.js';

export const RUNNERS: Record<ScenarioName, (ctx: ChaosContext) => Promise<ScenarioResult>> = {
  kill: killScenario,
  broker: brokerScenario,
  store: storeScenario,
  rejected: rejectedScenario,
  scale: scaleScenario,
  replay: replayScenario,
  checker: checkerScenario,
};

/** Copies a scenario's ingest log next to its result (kept even when data is removed). */
export function keepLog(ctx: ChaosContext, name: ScenarioName, dest: string): void {
  try {
    cpSync(join(ctx.workDir, name, 'ingest.log'), dest);
  } catch {
    // no log: nothing ran
  }
}
