import t from 'tap';
import { summarizeProfile, threadOf, type CpuProfile } from '../../../bench/harness/profile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

// Samples: node 2 (decode) x3, node 3 (idle) x2, node 4 (atomicsWaitLoop) x1, node 2 again.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)') },
    { id: 2, callFrame: frame('decode', 'file:///x/batch.js', 9) },
    { id: 3, callFrame: frame('(idle)') },
    { id: 4, callFrame: frame('atomicsWaitLoop', 'file:///x/piscina.js', 1) },
    { id: 5, callFrame: frame('', 'file:///x/rows.js', 4) },
  ],
  startTime: 1_000,
  endTime: 10_000,
  samples: [2, 2, 3, 3, 4, 2, 5, 2],
  // time before each sample; the gap after a sample is charged to it
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 2000, 1000],
};

void t.test('self time per function; idle and pool waits stay out of the percentages', (t) => {
  const s = summarizeProfile(profile);
  // decode: gaps after samples 0, 1, 5 -> 1000 + 1000 + 2000; sample 7 is last (no gap after it)
  const decode = s.top.find((f) => f.fn === 'decode')!;
  t.equal(decode.selfMs, 4);
  t.equal(decode.where, '/x/batch.js:10');
  const anon = s.top.find((f) => f.fn === '(anonymous)')!;
  t.equal(anon.selfMs, 1);
  t.equal(s.busyMs, 5);
  t.equal(decode.selfPct, 80);
  t.notOk(s.top.some((f) => f.fn === '(idle)' || f.fn === 'atomicsWaitLoop'));
  t.end();
});

void t.test('a window keeps only the samples inside it', (t) => {
  // sample times: 1000, 2000, 3000, 4000, 5000, 6000, 8000, 9000
  const s = summarizeProfile(profile, 15, { fromUs: 5500, toUs: 8500 });
  t.same(s.top.map((f) => [f.fn, f.selfMs]), [['decode', 2], ['(anonymous)', 1]]);
  t.end();
});

void t.test('thread names from the file name', (t) => {
  t.equal(threadOf('/p/CPU.20261126.045157.25594.0.001.cpuprofile'), 'main');
  t.equal(threadOf('/p/CPU.20261126.045157.25594.3.002.cpuprofile'), 'worker 3');
  t.end();
});
