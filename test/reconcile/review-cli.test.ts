/**
 * `pevmeter review` through commander and the real CLI: registered beside reconcile, the operator
 * defaults to the OS user, text output for a person, and a refused action exits 64 with its code
 * on one line. Built code (dist/) runs the CLI process.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { openStore } from '../../aggregate/store/connect.js';
import { registerReconcileCommand } from '../../reconcile/command.js';
import { packageRoot } from '../../schemas/index.js';
import { Fixture, sid } from './fixtures.js';

const root = packageRoot();

void t.test('pevmeter review through the command line', async (t) => {
  rmSync(t.testdirName, { recursive: true, force: true });
  const dir = join(t.testdirName, 'chdb');
  const seed = await openStore({ kind: 'embedded', path: dir, database: 'rcli' });
  await seed.migrate();
  const fx = new Fixture().enroll({ programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
  fx.session({ sessionId: sid(1), energies: Array.from({ length: 30 }, () => 100), vehicleWh: 9000 });
  await fx.write(seed);
  await seed.close();
  const store = ['--data', dir, '--database', 'rcli'];
  const period = ['--from', '2026-10-01T07:00:00Z', '--to', '2026-11-01T07:00:00Z', '--as-of', '2026-11-02T00:00:00Z', '--progress', 'none'];
  const cli = async (args: string[]): Promise<string> => {
    const program = new Command('pevmeter').exitOverride();
    registerReconcileCommand(program);
    // Captured only while the command runs: the test's own output goes to stdout too.
    const writes = t.capture(process.stdout, 'write');
    try {
      await program.parseAsync(args, { from: 'user' });
    } finally {
      writes.restore();
    }
    return writes().map((w) => String(w.args[0])).join('');
  };

  await cli(['reconcile', ...store, ...period, '--json']);
  t.match(await cli(['review', 'list', ...store]), new RegExp(`^SESSION .*REVIEW\\n${sid(1)} +2026-10-01T07:00Z\\.\\.2026-11-01T07:00Z +HELD +A000000001 +3000 +VEHICLE_MISMATCH +-\\n1 session\\n$`));
  const recorded = await cli(['review', 'release', sid(1), '--reason', 'counter replaced', ...store]);
  t.match(recorded, `recorded RELEASE by ${userInfo().username} at `, 'the operator defaults to the OS user');
  const summary = await cli(['reconcile', ...store, ...period, '--json']);
  t.match(JSON.parse(summary), { billed: 1, held: 0, review: { sessions: 1, applied: 1, items: [{ sessionId: sid(1), action: 'RELEASE', outcome: 'APPLIED', status: 'BILLED', sessionWh: 3000 }] } }, 'the run summary says what it did with the action');
  t.equal(await cli(['review', 'list', ...store]), 'no session matches\n', 'released: no longer held');
  const shown = await cli(['review', 'show', sid(1), ...store]);
  t.match(shown, `RELEASE by ${userInfo().username} at `);
  t.match(shown, /\n {4}APPLIED: released by /);
  t.match(shown, /billing record 2026-10-01T07:00Z\.\.2026-11-01T07:00Z: version 1 BILLED, 3000 Wh in the period \(session 3000 Wh\), 101 USD minor units; never exported/);
  const json = JSON.parse(await cli(['review', 'show', sid(1), '--json', ...store])) as { actions: { operator: string; state: string }[] };
  t.match(json.actions, [{ operator: userInfo().username, state: 'applied' }]);

  const run = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args, ...store, '--log-level', 'error'], { encoding: 'utf8', timeout: 60_000 });
  const noReason = run(['review', 'hold', sid(1)]);
  t.equal(noReason.status, 64, 'a refused action is an input error: exit 64');
  t.equal(noReason.stderr, 'pevmeter: PEV_REVIEW_REASON_REQUIRED: hold: --reason is required: say why (it is kept with the action, who took it and when)\n');
  const unknown = run(['review', 'hold', 'S-unknown', '--reason', 'x', '--operator', 'zoe']);
  t.equal(unknown.status, 64);
  t.match(unknown.stderr, /^pevmeter: PEV_REVIEW_UNKNOWN_SESSION: no reconcile result for session "S-unknown"/);
  const held = run(['review', 'hold', sid(1), '--reason', 'dispute', '--operator', 'zoe']);
  t.equal(held.status, 0);
  t.match(held.stdout, /^recorded HOLD by zoe at .*: "dispute" \(BILLED 3000 Wh -> HELD 0 Wh; action /);
});
