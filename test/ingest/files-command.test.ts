/**
 * `pevmeter ingest-files` as a user sees it: a progress bar on a terminal and nothing on a pipe,
 * and a summary with the records lost beside the dead letters (one letter can stand for a block).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import avro from 'avsc';
import { ingestFilesWithProgress } from '../../ingest/files-command.js';
import { loadConfig } from '../../schemas/config.js';
import { createLogger } from '../../ingest/log.js';
import { withPipeline } from '../../ingest/service.js';
import { packageRoot } from '../../schemas/index.js';
import { goodInterval } from './bad-input/cases.js';
import { buildContainer, buildContainerOf } from './bad-input/container-files.js';

const dir = t.testdirName;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
const good = join(dir, 'files-cmd-good.avro');
writeFileSync(good, buildContainer('interval', Array.from({ length: 6 }, (_, b) => Array.from({ length: 50 }, (_, i) => goodInterval(b * 50 + i, { energy_wh: 10 + i })))).bytes);
const status = avro.Type.forSchema({ type: 'record', name: 'MeterStatus', fields: [{ name: 'ok', type: 'boolean' }] });
const unknown = join(dir, 'files-cmd-status.avro');
writeFileSync(unknown, buildContainerOf({ text: JSON.stringify(status.schema()), type: status }, [Array.from({ length: 697 }, () => ({ ok: true }))]).bytes);

function stream(isTTY: boolean): { s: PassThrough & { isTTY: boolean; columns: number }; text: () => string } {
  const s = Object.assign(new PassThrough(), { isTTY, columns: 120 });
  let out = '';
  s.on('data', (c: Buffer) => (out += c.toString()));
  return { s, text: () => out };
}

void t.test('a bar on a terminal, nothing otherwise', async (t) => {
  const cfg = loadConfig({ env: {}, flags: { 'store.path': join(dir, 'chdb'), 'pipeline.workers': 2, 'log.level': 'warn' } });
  const tty = stream(true);
  const s1 = await withPipeline(cfg, createLogger('warn'), (p) => ingestFilesWithProgress([good, unknown], { ...p }, tty.s));
  t.equal(s1.records, 300 + 697);
  t.match(tty.text(), /ingest \[[█░]+\] \d+% \| \d+\/\d+ bytes \| \d+ records/, 'the bar was drawn');
  const pipe = stream(false);
  const s2 = await withPipeline(cfg, createLogger('warn'), (p) => ingestFilesWithProgress([good], { ...p }, pipe.s));
  t.equal(s2.records, 300);
  t.equal(pipe.text(), '', 'not a terminal: nothing written');
});

void t.test('the command: summary counts records lost beside dead letters; quiet in a pipe', (t) => {
  const r = spawnSync(process.execPath, [join(packageRoot(), 'dist', 'cli.js'), 'ingest-files', '--data', join(dir, 'chdb-cli'), '--workers', '2', '--log-level', 'warn', good, unknown], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, 'exit 0: the unknown file is dead-lettered, the batch goes on');
  t.equal(r.stderr, '', 'stderr is a pipe: no bar, no noise');
  const s = JSON.parse(r.stdout) as Record<string, unknown>;
  t.match(s, { files: 2, records: 997, rowsByTable: { interval_raw: 300, dead_letter: 1 }, deadByCode: { PEV_WRONG_RECORD_TYPE: 1 }, recordsLost: 697, lostByCode: { PEV_WRONG_RECORD_TYPE: 697 } });
  t.end();
});
