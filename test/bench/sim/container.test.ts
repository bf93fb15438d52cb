import t from 'tap';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { latestSchema, type VehicleReport } from '../../../schemas/index.js';
import { ContainerWriter, CONTAINER_MAGIC } from '../../../bench/sim/container.js';

async function decodeAll(path: string): Promise<{ records: unknown[]; header: { meta: Record<string, Buffer> } }> {
  const records: unknown[] = [];
  let header: { meta: Record<string, Buffer> } | undefined;
  await new Promise<void>((resolve, reject) => {
    createReadStream(path)
      .pipe(new avro.streams.BlockDecoder({ parseHook: (schema: avro.Schema) => avro.Type.forSchema(schema, { wrapUnions: true }) }))
      .on('metadata', (_type: avro.Type, _codec: string, h: { meta: Record<string, Buffer> }) => (header = h))
      .on('data', (r: unknown) => records.push(r))
      .on('end', resolve)
      .on('error', reject);
  });
  if (!header) throw new Error('no header');
  return { records, header };
}

void t.test("avsc's BlockDecoder reads the files, across block boundaries", async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'pev.vehicle-report.avro');
  const { type, text } = latestSchema('vehicleReport');
  const sync = Uint8Array.from({ length: 16 }, (_, i) => i * 7);
  // Small blocks so the file holds many.
  const w = new ContainerWriter(path, text, sync, 1000);
  const written: VehicleReport[] = [];
  for (let i = 0; i < 500; i++) {
    const r: VehicleReport = { session_id: `S-${i.toString(16).padStart(16, '0')}`, pev_id: '5YJ3E1EA7KF317000', esci_id: 'ESCI-00000001', report_time: 1_790_000_000_000 + i * 300_000, running_wh: i * 17 };
    const body = type.toBuffer(r);
    w.append(body, 0, body.length);
    written.push(r);
  }
  const stats = w.close();
  t.equal(stats.records, 500);
  t.ok(stats.blocks > 10, `${stats.blocks} blocks`);
  const bytes = readFileSync(path);
  t.equal(bytes.length, stats.bytes);
  t.same([...bytes.subarray(0, 4)], [...CONTAINER_MAGIC]);
  const { records, header } = await decodeAll(path);
  t.same(records, written);
  t.equal(header.meta['avro.codec']?.toString(), 'null');
  t.same(JSON.parse(header.meta['avro.schema']?.toString() ?? '{}'), JSON.parse(text));
});

void t.test('an empty file is a valid container with no records; a record larger than a block fits', async (t) => {
  const dir = t.testdir();
  const { type, text } = latestSchema('vehicleReport');
  const empty = join(dir, 'empty.avro');
  new ContainerWriter(empty, text, new Uint8Array(16)).close();
  t.same((await decodeAll(empty)).records, []);
  const big = join(dir, 'big.avro');
  const w = new ContainerWriter(big, text, new Uint8Array(16).fill(9), 16);
  const r: VehicleReport = { session_id: 'S-' + 'a'.repeat(16), pev_id: 'X'.repeat(17), esci_id: 'ESCI-FFFFFFFF', report_time: 1, running_wh: 2 };
  const body = type.toBuffer(r);
  w.append(body, 0, body.length);
  w.append(body, 0, body.length);
  t.equal(w.close().records, 2);
  t.same((await decodeAll(big)).records, [r, r]);
  t.throws(() => new ContainerWriter(join(dir, 'x.avro'), text, new Uint8Array(3)), RangeError);
});
