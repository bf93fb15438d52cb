/**
 * runChaos end to end at CI size: the checker's own check and a full replay, with the JSON per
 * scenario and the markdown table written as `npm run chaos` writes them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runChaos, summaryLines } from '../../../bench/chaos/run.js';
import { kafkaBrokers } from '../../helpers/services.js';

void t.test('checker and replay scenarios pass and leave their figures', async (t) => {
  const dir = t.testdir();
  const lines: string[] = [];
  const results = await runChaos({
    scenarios: ['checker', 'replay'],
    records: 100_000,
    seed: 'ci-run-1',
    partitions: 4,
    kills: 1,
    brokerDownMs: 0,
    storeDownMs: 0,
    brokers: await kafkaBrokers(),
    brokerPort: 19_392,
    clickhousePort: 0,
    workDir: join(dir, 'work'),
    outDir: join(dir, 'results'),
    keep: false,
    log: (line) => lines.push(line),
  });
  t.same(results.map((r) => [r.scenario, r.status]), [['checker', 'pass'], ['replay', 'pass']], lines.join('\n'));
  const checker = results[0]!;
  const noDedup = checker.checks.find((c) => /without deduplication fails/.test(c.name));
  t.equal(noDedup?.ok, true, 'a double delivery read without deduplication fails the checker');
  t.equal(checker.checks.find((c) => /unreachable/.test(c.name))?.ok, true, 'an unreachable store reads unverified');
  const replay = results[1]!;
  t.ok(replay.recordsFed >= 100_000);
  t.equal(replay.checks.find((c) => /reconciliation identical/.test(c.name))?.ok, true, 'flags and billing records identical after the replay');
  t.ok(replay.checks.every((c) => c.ok), replay.checks.map((c) => `${c.ok} ${c.name}: ${c.detail}`).join('\n'));

  for (const name of ['checker', 'replay']) {
    const file = join(dir, 'results', `chaos-${name}.json`);
    t.ok(existsSync(file), file);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { scenario: string; status: string; lost: unknown; doubleCounted: unknown; recordsFed: number };
    t.match(json, { scenario: name, status: 'pass', lost: { records: 0, wh: 0, uncoveredOffsets: 0 }, doubleCounted: { records: 0, wh: 0 } });
  }
  const md = readFileSync(join(dir, 'results', 'chaos.md'), 'utf8');
  t.match(md, /\| scenario \| verdict \| records fed \| faults \| lost \| double counted \| recovery \| redelivered \| run at \|/);
  t.match(md, /\| checker \| pass \|/);
  t.match(md, /\| replay \| pass \|/);
  t.match(summaryLines(replay).join('\n'), /records lost\s+0 intervals, 0 Wh/);
});
