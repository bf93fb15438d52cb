/**
 * Files the command line writes (reconcile/output.ts, the --report and --out of reconcile) and
 * what goes in them (CSV fields that a spreadsheet would run as formulas): a symbolic link is
 * refused with or without --force and its target is left as it was; an existing file is refused
 * unless --force, before any work; --force replaces it; no temporary file is left behind.
 */
import t from 'tap';
import { existsSync, lstatSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { openStore } from '../../aggregate/store/connect.js';
import { csvField } from '../../reconcile/billing.js';
import { runReconcile, type CommandIo } from '../../reconcile/command.js';
import { checkOutput, writeOutput } from '../../reconcile/output.js';
import { Fixture, sid } from './fixtures.js';

function io(): CommandIo {
  return { stdout: new PassThrough().resume(), stderr: Object.assign(new PassThrough().resume(), { isTTY: false }) };
}

void t.test('writeOutput: new, existing, --force, symbolic links', (t) => {
  const dir = t.testdir({ 'victim.txt': 'precious\n', 'old.html': 'old report\n', sub: {} });
  const victim = join(dir, 'victim.txt');
  symlinkSync(victim, join(dir, 'link.html'));
  symlinkSync(join(dir, 'nowhere.txt'), join(dir, 'dangling.html'));

  writeOutput(join(dir, 'new.html'), 'fresh', { force: false, flag: '--report' });
  t.equal(readFileSync(join(dir, 'new.html'), 'utf8'), 'fresh', 'a new file is written');

  t.throws(() => writeOutput(join(dir, 'old.html'), 'x', { force: false, flag: '--report' }), { code: 'PEV_INPUT', message: `--report ${JSON.stringify(join(dir, 'old.html'))} exists; pass --force to replace it` });
  t.equal(readFileSync(join(dir, 'old.html'), 'utf8'), 'old report\n', 'an existing file is left as it was');
  writeOutput(join(dir, 'old.html'), 'replaced', { force: true, flag: '--report' });
  t.equal(readFileSync(join(dir, 'old.html'), 'utf8'), 'replaced', '--force replaces it');

  for (const force of [false, true]) {
    for (const name of ['link.html', 'dangling.html']) {
      t.throws(() => writeOutput(join(dir, name), 'evil', { force, flag: '--out' }), { code: 'PEV_INPUT', message: `--out ${JSON.stringify(join(dir, name))} is a symbolic link; pevmeter does not write through links: give the file's own path` }, `${name}, force ${force}: refused`);
      t.ok(lstatSync(join(dir, name)).isSymbolicLink(), `${name}, force ${force}: the link is still a link`);
    }
  }
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the link target is unchanged');
  t.notOk(existsSync(join(dir, 'nowhere.txt')), 'nothing created where the dangling link points');
  t.throws(() => writeOutput(join(dir, 'sub'), 'x', { force: true, flag: '--out' }), { code: 'PEV_INPUT', message: /exists and is not a regular file$/ });
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  t.end();
});

void t.test('reconcile --report and --out: refused before any work, --force replaces', async (t) => {
  const dir = t.testdir({ 'victim.txt': 'precious\n', 'existing.csv': 'old export\n', 'existing.html': 'old report\n' });
  const victim = join(dir, 'victim.txt');
  symlinkSync(victim, join(dir, 'link.html'));
  const data = join(dir, 'chdb');
  const base = { data, database: 'rout', from: '2026-10-01T07:00:00Z', to: '2026-11-01T07:00:00Z', asOf: '2026-11-02T00:00:00Z', progress: 'none' as const };
  // No store exists yet: a refusal that came after opening it would have made the folder.
  await t.rejects(runReconcile({ ...base, report: join(dir, 'link.html') }, io()), { code: 'PEV_INPUT', message: /--report .*link\.html" is a symbolic link/ });
  await t.rejects(runReconcile({ ...base, report: join(dir, 'link.html'), force: true }, io()), { code: 'PEV_INPUT', message: /is a symbolic link/ });
  await t.rejects(runReconcile({ ...base, export: 'csv', out: join(dir, 'existing.csv') }, io()), { code: 'PEV_INPUT', message: /--out .*existing\.csv" exists; pass --force to replace it/ });
  await t.rejects(runReconcile({ ...base, report: join(dir, 'same'), export: 'csv', out: join(dir, 'same') }, io()), { code: 'PEV_INPUT', message: '--report and --out name the same file' });
  t.notOk(existsSync(data), 'refused before the store was opened');
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the link target is unchanged');
  t.equal(readFileSync(join(dir, 'existing.csv'), 'utf8'), 'old export\n', 'the existing export is unchanged');

  const seed = await openStore({ kind: 'embedded', path: data, database: 'rout' });
  await seed.migrate();
  const fx = new Fixture().enroll({ programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
  fx.session({ sessionId: sid(1), energies: Array.from({ length: 30 }, () => 100) });
  await fx.write(seed);
  await seed.close();
  const r = await runReconcile({ ...base, report: join(dir, 'existing.html'), export: 'csv', out: join(dir, 'existing.csv'), force: true }, io());
  t.match(r, { summary: { sessions: 1, billed: 1, billedWh: 3000 }, export: { records: 1, energyWh: 3000 } });
  t.match(readFileSync(join(dir, 'existing.html'), 'utf8'), /data-total="sessions" data-value="1"/, '--force: the report is replaced');
  t.equal(readFileSync(join(dir, 'existing.csv'), 'utf8').trim().split('\n').length, 2, '--force: the export is replaced (header and one line)');
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
});

void t.test('CSV fields a spreadsheet would run as formulas are neutralised', (t) => {
  const cases: [string | number, string][] = [
    ['=1+2', `"'=1+2"`],
    ['+SUM(A1)', `"'+SUM(A1)"`],
    ['-EV-TOU', `"'-EV-TOU"`],
    ['@cmd', `"'@cmd"`],
    ['\t=1', `"'\t=1"`],
    ['\r=1', `"'\r=1"`],
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['EV-TOU-2026', 'EV-TOU-2026'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    [-125, '-125'],
    [0, '0'],
  ];
  for (const [v, want] of cases) t.equal(csvField(v), want, JSON.stringify(v));
  t.doesNotThrow(() => checkOutput(join(t.testdirName, 'absent.csv'), { force: false, flag: '--out' }), 'an absent name may be written');
  t.end();
});
