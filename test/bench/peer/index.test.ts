import t from 'tap';
import { compareTotals, runPeerBench, type PeerBenchOptions } from '../../../bench/peer/index.js';
import type { SessionTruth } from '../../../bench/sim/fleet.js';

function truth(id: string, wh: number, fault?: 'resend' | 'conflict' | 'out_of_order'): SessionTruth {
  return { session_id: id, interval_sum_wh: wh, faults: fault ? [fault] : [] } as unknown as SessionTruth;
}

void t.test('counts sessions whose total differs, and by how many Wh', (t) => {
  const tr = new Map([
    ['S-a', truth('S-a', 1000)],
    ['S-b', truth('S-b', 500, 'resend')],
    ['S-c', truth('S-c', 700, 'conflict')],
    ['S-d', truth('S-d', 300, 'out_of_order')],
    ['S-e', truth('S-e', 0)],
  ]);
  const measured = new Map([
    ['S-a', 1000],
    ['S-b', 540],
    ['S-c', 690],
    ['S-d', 300],
    ['S-x', 25],
  ]);
  const r = compareTotals('peer', tr, measured);
  t.equal(r.sessions, 5);
  t.equal(r.sessionsDiffering, 3, 'S-b over, S-c under, S-x unknown; S-e missing but zero in truth');
  t.equal(r.whDiffAbs, 40 + 10 + 25);
  t.equal(r.whDiffSigned, 40 - 10 + 25);
  t.equal(r.truthWh, 2500);
  t.equal(r.measuredWh, 2555);
  t.same(r.byFault, {
    clean: { sessions: 2, differing: 0, whDiffAbs: 0 },
    resend: { sessions: 1, differing: 1, whDiffAbs: 40 },
    conflict: { sessions: 1, differing: 1, whDiffAbs: 10 },
    out_of_order: { sessions: 1, differing: 0, whDiffAbs: 0 },
    unknown: { sessions: 1, differing: 1, whDiffAbs: 25 },
  });
  t.end();
});

void t.test('a session the system lost counts its whole energy', (t) => {
  const r = compareTotals('ours', new Map([['S-a', truth('S-a', 1234)]]), new Map());
  t.equal(r.sessionsDiffering, 1);
  t.equal(r.whDiffSigned, -1234);
  t.end();
});

void t.test('options are checked before anything runs, naming the option', async (t) => {
  await t.rejects(runPeerBench({ bogus: 1 } as unknown as PeerBenchOptions), { code: 'PEV_CONFIG', message: /unknown option "bogus"/ });
  await t.rejects(runPeerBench({ partitions: 0 }), { code: 'PEV_CONFIG', message: /partitions must be an integer >= 1/ });
  await t.rejects(runPeerBench({ exactness: { share: 0.5 } }), { code: 'PEV_CONFIG', message: /exactness\.share/ });
  await t.rejects(runPeerBench({ systems: ['flink' as 'peer'] }), { code: 'PEV_CONFIG', message: /systems/ });
  await t.rejects(runPeerBench({ topic: 'x' }), { code: 'PEV_CONFIG', message: /needs records/ });
});
