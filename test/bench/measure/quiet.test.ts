import t from 'tap';
import { spawn } from 'node:child_process';
import { machineBusyTicks, parseProcStat, quietDecision, rerunAdvice, treeMembers, verdictLines, watchQuiet, type QuietVerdict } from '../../../bench/measure/quiet.js';

t.test('/proc/stat: busy ticks are user + nice + system + irq + softirq + steal (idle and iowait are not)', (t) => {
  const stat = 'cpu  1000 20 300 90000 50 6 7 8 0 0\ncpu0 500 10 150 45000 25 3 3 4 0 0\n';
  t.equal(machineBusyTicks(stat), 1000 + 20 + 300 + 6 + 7 + 8);
  t.end();
});

t.test('/proc/PID/stat: fields after the last parenthesis, whatever the command name holds', (t) => {
  const line = '4242 (node (a) b) S 4200 4242 4200 0 -1 4194304 100 0 0 0 250 40 7 3 20 0 11 0 12345 1000 200';
  t.same(parseProcStat(line), { pid: 4242, ppid: 4200, own: 290, children: 10 });
  t.equal(parseProcStat('garbage'), undefined);
  t.end();
});

t.test('the tree: a root and its descendants, not its siblings or parent', (t) => {
  const p = (pid: number, ppid: number) => ({ pid, ppid, own: pid, children: 0 });
  const procs = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(13, 10), p(20, 1), p(21, 20)];
  t.same(treeMembers(procs, [10]).map((x) => x.pid).sort((a, b) => a - b), [10, 11, 12, 13]);
  t.same(treeMembers(procs, [10, 21]).map((x) => x.pid).sort((a, b) => a - b), [10, 11, 12, 13, 21]);
  t.same(treeMembers(procs, [99]), [], 'a root that is gone has no members');
  t.end();
});

function spin(cpuMs: number): void {
  const start = process.cpuUsage();
  while ((process.cpuUsage(start).user + process.cpuUsage(start).system) / 1000 < cpuMs) {
    // burn CPU: what another program on the machine would do
  }
}

t.test('CPU outside the watched tree is counted as other work and makes the run unpublishable', async (t) => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  const watch = watchQuiet({ rootPid: child.pid!, maxStartLoad: 1_000, maxOtherCores: 0.15 });
  spin(1_500); // this test process is not in the sleeping child's tree
  const v = watch.stop();
  t.ok(v.otherCpuSeconds >= 1.2, `others used at least the 1.5 CPU s spun here (minus tick rounding): ${v.otherCpuSeconds}`);
  t.ok(v.ownCpuSeconds <= 0.2, `the sleeping tree used next to nothing: ${v.ownCpuSeconds}`);
  t.equal(v.publishable, false);
  t.match(v.reasons.join(' '), /other processes used/);
  t.match(rerunAdvice(v, 'npm run bench'), /not publishable: other processes used .* run `npm run bench` again/);
});

t.test('CPU inside the watched tree is the run\'s own', (t) => {
  const watch = watchQuiet({ rootPid: process.pid, maxStartLoad: 1_000 });
  spin(1_000);
  const v = watch.stop();
  t.ok(v.ownCpuSeconds >= 0.8, `the spin counts as the run's own: ${v.ownCpuSeconds}`);
  t.ok(v.machineCpuSeconds >= v.ownCpuSeconds, 'the machine spent at least what the run did');
  t.equal(v.otherCpuSeconds, Math.max(0, v.machineCpuSeconds - v.ownCpuSeconds));
  t.end();
});

t.test('a high start load alone does not decide when the CPU of others was measured: it is a note', (t) => {
  const v = watchQuiet({ maxStartLoad: -1, maxOtherCores: 1_000 }).stop();
  t.equal(v.publishable, true);
  t.same(v.reasons, []);
  t.match(v.notes?.[0], /^load average .* at the start \(over -1\), but other processes used only .* cores during the run: the load average lags/);
  t.end();
});

const LIMITS = { maxStartLoad: 1, maxOtherCores: 0.15 };

t.test('decision: the CPU other processes used is the primary measure', (t) => {
  t.same(quietDecision({ loadAtStart: 0.4, seconds: 100, otherCpuSeconds: 15 }, LIMITS), { publishable: true, otherCores: 0.15, reasons: [], notes: [] }, 'exactly at the bound is quiet');
  t.same(quietDecision({ loadAtStart: 0.4, seconds: 100, otherCpuSeconds: 16 }, LIMITS), {
    publishable: false, otherCores: 0.16, reasons: ['other processes used 16.0 CPU s in 100 s (0.16 cores on average, over 0.15)'], notes: [],
  });
  t.same(quietDecision({ loadAtStart: 0.4, seconds: 0, otherCpuSeconds: 3 }, LIMITS).otherCores, 0, 'a zero-length run divides by nothing');
  t.end();
});

t.test('decision: a lagging start load (a previous run just ended) does not make a quiet run busy', (t) => {
  t.same(quietDecision({ loadAtStart: 2.46, seconds: 200, otherCpuSeconds: 4 }, LIMITS), {
    publishable: true,
    otherCores: 0.02,
    reasons: [],
    notes: ['load average 2.46 at the start (over 1), but other processes used only 0.02 cores during the run: the load average lags (a run that just ended still shows in it), so the CPU measure decides'],
  });
  t.same(quietDecision({ loadAtStart: 2.46, seconds: 200, otherCpuSeconds: 100 }, LIMITS), {
    publishable: false,
    otherCores: 0.5,
    reasons: ['other processes used 100.0 CPU s in 200 s (0.50 cores on average, over 0.15)'],
    notes: ['the load average was 2.46 at the start (over 1)'],
  }, 'both busy: the CPU decides, the load is a note');
  t.end();
});

t.test('decision: without /proc the CPU cannot be measured, and the load average is a reason too', (t) => {
  t.same(quietDecision({ loadAtStart: 0.2, seconds: 60, otherCpuSeconds: undefined }, LIMITS), {
    publishable: false, otherCores: 0, reasons: ['no /proc: the CPU of other processes cannot be measured here'], notes: [],
  });
  t.same(quietDecision({ loadAtStart: 3, seconds: 60, otherCpuSeconds: undefined }, LIMITS).reasons, [
    'no /proc: the CPU of other processes cannot be measured here', 'load average 3 at the start (over 1)',
  ]);
  t.end();
});

t.test('rerun advice names the busy CPU, how to find it, the command again and --allow-busy', (t) => {
  const v: QuietVerdict = {
    publishable: false, loadAverageAtStart: [2.46, 2, 1.5], seconds: 200, machineCpuSeconds: 400, ownCpuSeconds: 300, otherCpuSeconds: 100, otherCores: 0.5,
    reasons: ['other processes used 100.0 CPU s in 200 s (0.50 cores on average, over 0.15)'], notes: ['the load average was 2.46 at the start (over 1)'],
  };
  t.equal(
    rerunAdvice(v, 'npm run bench:soak'),
    'not publishable: other processes used 100.0 CPU s in 200 s (0.50 cores on average, over 0.15) (the load average was 2.46 at the start (over 1)). ' +
      'Other work used the CPU while this ran: find it with `top` (or `ps -eo pid,pcpu,etime,args --sort=-pcpu | head`), wait until nothing else is busy, ' +
      'then run `npm run bench:soak` again; `npm run bench:soak -- --allow-busy` writes the published files anyway, marked busy.',
  );
  t.end();
});

t.test('verdict lines: the advice and what stayed unchanged when busy, the notes when quiet', (t) => {
  const busy: QuietVerdict = {
    publishable: false, loadAverageAtStart: [0.2, 0.2, 0.2], seconds: 10, machineCpuSeconds: 20, ownCpuSeconds: 15, otherCpuSeconds: 5, otherCores: 0.5,
    reasons: ['other processes used 5.0 CPU s in 10 s (0.50 cores on average, over 0.15)'], notes: [],
  };
  const lines = verdictLines('bench:queries', busy, 'npm run bench:queries', ' out.json is unchanged.');
  t.equal(lines.length, 1);
  t.equal(lines[0], `[bench:queries] ${rerunAdvice(busy, 'npm run bench:queries')} out.json is unchanged.`);
  const quiet: QuietVerdict = { ...busy, publishable: true, otherCpuSeconds: 0.1, otherCores: 0.01, reasons: [], notes: ['load average 1.3 at the start (over 1), but ...'] };
  t.same(verdictLines('bench', quiet, 'npm run bench', ' ignored'), ['[bench] quiet: load average 1.3 at the start (over 1), but ...']);
  t.same(verdictLines('bench', { ...quiet, notes: [] }, 'npm run bench'), [], 'a quiet run without notes prints nothing');
  t.end();
});
