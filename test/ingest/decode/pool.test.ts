import t from 'tap';
import { createDecodePool, workerFile } from '../../../ingest/decode/pool.js';
import { TOPICS } from '../../../schemas/index.js';
import { INTERVAL_TSV, INTERVAL, framed, framedTask, originTsv, text } from './fixtures.js';

// Runs the TypeScript worker source: tap's loader reaches worker threads through the execArgv
// they inherit, so no build is needed for this test.
void t.test('the pool decodes in worker threads and moves buffers both ways', async (t) => {
  t.match(workerFile(), /ingest\/decode\/worker\.ts$/);
  const pool = createDecodePool({ threads: 2, maxQueue: 8 });
  t.teardown(() => pool.close());
  t.equal(pool.threads, 2);

  const task = framedTask('interval', [{ value: framed('interval', INTERVAL) }, { value: Buffer.of(1, 2, 3) }]);
  const data = task.data;
  const starts = task.starts;
  t.equal(data.byteLength > 0, true);
  const result = await pool.run(task);
  t.equal(data.byteLength, 0, 'the batch buffer was transferred, not copied');
  t.equal(starts.length, 0, 'index arrays too');
  t.equal(text(result.tables[0]!.tsv), INTERVAL_TSV + originTsv(TOPICS.interval, 3, 100));
  t.equal(result.tables[0]!.tsv.buffer.constructor, ArrayBuffer, 'rows arrive as this thread\'s own buffer');
  t.same(result.dead.code, ['PEV_NO_MAGIC']);
  t.equal(result.dead.offset[0], 101);
  t.same([...result.dead.payload], [1, 2, 3]);

  // Several batches at once, in both threads: every one comes back whole.
  const many = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.run(framedTask('interval', [{ value: framed('interval', { ...INTERVAL, seq: i }), offset: i }]))));
  t.same(many.map((r) => r.stats.ok.interval), [1, 1, 1, 1, 1, 1]);
  t.same(many.map((r) => text(r.tables[0]!.tsv).split('\t')[1]), ['0', '1', '2', '3', '4', '5']);
});

void t.test('options are checked and errors name the option', (t) => {
  t.throws(() => createDecodePool({ threads: 0 }), { code: 'PEV_CONFIG', message: /decode\.threads/ });
  t.throws(() => createDecodePool({ threads: 1, maxQueue: -1 }), { code: 'PEV_CONFIG', message: /decode\.maxQueue/ });
  t.end();
});
