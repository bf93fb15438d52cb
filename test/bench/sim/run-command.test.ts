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
  const data = join(dir, 'chdb');
  const again = await run('node', [cli, 'refresh', '--data', data, '--json'], { timeout: 60_000 });
  t.same(JSON.parse(again.stdout), { database: 'pevmeter', refreshed: 0, seconds: (JSON.parse(again.stdout) as { seconds: number }).seconds });
  t.equal(again.stderr, JSON.stringify({ event: 'refresh.progress', done: 0, total: 0 }) + '\n', 'auto off a terminal: JSON lines');

  // With every finished rollup gone, each session is stale: refreshed again, with its progress.
  const forget = async (): Promise<void> => {
    await run('node', [cli, 'sql', '--data', data, '--allow-writes', 'TRUNCATE TABLE pevmeter.session_rollup_final'], { timeout: 60_000 });
  };
  await forget();
  const json = await run('node', [cli, 'refresh', '--data', data, '--progress', 'json', '--json'], { timeout: 60_000 });
  t.equal((JSON.parse(json.stdout) as { refreshed: number }).refreshed, stored.length, 'every session refreshed');
  t.same(
    json.stderr.trim().split('\n').map((l) => JSON.parse(l) as unknown),
    [{ event: 'refresh.progress', done: 0, total: stored.length }, { event: 'refresh.progress', done: stored.length, total: stored.length }],
  );
  await forget();
  const bar = await run('node', [cli, 'refresh', '--data', data, '--progress', 'bar'], { timeout: 60_000 });
  t.match(bar.stderr, new RegExp(`refresh \\|.*\\| ${stored.length}/${stored.length} sessions`), 'a bar when asked for, even in a pipe');
  t.match(bar.stdout, new RegExp(`^refreshed ${stored.length} session rollups in \\d+\\.\\d s \\(pevmeter\\); every other rollup was current\\n$`));
  const none = await run('node', [cli, 'refresh', '--data', data, '--progress', 'none', '--json'], { timeout: 60_000 });
  t.equal(none.stderr, '', 'none: nothing on stderr');
  t.equal((JSON.parse(none.stdout) as { refreshed: number }).refreshed, 0, 'and nothing left to refresh');
  const loud = await run('node', [cli, 'refresh', '--data', data, '--progress', 'loud']).then(
    () => '',
    (err: { stderr: string }) => err.stderr,
  );
  t.match(loud, /--progress must be one of auto, bar, json, none, got "loud"/, 'an unknown mode is a usage error');
});
