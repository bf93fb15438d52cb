import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { openStore } from '../../aggregate/store/connect.js';
import { registerReconcileCommand, runReconcile, type CommandIo } from '../../reconcile/command.js';
import { Fixture, sid } from './fixtures.js';

function io(tty = false, stdoutTty = false): CommandIo & { out: () => string; err: () => string } {
  const stdout = Object.assign(new PassThrough(), { isTTY: stdoutTty });
  const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 });
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { stdout, stderr, out: () => o, err: () => e };
}

void t.test('pevmeter reconcile', async (t) => {
  const dir = t.testdirName;
  rmSync(dir, { recursive: true, force: true });
  const data = join(dir, 'chdb');
  const seed = await openStore({ kind: 'embedded', path: data, database: 'rcmd' });
  await seed.migrate();
  const fx = new Fixture().enroll({ programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
  fx.session({ sessionId: sid(1), energies: Array.from({ length: 30 }, () => 100) });
  fx.session({ sessionId: sid(2), energies: Array.from({ length: 30 }, () => 100), vehicleWh: 9000 });
  await fx.write(seed);
  await seed.close();
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, 'rules:\n  vehicleMismatch:\n    severity: warn\n');
  const base = { data, database: 'rcmd', from: '2026-10-01T07:00:00Z', to: '2026-11-01T07:00:00Z', asOf: '2026-11-02T00:00:00Z' };

  await t.test('runs, reports, exports; JSON progress when stderr is not a terminal', async (t) => {
    const s = io(false);
    const report = join(dir, 'r.html');
    const csv = join(dir, 'r.csv');
    const r = await runReconcile({ ...base, report, export: 'csv', out: csv, progress: 'auto' }, s);
    t.match(r.summary, { sessions: 2, billed: 1, held: 1, billedWh: 3000, amountMinor: { USD: 101 } });
    const summary = JSON.parse(s.out()) as Record<string, unknown>;
    t.match(summary, { sessions: 2, billed: 1, held: 1, report, export: { records: 1, energyWh: 3000, amountMinor: 101 } });
    t.notOk('heldSamples' in summary, 'the summary leaves the report samples out');
    const events = s.err().trim().split('\n').map((l) => JSON.parse(l) as { event: string; phase: string });
    t.same(events.map((x) => x.phase), ['open', 'batch', 'done']);
    t.ok(events.every((x) => x.event === 'reconcile.progress'));
    t.match(readFileSync(report, 'utf8'), /data-total="sessions" data-value="2"/);
    t.equal(readFileSync(csv, 'utf8').trim().split('\n').length, 2, 'header and one line');
  });

  await t.test('--reconcile-config changes a severity', async (t) => {
    const s = io(false);
    const r = await runReconcile({ ...base, reconcileConfig: rules, progress: 'none' }, s);
    t.match(r.summary, { billed: 2, held: 0, flags: { VEHICLE_MISMATCH: { sessions: 1, warn: 1, hold: 0 } } });
    t.equal(s.err(), '', 'progress none: nothing on stderr');
  });

  await t.test('a progress bar on a terminal', async (t) => {
    const s = io(true);
    await runReconcile({ ...base, progress: 'auto' }, s);
    t.match(s.err(), /reconcile \|.*\| 100% \| batch 1\/1 \| 2 sessions/);
  });

  await t.test('stdout a terminal: a short summary for a person; --json: the JSON', async (t) => {
    const s = io(false, true);
    const report = join(dir, 'tty.html');
    const out = join(dir, 'tty.csv');
    await runReconcile({ ...base, report, export: 'csv', out, exportAll: true, progress: 'none' }, s);
    const text = s.out().replace(/in \d+\.\d s/, 'in T s').replace(/run {10}\S+/, 'run          RUN');
    t.equal(text, [
      'reconciled 2026-10-01T07:00:00.000Z to 2026-11-01T07:00:00.000Z: 2 sessions in T s',
      '  billed       1 session, 3,000 Wh, 101 USD minor units',
      '  held         1 session (VEHICLE_MISMATCH 1)',
      '  records      0 created, 0 new versions, 0 rewritten, 1 unchanged, 0 voided',
      '  adjustments  0 since the last export',
      `  report       ${report}`,
      `  export       ${out}: 1 record (0 void), 3,000 Wh, 101 minor units`,
      '  run          RUN (--json for the full summary)',
      '',
    ].join('\n'));
    t.ok(s.out().length < 1_000, `${s.out().length} bytes, not a JSON blob`);
    const j = io(false, true);
    await runReconcile({ ...base, progress: 'none', json: true }, j);
    t.match(JSON.parse(j.out()), { sessions: 2, billed: 1, held: 1, heldBy: { VEHICLE_MISMATCH: 1 } }, '--json on a terminal: the JSON summary');
  });

  await t.test('--cycle: each account\'s own cycle period, exported by cycle', async (t) => {
    const noPeriod = { data, database: 'rcmdc', asOf: base.asOf };
    // The period of 'rcmd' went out above: its account's cycle over the same month is refused.
    await t.rejects(runReconcile({ ...noPeriod, database: 'rcmd', cycle: '2026-10', progress: 'none' }, io()), { code: 'PEV_INPUT', message: /overlaps the exported period .* of account A000000001/ });
    const seedCycle = await openStore({ kind: 'embedded', path: data, database: 'rcmdc' });
    await seedCycle.migrate();
    const fxc = new Fixture().enroll({ programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
    fxc.session({ sessionId: sid(1), energies: Array.from({ length: 30 }, () => 100) });
    fxc.session({ sessionId: sid(2), energies: Array.from({ length: 30 }, () => 100), vehicleWh: 9000 });
    await fxc.write(seedCycle);
    await seedCycle.close();
    const s = io(false, true);
    const out = join(dir, 'cycle.jsonl');
    const r = await runReconcile({ ...noPeriod, cycle: '2026-10', export: 'json', out, progress: 'none' }, s);
    t.match(r.summary, { cycle: '2026-10', sessions: 2, billed: 1, held: 1 });
    t.match(r.export, { records: 1, energyWh: 3000, amountMinor: 101 });
    t.match(s.out(), /^reconciled bill cycle 2026-10 \(each account's own period\): 2 sessions/);
    await t.rejects(runReconcile({ ...base, cycle: '2026-10' }, io()), { code: 'PEV_INPUT', message: /--cycle and --from\/--to exclude each other/ });
    await t.rejects(runReconcile({ ...noPeriod, cycle: '2026-13' }, io()), { code: 'PEV_INPUT', message: /--cycle: "2026-13" is not a cycle/ });
    await t.rejects(runReconcile({ ...noPeriod }, io()), { code: 'PEV_INPUT', message: /give a period/ });
    // A local month: October in the tariffs' zone, the very period exported above.
    const local = await runReconcile({ data, database: 'rcmd', asOf: base.asOf, from: '2026-10', progress: 'none' }, io());
    t.same(local.summary.period, { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) });
    t.match(local.summary, { timeZone: 'America/Los_Angeles', sessions: 2, adjustments: 0 });
    const berlin = await runReconcile({ data, database: 'rcmdc', asOf: base.asOf, from: '2026-09-01', to: '2026-09-02', tz: 'Europe/Berlin', progress: 'none' }, io());
    t.same(berlin.summary.period, { fromMs: Date.UTC(2026, 7, 31, 22), toMs: Date.UTC(2026, 8, 1, 22) }, '--tz');
  });

  await t.test('input errors name the flag', async (t) => {
    await t.rejects(runReconcile({ ...base, export: 'json' }, io()), { code: 'PEV_INPUT', message: /--export and --out go together/ });
    await t.rejects(runReconcile({ ...base, from: '2026-10-01T07:00:00' }, io()), { code: 'PEV_INPUT', message: /--from: .* has no time zone/ });
    await t.rejects(runReconcile({ ...base, to: '2026-09-01T00:00:00Z' }, io()), { code: 'PEV_INPUT', message: /to .* must be after from/ });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  gap:\n    maxMisssing: 3\n');
    await t.rejects(runReconcile({ ...base, reconcileConfig: bad }, io()), { code: 'PEV_CONFIG', message: /rules\.gap: .*maxMisssing/ });
  });

  await t.test('through commander', async (t) => {
    const program = new Command('pevmeter').exitOverride();
    registerReconcileCommand(program);
    const out = join(dir, 'c.jsonl');
    const writes = t.capture(process.stdout, 'write');
    const errs = t.capture(process.stderr, 'write');
    await program.parseAsync(['reconcile', '--data', data, '--database', 'rcmd', '--from', base.from, '--to', base.to, '--as-of', base.asOf, '--export', 'json', '--out', out, '--export-all', '--progress', 'none'], { from: 'user' });
    const text = writes().map((w) => String(w.args[0])).join('');
    t.match(JSON.parse(text), { sessions: 2, export: { records: 1 } });
    t.equal(errs().length, 0);
    t.ok(existsSync(out));
    const strict = new Command('pevmeter').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerReconcileCommand(strict);
    await t.rejects(strict.parseAsync(['reconcile', '--from', base.from, '--to', base.to, '--export', 'xml'], { from: 'user' }), { code: 'commander.invalidArgument' });
  });
});
