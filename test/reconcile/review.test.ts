/**
 * The review round trip on the embedded store, through the same functions the CLI calls: a clean
 * session is billed and exported, then held by an operator; a held one is released with a reason;
 * the next reconcile applies both, the export carries the actions and agrees with the audit
 * record; a re-run is idempotent; new data re-holds the released session and says why; a
 * correction and an accepted estimate bill what they say. Errors have stable codes.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { exportPeriod } from '../../reconcile/billing.js';
import { resolveConfig } from '../../reconcile/config.js';
import { renderReport } from '../../reconcile/report.js';
import { summaryText } from '../../reconcile/summary-text.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import { loadActions } from '../../reconcile/review/actions.js';
import { listSessions, runAction, runList, runShow, showSession } from '../../reconcile/review/command.js';
import type { Period } from '../../reconcile/types.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, T0, sid } from './fixtures.js';

const PERIOD: Period = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const FLAT = { programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' };
const AS_OF = Date.UTC(2026, 10, 2);
// ESTIMATED holds here, so that accepting an estimate has something to lift.
const CFG = resolveConfig({ rules: { estimated: { severity: 'hold' } } });

function io(): { stdout: PassThrough; text: () => string } {
  const stdout = new PassThrough();
  let o = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  return { stdout, text: () => o };
}

function jsonLines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

void t.test('review: hold, release, reconcile, export; idempotent; re-held by new data; correct; accept an estimate', async (t) => {
  const store = await tempStore(t, { database: 'rreview' });
  const fx = new Fixture().enroll(FLAT);
  const hundreds = Array.from({ length: 30 }, () => 100);
  fx.session({ sessionId: sid(1), energies: hundreds });
  fx.session({ sessionId: sid(2), energies: hundreds, vehicleWh: 9000 });
  fx.session({ sessionId: sid(3), energies: hundreds, quality: { 4: 1, 5: 1 }, startMs: T0 + 86_400_000 });
  await fx.write(store);
  const dir = t.testdirName;
  const run = () => reconcilePeriod(store, PERIOD, {}, CFG, { asOfMs: AS_OF });

  const r1 = await run();
  t.match(r1, { sessions: 3, billed: 1, held: 2, heldBy: { VEHICLE_MISMATCH: 1, ESTIMATED: 1 }, review: { sessions: 0 } });
  const e1 = await exportPeriod(store, PERIOD, {}, 'json', join(dir, 'e1.jsonl'), { nowMs: AS_OF });
  t.match(e1, { records: 1, energyWh: 3000, amountMinor: 101 }, 'the clean session goes out: 3,000 Wh at 33.6 c/kWh = 101 c');

  const listed = await listSessions(store, {});
  t.same(listed.map((r) => [r.sessionId, r.status, r.holdCodes, r.review]), [
    [sid(2), 'HELD', ['VEHICLE_MISMATCH'], null],
    [sid(3), 'HELD', ['ESTIMATED'], null],
  ], 'list: the held sessions, their hold codes, no action yet');
  t.same((await listSessions(store, { code: 'ESTIMATED' })).map((r) => r.sessionId), [sid(3)], '--code');
  t.same((await listSessions(store, { account: 'nobody' })).length, 0, '--account');
  t.same((await listSessions(store, { status: 'all' })).map((r) => r.sessionId), [sid(1), sid(2), sid(3)], '--status all');

  await t.test('errors: stable codes, checked before anything is recorded', async (t) => {
    const out = io();
    await t.rejects(runAction('release', sid(2), {}, out, store), { code: 'PEV_REVIEW_REASON_REQUIRED', message: /release: --reason is required/ });
    await t.rejects(runAction('release', sid(2), { reason: '   ' }, out, store), { code: 'PEV_REVIEW_REASON_REQUIRED' }, 'a blank reason is none');
    await t.rejects(runAction('release', 'S-nope', { reason: 'x' }, out, store), { code: 'PEV_REVIEW_UNKNOWN_SESSION', message: /no reconcile result for session "S-nope"/ });
    await t.rejects(runShow('S-nope', {}, out, store), { code: 'PEV_REVIEW_UNKNOWN_SESSION' });
    await t.rejects(runAction('release', sid(1), { reason: 'x' }, out, store), {
      code: 'PEV_REVIEW_NOT_APPLICABLE', message: `release does not apply: session ${sid(1)} is BILLED; there is nothing to release`,
    });
    await t.rejects(runAction('hold', sid(2), { reason: 'x' }, out, store), { code: 'PEV_REVIEW_NOT_APPLICABLE', message: /hold does not apply: .* is HELD \(hold flags VEHICLE_MISMATCH\); it is held already/ });
    await t.rejects(runAction('accept-estimate', sid(2), { reason: 'x' }, out, store), {
      code: 'PEV_REVIEW_NOT_APPLICABLE', message: /VEHICLE_MISMATCH is not about estimated energy: an accepted estimate lifts only ESTIMATED/,
    });
    await t.rejects(runAction('correct', sid(2), { reason: 'x' }, out, store), { code: 'PEV_INPUT', message: /--wh must be/ });
    await t.rejects(runAction('correct', sid(2), { reason: 'x', wh: '12.5' }, out, store), { code: 'PEV_INPUT', message: /got "12.5"/ });
    await t.rejects(runAction('correct', sid(1), { reason: 'x', wh: '3000' }, out, store), { code: 'PEV_REVIEW_NOT_APPLICABLE', message: /billed at 3000 Wh already/ });
    t.same(await loadActions(store), [], 'nothing recorded');
  });

  const out = io();
  const hold = await runAction('hold', sid(1), { reason: 'customer disputes the session', operator: 'alice' }, out, store);
  t.match(out.text(), /^recorded HOLD by alice at .*: "customer disputes the session" \(BILLED 3000 Wh -> HELD 0 Wh; action [0-9a-f-]{36}\)\n/);
  const release = await runAction('release', sid(2), { reason: 'vehicle counter known faulty (ticket 4411)', operator: 'bob', json: true }, io(), store);
  t.match(release, { action: 'RELEASE', operator: 'bob', beforeStatus: 'HELD', beforeWh: 0, beforeHoldCodes: ['VEHICLE_MISMATCH'], afterStatus: 'BILLED', afterWh: 3000 });
  t.equal(release.beforeFacts, 'eumd=3000;intervals=3000;seen=30;missing=0;esci=3000;vehicle=9000;grant=3500', 'the facts the release was based on');
  const pending = await listSessions(store, { status: 'all' });
  t.same(pending.map((r) => [r.sessionId, r.review?.action ?? null, r.review?.state ?? null]), [
    [sid(1), 'HOLD', 'pending'], [sid(2), 'RELEASE', 'pending'], [sid(3), null, null],
  ], 'recorded, pending until the next run');
  await t.rejects(runAction('release', sid(2), { reason: 'again' }, io(), store), { code: 'PEV_REVIEW_NOT_APPLICABLE', message: /is BILLED once its pending RELEASE .* applies/ }, 'a pending action counts');

  const r2 = await run();
  t.match(r2, { billed: 1, held: 2, records: { created: 1, newVersions: 0, voided: 1 }, review: { sessions: 2, applied: 2, reheld: 0, notNeeded: 0 } });
  t.same(r2.review.items.map((x) => [x.sessionId, x.action, x.outcome, x.status, x.sessionWh]), [[sid(1), 'HOLD', 'APPLIED', 'HELD', 0], [sid(2), 'RELEASE', 'APPLIED', 'BILLED', 3000]]);
  t.match(summaryText(r2, null, null), "\n  review       2 sessions with an operator's action: 2 applied, 0 re-held by new data, 0 not needed\n", 'the terminal summary says so too');
  const html = renderReport(r2);
  t.match(html, `data-review-session="${sid(2)}" data-action="RELEASE" data-action-id="${release.actionId}" data-outcome="APPLIED" data-status="BILLED" data-session-wh="3000"`, 'the report shows the action and its outcome');
  t.match(html, 'vehicle counter known faulty (ticket 4411)');

  const e2file = join(dir, 'e2.jsonl');
  const e2 = await exportPeriod(store, PERIOD, {}, 'json', e2file, { nowMs: AS_OF + 1 });
  t.match(e2, { records: 2, voided: 1, energyWh: 3000, amountMinor: 101 });
  const recs = jsonLines(e2file);
  t.match(recs, [
    { session_id: sid(1), version: 2, status: 'VOID', previous_version: 1, delta_energy_wh: -3000, delta_amount_minor: -101, review_action: 'HOLD', review_action_id: hold.actionId, review_outcome: 'APPLIED' },
    { session_id: sid(2), version: 1, status: 'BILLED', record_energy_wh: 3000, session_energy_wh: 3000, record_amount_minor: 101, review_action: 'RELEASE', review_action_id: release.actionId, review_outcome: 'APPLIED' },
  ], 'the export says which action made or cancelled each record');
  // The bill and the audit record agree.
  const audit = await loadActions(store, sid(2));
  t.equal(audit.length, 1);
  t.equal(audit[0]!.afterStatus, recs[1]!['status']);
  t.equal(audit[0]!.afterWh, recs[1]!['session_energy_wh']);
  t.equal(audit[0]!.reason, 'vehicle counter known faulty (ticket 4411)');
  t.equal(audit[0]!.operator, 'bob');

  const shown = await runShow(sid(2), {}, out, store);
  t.match(shown, { records: [{ version: 1, status: 'BILLED', energyWh: 3000, amountMinor: 101, exportedVersion: 1 }], actions: [{ state: 'applied', outcome: 'APPLIED' }] });
  t.match(out.text(), /hold VEHICLE_MISMATCH: observed \{"vehicleWh":9000,"eumdWh":3000,"diffWh":6000,"diffShare":2\}/, 'show: flags with observed values');
  t.match(out.text(), /RELEASE by bob at .*: "vehicle counter known faulty \(ticket 4411\)" \(HELD 0 Wh -> BILLED 3000 Wh; action .*\)\n {4}APPLIED: released by bob at /);

  await t.test('re-running is idempotent', async (t) => {
    const r3 = await run();
    t.match(r3, { billed: 1, held: 2, records: { created: 0, rewritten: 0, newVersions: 0, voided: 0, unchanged: 1 }, review: { applied: 2 } });
    const e3 = await exportPeriod(store, PERIOD, {}, 'json', join(dir, 'e3.jsonl'), { nowMs: AS_OF + 2 });
    t.match(e3, { records: 0 }, 'nothing new to export');
    const [n] = await store.select<{ n: number }>('SELECT count() AS n FROM {db}.review_action');
    t.equal(Number(n!.n), 2, 'no action row written by a run');
  });

  await t.test('new data re-holds the released session and says why', async (t) => {
    // A 31st interval of 100 Wh arrives late (register 1,000,000 + 31 x 100), in INSERT_COLUMNS order.
    const late = [sid(2), 30, 'ESCI-0000000A', 'EUMD-0000000A', 'P000000001', '1HGCM82633A004352', Math.floor((T0 + 30 * 60_000) / 1000), 60, 100, 1_003_100, 0, 'pev.eumd-interval', 0, 9_999, 0];
    await store.insertTsv('interval_raw', [Buffer.from(late.join('\t') + '\n')]);
    const r = await run();
    t.match(r, { review: { applied: 1, reheld: 1 }, records: { created: 0, newVersions: 0, voided: 1 } });
    const item = r.review.items.find((x) => x.sessionId === sid(2))!;
    t.equal(item.outcome, 'REHELD');
    t.match(item.note, /^re-held: the facts changed since the release of .* \(eumd 3000 -> 3100, intervals 3000 -> 3100, seen 30 -> 31\)$/);
    const listedNow = await listSessions(store, {});
    const row = listedNow.find((x) => x.sessionId === sid(2))!;
    t.match(row, { status: 'HELD', review: { action: 'RELEASE', state: 'applied', outcome: 'REHELD' } });
    const text = io();
    await runList({}, text, store);
    t.match(text.text(), /RELEASE REHELD by bob: re-held: the facts changed/);
    const e = await exportPeriod(store, PERIOD, {}, 'json', join(dir, 'e4.jsonl'), { nowMs: AS_OF + 3 });
    t.match(e, { records: 1, voided: 1 });
    t.match(jsonLines(join(dir, 'e4.jsonl')), [{ session_id: sid(2), version: 2, status: 'VOID', delta_energy_wh: -3000, review_action: 'RELEASE', review_outcome: 'REHELD' }]);
  });

  await t.test('a correction bills the corrected energy; the export says so', async (t) => {
    const c = await runAction('correct', sid(2), { reason: 'meter test: 3,050 Wh', wh: '3050', operator: 'carol' }, io(), store);
    t.match(c, { action: 'CORRECT', correctedWh: 3050, beforeStatus: 'HELD', afterStatus: 'BILLED', afterWh: 3050 });
    const r = await run();
    t.match(r.review.items.find((x) => x.sessionId === sid(2)), { action: 'CORRECT', outcome: 'APPLIED', status: 'BILLED', sessionWh: 3050 });
    await exportPeriod(store, PERIOD, {}, 'json', join(dir, 'e5.jsonl'), { nowMs: AS_OF + 4 });
    const [rec] = jsonLines(join(dir, 'e5.jsonl'));
    // 3,050 Wh x 33.6 c/kWh = 102.48 -> 102 c.
    t.match(rec, { session_id: sid(2), version: 3, status: 'BILLED', record_energy_wh: 3050, session_energy_wh: 3050, record_amount_minor: 102, previous_version: 2, review_action: 'CORRECT', review_action_id: c.actionId });
    t.match((rec as { lines: unknown[] }).lines, [{ kind: 'energy', period: 'flat', wh: 3050, amount_minor: 102 }]);
  });

  await t.test('accepting an estimate bills a session held only for estimated intervals', async (t) => {
    const a = await runAction('accept-estimate', sid(3), { reason: 'EUMD firmware marks interpolated minutes', operator: 'dave' }, io(), store);
    t.match(a, { action: 'ACCEPT_ESTIMATE', beforeHoldCodes: ['ESTIMATED'], afterStatus: 'BILLED', afterWh: 3000 });
    const r = await run();
    t.match(r.review.items.find((x) => x.sessionId === sid(3)), { action: 'ACCEPT_ESTIMATE', outcome: 'APPLIED', status: 'BILLED', sessionWh: 3000 });
    const v = await showSession(store, sid(3));
    t.match(v.results[0], { status: 'BILLED', flags: [{ code: 'ESTIMATED', severity: 'hold', observed: { intervals: 2, estimated: 2, estimatedWh: 200 } }] }, 'the flag stays on the result; the bill goes out');
  });
});
