/**
 * Runs fault scenarios and writes their figures: bench/results/chaos-<scenario>.json per scenario
 * and bench/results/chaos.md, a table rebuilt from every chaos-*.json in the folder (so running one
 * scenario refreshes its row and keeps the others).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { RUNNERS, keepLog, type ChaosContext, type ScenarioName, type ScenarioResult } from './scenarios/index.js';
import { privateBroker, privateClickhouse, freePort, type BrokerControl, type ClickhouseControl } from './services.js';

/** The scenario context's plain settings, plus which scenarios and where the private services listen. */
export interface ChaosOptions extends Omit<ChaosContext, 'privateBroker' | 'clickhouse'> {
  scenarios: ScenarioName[];
  /** The private broker of the broker scenario (the shared one is `brokers`). */
  brokerPort: number;
  /** Port of the private ClickHouse server; 0 = a free one. */
  clickhousePort: number;
  /** Where the JSON and markdown go; undefined = nowhere (tests). */
  outDir?: string;
}

export async function runChaos(o: ChaosOptions): Promise<ScenarioResult[]> {
  mkdirSync(o.workDir, { recursive: true });
  let broker: BrokerControl | undefined;
  let clickhouse: Promise<ClickhouseControl & { reset(): Promise<void> }> | undefined;
  const ctx: ChaosContext = {
    ...o,
    privateBroker: () => Promise.resolve((broker ??= privateBroker(o.brokerPort))),
    clickhouse: () => (clickhouse ??= (async () => privateClickhouse(o.clickhousePort || (await freePort())))()),
  };
  const results: ScenarioResult[] = [];
  try {
    for (const name of o.scenarios) {
      o.log(`[${name}] starting`);
      let r: ScenarioResult;
      try {
        r = await RUNNERS[name](ctx);
      } catch (err) {
        // A scenario that could not finish proves nothing: unverified, with the reason.
        r = failedRun(name, err as Error);
      }
      results.push(r);
      o.log(summaryLines(r).join('\n'));
      if (o.outDir) {
        mkdirSync(o.outDir, { recursive: true });
        writeFileSync(join(o.outDir, `chaos-${name}.json`), JSON.stringify({ ...r, machine: machine(), records: o.records, seed: o.seed, at: new Date().toISOString() }, null, 2) + '\n');
        keepLog(ctx, name, join(o.workDir, `${name}.log`));
        writeMarkdown(o.outDir);
      }
    }
  } finally {
    if (broker) await broker.reset().catch(() => undefined);
    if (clickhouse) await (await clickhouse.catch(() => undefined))?.reset().catch(() => undefined);
  }
  return results;
}

function failedRun(name: ScenarioName, err: Error): ScenarioResult {
  return {
    scenario: name,
    status: 'unverified',
    recordsFed: 0,
    messagesFed: 0,
    intervalRecords: 0,
    sessions: 0,
    faultsInjected: 0,
    faults: [],
    lost: { records: 0, wh: 0, uncoveredOffsets: 0 },
    doubleCounted: { records: 0, wh: 0 },
    recoveryMs: null,
    recoveryNote: '',
    redelivered: null,
    rawRows: null,
    truth: { status: 'unverified', source: 'views', sessions: 0, mismatchedSessions: 0, mismatchedMinutes: 0, unexpectedSessions: 0, examples: [], expected: { wh: 0, records: 0, minutes: 0 }, actual: { wh: 0, records: 0, minutes: 0, sessions: 0 }, error: err.message },
    offsets: { status: 'unverified', uncovered: 0, lag: 0, copies: 0 },
    checks: [{ name: 'the scenario ran to the end', ok: false, detail: (err.stack ?? err.message).slice(0, 8_000) }],
    seconds: 0,
    details: {},
  };
}

function machine(): Record<string, unknown> {
  return { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

const n = (x: number) => x.toLocaleString('en-US');
const ms = (x: number | null) => (x === null ? 'n/a' : `${(x / 1000).toFixed(1)} s`);

export function summaryLines(r: ScenarioResult): string[] {
  const lines = [
    `== ${r.scenario}: ${r.status.toUpperCase()} (${r.seconds} s)`,
    `   records fed          ${n(r.recordsFed)} (${n(r.messagesFed)} messages, ${n(r.intervalRecords)} interval records, ${n(r.sessions)} sessions)`,
    `   faults injected      ${r.faultsInjected}${r.faults.length ? `: ${r.faults.slice(0, 3).join('; ')}${r.faults.length > 3 ? '; ...' : ''}` : ''}`,
    `   records lost         ${n(r.lost.records)} intervals, ${n(r.lost.wh)} Wh, ${n(r.lost.uncoveredOffsets)} committed offsets without rows`,
    `   double counted       ${n(r.doubleCounted.records)} intervals, ${n(r.doubleCounted.wh)} Wh`,
    `   recovery time        ${ms(r.recoveryMs)} (${r.recoveryNote})`,
    `   redelivered records  ${r.redelivered === null ? 'unknown' : n(r.redelivered)}${r.rawRows !== null ? ` (interval_raw holds ${n(r.rawRows)} rows)` : ''}`,
    `   totals vs truth      ${r.truth.status} (${r.truth.source}; ${n(r.truth.sessions)} sessions, ${n(r.truth.expected.wh)} Wh, ${n(r.truth.expected.minutes)} minutes)${r.truth.error ? `: ${r.truth.error}` : ''}`,
    `   offsets              ${r.offsets.status} (lag ${n(r.offsets.lag)}, ${n(r.offsets.copies)} exact-copy offsets)${r.offsets.error ? `: ${r.offsets.error}` : ''}`,
  ];
  for (const c of r.checks) lines.push(`   ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  for (const e of r.truth.examples.slice(0, 5)) lines.push(`   example: ${e}`);
  return lines;
}

/** bench/results/chaos.md from every chaos-*.json in `outDir`. */
export function writeMarkdown(outDir: string): void {
  const rows: (ScenarioResult & { at?: string; machine?: { cpus: number; memoryGiB: number; node: string } })[] = [];
  if (!existsSync(outDir)) return;
  for (const f of readdirSync(outDir).sort()) {
    if (!/^chaos-[a-z]+\.json$/.test(f)) continue;
    rows.push(JSON.parse(readFileSync(join(outDir, f), 'utf8')) as ScenarioResult & { at?: string });
  }
  const order = Object.keys(RUNNERS);
  rows.sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario));
  const out = [
    '# Fault runs',
    '',
    'Written by `npm run chaos` (bench/chaos/main.ts); how to read and reproduce it: docs/faults.md.',
    '',
    '| scenario | verdict | records fed | faults | lost | double counted | recovery | redelivered | run at |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    const lost = r.lost.records + r.lost.uncoveredOffsets;
    out.push(
      `| ${r.scenario} | ${r.status} | ${n(r.recordsFed)} | ${r.faultsInjected}: ${r.faults.length > 0 ? r.faults[0]!.replace(/\|/g, '/') + (r.faults.length > 1 ? ` (+${r.faults.length - 1})` : '') : ''} | ${n(lost)} (${n(r.lost.wh)} Wh) | ${n(r.doubleCounted.records)} (${n(r.doubleCounted.wh)} Wh) | ${ms(r.recoveryMs)} | ${r.redelivered === null ? 'n/a' : n(r.redelivered)} | ${r.at ?? ''} |`,
    );
  }
  const m = rows.find((r) => r.machine)?.machine;
  if (m) out.push('', `Machine: ${m.cpus} CPUs, ${m.memoryGiB} GiB, Node ${m.node}.`);
  out.push('', '## Checks per scenario', '');
  for (const r of rows) {
    out.push(`### ${r.scenario}`, '');
    for (const c of r.checks) out.push(`- ${c.ok ? 'ok' : '**FAIL**'}: ${c.name} (${c.detail.replace(/\n/g, ' ').slice(0, 300)})`);
    out.push(`- totals vs truth: ${r.truth.status} (${r.truth.source}); offsets: ${r.offsets.status}, lag ${r.offsets.lag}`, '');
  }
  writeFileSync(join(outDir, 'chaos.md'), out.join('\n'));
}
