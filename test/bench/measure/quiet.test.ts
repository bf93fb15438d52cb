import t from 'tap';
import { spawn } from 'node:child_process';
import { machineBusyTicks, parseProcStat, rerunAdvice, treeMembers, watchQuiet } from '../../../bench/measure/quiet.js';

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

t.test('a high load average at the start is reason enough', (t) => {
  const v = watchQuiet({ maxStartLoad: -1 }).stop();
  t.equal(v.publishable, false);
  t.match(v.reasons[0], /^load average .* at the start \(over -1\)$/);
  t.end();
});
