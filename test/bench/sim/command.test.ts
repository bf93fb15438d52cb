import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { defaultFaultShares } from '../../../bench/sim/fleet.js';
import { faultShares, formatSummary, registerSimulateCommand, runSimulation, type SimulateSummary } from '../../../bench/sim/command.js';

void t.test('--fault pairs over the defaults, or over nothing with --no-faults', (t) => {
  t.same(faultShares([], false), defaultFaultShares);
  t.same(faultShares(['gap=0.1', 'spike=0.05'], true), { gap: 0.1, spike: 0.05 });
  const over = faultShares(['gap=0.2'], false);
  t.equal(over.gap, 0.2);
  t.equal(over.spike, defaultFaultShares.spike);
  t.throws(() => faultShares(['gremlins=0.1'], false), { code: 'PEV_CONFIG', message: /--fault/ });
  t.throws(() => faultShares(['gap'], false), { code: 'PEV_CONFIG', message: /KIND=SHARE/ });
  t.end();
});

void t.test('pevmeter simulate writes files, truth and manifest, and prints a summary', async (t) => {
  const dir = t.testdir();
  const program = new Command('pevmeter').exitOverride();
  registerSimulateCommand(program);
  const out = t.capture(process.stdout, 'write', () => true);
  await program.parseAsync(['simulate', '--premises', '8', '--seed', '5', '--from', '2026-10-05T00:00:00Z', '--to', '2026-10-08T00:00:00Z',
    '--interval-s', '300', '--no-faults', '--fault', 'vehicle_off=0.1', '--out', dir, '--json'], { from: 'user' });
  // Restore before asserting: tap writes its own report to stdout.
  out.restore();
  const printed = out.calls.map((c) => String(c.args[0])).join('');
  const summary = JSON.parse(printed) as SimulateSummary;
  t.equal(summary.out, dir);
  t.ok(summary.sessions > 10, `${summary.sessions} sessions`);
  t.equal(summary.faults.vehicle_off, Math.round(0.1 * summary.sessions));
  t.equal(summary.faultedSessions, summary.faults.vehicle_off);
  t.equal(summary.malformedMessages, 0);
  t.equal(summary.kafka, null);
  for (const f of ['pev.eumd-interval.avro', 'pev.session-event.avro', 'pev.vehicle-report.avro', 'pev.enrollment.avro', 'truth.jsonl', 'manifest.json']) t.ok(existsSync(join(dir, f)), f);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { options: { intervalS: number; from_iso: string }; sessions: number };
  t.equal(manifest.options.intervalS, 300);
  t.equal(manifest.options.from_iso, '2026-10-05T00:00:00.000Z');
  t.equal(manifest.sessions, summary.sessions);
  t.equal(summary.files?.['pev.enrollment']?.records, 8);
  t.match(formatSummary(summary), /sessions\s+\d+ \(\d+ with an injected fault\)/);
});

void t.test('runSimulation without container files writes truth and manifest only', async (t) => {
  const dir = t.testdir();
  const s = await runSimulation({ fleet: { premises: 3, noFaults: true }, out: dir, files: false });
  t.equal(s.files, null);
  t.ok(existsSync(join(dir, 'truth.jsonl')));
  t.notOk(existsSync(join(dir, 'pev.eumd-interval.avro')));
  t.equal(readFileSync(join(dir, 'truth.jsonl'), 'utf8').trim().split('\n').length, s.sessions);
});
