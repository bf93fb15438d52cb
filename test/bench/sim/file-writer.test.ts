import t from 'tap';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_KINDS, TOPICS } from '../../../schemas/index.js';
import { FAULT_KINDS, type FaultKind, type SessionTruth } from '../../../bench/sim/fleet.js';
import { FileSink, MANIFEST_FILE, TRUTH_FILE, TruthFile, containerFileName, writeFleetFiles, writeFleetFilesSync, type FilesManifest } from '../../../bench/sim/file-writer.js';
import { Fleet } from '../../../bench/sim/fleet.js';
import { Collector, countedIntervals, readContainer } from './decode.js';

// dr_violation applies only to sessions under a demand-response delay (about 3% of them).
const faults = { ...Object.fromEntries(FAULT_KINDS.map((k) => [k, 0.03])), dr_violation: 0.01 } as Record<FaultKind, number>;
const OPTIONS = { premises: 60, seed: 'files', faults };

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = createHash('sha256').update(readFileSync(join(dir, f))).digest('hex');
  return out;
}

void t.test('same seed and options: byte-identical files; another seed: different files', async (t) => {
  const dir = t.testdir({ a: {}, b: {}, c: {} });
  const a = await writeFleetFiles(OPTIONS, join(dir, 'a'));
  await writeFleetFiles(OPTIONS, join(dir, 'b'));
  await writeFleetFiles({ ...OPTIONS, seed: 'files-2' }, join(dir, 'c'));
  const ha = hashes(join(dir, 'a'));
  t.same(Object.keys(ha), [MANIFEST_FILE, ...RECORD_KINDS.map(containerFileName)].concat(TRUTH_FILE).sort());
  t.same(hashes(join(dir, 'b')), ha);
  const hc = hashes(join(dir, 'c'));
  for (const f of Object.keys(ha)) if (f !== MANIFEST_FILE) t.not(hc[f], ha[f], `${f} differs with another seed`);
  t.ok(a.intervalRecords > 10_000);
  t.ok(a.intervalRecordsPerSecond > 0);
});

/**
 * The files of a default fleet, as the simulator wrote them before the validation fault kinds
 * (auth_failed...) existed: those kinds default to share 0 and are assigned after every other
 * kind, so a seed's default fleet keeps its bytes. (manifest.json is left out: it lists every
 * kind's share and count, the new ones at 0.)
 */
void t.test('a default fleet is byte for byte what it was before the validation kinds', async (t) => {
  const dir = t.testdir();
  await writeFleetFiles({ premises: 400, seed: 'hash-defaults' }, dir);
  const h = hashes(dir);
  delete h[MANIFEST_FILE];
  t.same(h, {
    'pev.enrollment.avro': '4536637ab7c3b41221482b1a3241bc0043cfaa536dfe833e29ea707a042818ec',
    'pev.eumd-interval.avro': 'd100995d8a74083c219ab57fd8b465f39ca39388c7019e4fa28973f0997ee9b6',
    'pev.session-event.avro': 'eded028737221ebe8361342b4bd8f1b053d36a0f8c266729067d1b1b39404430',
    'pev.vehicle-report.avro': '301ca1d21a5c9c86aa392ddac3c3ba5f1d42844c165de5e8b3b8a07d48269479',
    'truth.jsonl': '61f84ea6c4ed002097a7c29255cbabcb7dcae6cc55fdc2c8701a7bbf35612bd6',
  });
});

void t.test('a truth line is exactly JSON.stringify of the truth', (t) => {
  const dir = t.testdir();
  const fleet = new Fleet({ ...OPTIONS, premises: 15 });
  const file = new TruthFile(join(dir, 'truth.jsonl'));
  const expected: string[] = [];
  fleet.forEach(() => undefined, (tr) => {
    file.write(tr);
    expected.push(JSON.stringify(tr) + '\n');
  });
  // A truth from elsewhere (no flat pairs) is written by JSON.stringify itself.
  const plain: SessionTruth = { ...(JSON.parse(expected[0]!) as SessionTruth), minutes: [[1_790_812_860, 0], [1_790_812_920, -5]] };
  file.write(plain);
  expected.push(JSON.stringify(plain) + '\n');
  file.close();
  t.equal(readFileSync(join(dir, 'truth.jsonl'), 'utf8'), expected.join(''));
  t.ok(expected.length > 50);
  t.end();
});

void t.test('framed messages unpacked into the files give the same bytes as bodies written directly', async (t) => {
  const dir = t.testdir({ direct: {}, framed: {} });
  const options = { ...OPTIONS, premises: 20, recordsPerMessage: 16 };
  await writeFleetFiles(options, join(dir, 'direct'));
  const fleet = new Fleet(options);
  const sink = new FileSink(join(dir, 'framed'), fleet);
  for (const m of fleet.messages((tr) => sink.session(tr))) sink.message(m);
  sink.close();
  t.same(hashes(join(dir, 'framed')), hashes(join(dir, 'direct')));
});

void t.test('container files decode to the truth: per session, the unique intervals add up exactly', async (t) => {
  const dir = t.testdir();
  const result = await writeFleetFiles(OPTIONS, dir);
  const truths = readFileSync(join(dir, TRUTH_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SessionTruth);
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as FilesManifest;
  t.equal(truths.length, result.sessions);
  t.equal(manifest.sessions, truths.length);

  const data = new Collector();
  for (const kind of RECORD_KINDS) {
    const { records, bodies } = await readContainer(join(dir, containerFileName(kind)));
    const entry = manifest.files?.[TOPICS[kind]];
    t.equal(records.length, entry?.records, `${kind}: records in the file = manifest`);
    t.equal(readFileSync(join(dir, containerFileName(kind))).length, entry?.bytes);
    // A container holds every good record; malformed messages are the only thing skipped.
    t.equal(records.length, manifest.topics[TOPICS[kind]]?.records);
    records.forEach((r, i) => data.add(kind, r, bodies[i]!));
  }
  t.equal(data.enrollments.length, OPTIONS.premises + manifest.faults.enrollment_ends, 'one per premise, and a renewal per enrollment_ends session');
  t.equal(manifest.skipped_for_files?.messages, manifest.malformed.messages);
  t.ok((manifest.skipped_for_files?.messages ?? 0) > 0, 'malformed messages were skipped for the files');
  t.same(manifest.skipped_for_files?.byCode, manifest.malformed.byCode);

  let exact = 0;
  for (const tr of truths) {
    const v = data.sessions.get(tr.session_id);
    if (!v) {
      t.fail(`${tr.session_id}: nothing in the files`);
      continue;
    }
    let sum = 0;
    for (const r of countedIntervals(v).values()) sum += r.energy_wh;
    if (sum !== tr.interval_sum_wh) t.fail(`${tr.session_id}: files ${sum} Wh, truth ${tr.interval_sum_wh} Wh`);
    const lossy = tr.faults.some((f) => ['gap', 'interrupted', 'future_time', 'negative_interval'].includes(f));
    if (!lossy) {
      if (sum !== tr.energy_wh) t.fail(`${tr.session_id}: files ${sum} Wh, true energy ${tr.energy_wh} Wh`);
      else exact++;
    }
  }
  t.ok(exact > truths.length * 0.8, `${exact} sessions sum to their true energy`);
  for (const kind of FAULT_KINDS) t.equal(truths.filter((x) => x.faults.includes(kind)).length, Math.round(faults[kind] * truths.length), kind);
  t.equal(manifest.totals.interval_sum_wh, truths.reduce((a, x) => a + x.interval_sum_wh, 0));
});

void t.test('a symbolic link in the output folder is refused, not followed; the target is unchanged', (t) => {
  const dir = t.testdir({ 'victim.txt': 'precious\n', out: {} });
  for (const name of [TRUTH_FILE, containerFileName('interval')]) {
    const out = join(dir, `out-${name}`);
    mkdirSync(out);
    symlinkSync(join(dir, 'victim.txt'), join(out, name));
    t.throws(() => writeFleetFilesSync(OPTIONS, out), { code: 'ELOOP' }, `${name} as a link: refused (ELOOP)`);
    t.ok(lstatSync(join(out, name)).isSymbolicLink(), `${name}: still a link`);
  }
  t.equal(readFileSync(join(dir, 'victim.txt'), 'utf8'), 'precious\n', 'the link target is unchanged');
  t.end();
});
