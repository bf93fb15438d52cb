/**
 * The README's main job, run the way a user runs it: the compiled CLI, the embedded store, container
 * files as the source. Its stored totals must equal the simulator's truth, session by session.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../schemas/index.js';

const run = promisify(execFile);
const cli = join(packageRoot(), 'dist', 'cli.js');

t.test('pevmeter run --json: exact totals against the simulator truth', async (t) => {
  const dir = t.testdir();
  const { stdout } = await run('node', [cli, 'run', '--premises', '30', '--days', '2', '--seed', '5', '--data', join(dir, 'chdb'), '--json'], { timeout: 240_000 });
  const s = JSON.parse(stdout) as Record<string, unknown>;
  const truth = readFileSync(join(String(s['fleetDir']), 'truth.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { interval_sum_wh: number; intervals_delivered_unique: number });
  const stored = truth.filter((x) => x.intervals_delivered_unique > 0);
  t.equal(s['source'], 'files');
  t.equal(s['exact'], true);
  t.equal(s['mismatchedSessions'], 0);
  t.equal(s['sessions'], stored.length, 'one rollup per session with intervals');
  t.equal(s['energyWh'], stored.reduce((n, x) => n + x.interval_sum_wh, 0), 'energy equals the sum of the truth');
  t.equal(s['truthEnergyWh'], s['energyWh']);
  const manifest = JSON.parse(readFileSync(join(String(s['fleetDir']), 'manifest.json'), 'utf8')) as { files: Record<string, { records: number }> };
  const inFiles = Object.values(manifest.files).reduce((n, c) => n + c.records, 0);
  t.equal(s['recordsIn'], inFiles, 'every record in the container files was ingested');
  t.ok((s['minuteRows'] as number) > 0);
  t.equal(s['rollupsFinished'], stored.length, "every session's rollup finished after ingest");

  // The refresh command on the same store: nothing left to do, in JSON.
  const again = await run('node', [cli, 'refresh', '--data', join(dir, 'chdb'), '--json'], { timeout: 60_000 });
  t.same(JSON.parse(again.stdout), { database: 'pevmeter', refreshed: 0, seconds: (JSON.parse(again.stdout) as { seconds: number }).seconds });
});
