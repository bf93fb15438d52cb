/**
 * The next step `pevmeter run` prints: a reconcile command whose period is the simulated days,
 * valid when it ends in the next month.
 */
import t from 'tap';
import { reconcileHint } from '../../../bench/sim/run-command.js';

void t.test('the reconcile hint covers the simulated days, across a month end', (t) => {
  t.equal(reconcileHint(7, '.data/chdb'), 'npx pevmeter reconcile --from 2026-10-01T00:00:00Z --to 2026-10-08T00:00:00Z --data .data/chdb --report report.html', '7 days');
  t.equal(reconcileHint(30, 'd'), 'npx pevmeter reconcile --from 2026-10-01T00:00:00Z --to 2026-10-31T00:00:00Z --data d --report report.html', '30 days');
  t.equal(reconcileHint(31, 'd'), 'npx pevmeter reconcile --from 2026-10-01T00:00:00Z --to 2026-11-01T00:00:00Z --data d --report report.html', '31 days end on November 1st, not October 32nd');
  t.equal(reconcileHint(92, 'd'), 'npx pevmeter reconcile --from 2026-10-01T00:00:00Z --to 2027-01-01T00:00:00Z --data d --report report.html', '92 days end in the next year');
  t.end();
});
