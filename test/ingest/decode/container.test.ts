import t from 'tap';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { decodeBatch, decodeContainerBlock, deadBlockResult } from '../../../ingest/decode/batch.js';
import type { BatchResult } from '../../../ingest/decode/task.js';
import { containerBlockTask, readContainer, readContainerFile } from '../../../ingest/decode/container.js';
import type { ContainerItem } from '../../../ingest/decode/container.js';
import { latestSchema } from '../../../schemas/index.js';
import type { RecordKind } from '../../../schemas/index.js';
import { INGESTED_MS, INTERVAL, NOW_MS, SKEW_MS, VEHICLE_REPORT, text } from './fixtures.js';
import { columnsAsTsv } from '../../helpers/columns.js';

// Bytes that no record here contains, so the test can find block boundaries by searching for it.
const SYNC = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed, 0xfa, 0xce, 0xca, 0xfe, 0xba, 0xbe, 0x8b, 0xad, 0xf0, 0x0d]);
const FILE = 'fleet-0001.avro';

/** An Avro object container file written by avsc's own encoder (the format's reference here). */
async function containerFile(kind: RecordKind, values: object[], codec: 'null' | 'deflate', blockSize = 500): Promise<Buffer> {
  const enc = new avro.streams.BlockEncoder(latestSchema(kind).type, { codec, blockSize, syncMarker: SYNC });
  const chunks: Buffer[] = [];
  enc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => enc.on('end', resolve));
  for (const v of values) enc.write(v);
  enc.end();
  await done;
  return Buffer.concat(chunks);
}

const intervals = (n: number): object[] => Array.from({ length: n }, (_, i) => ({ ...INTERVAL, seq: i, energy_wh: i % 50 }));
const row = (seq: number, ordinal: number): string =>
  `${INTERVAL.session_id}\t${seq}\t${INTERVAL.esci_id}\t${INTERVAL.eumd_id}\t${INTERVAL.premise_id}\t${INTERVAL.pev_id}\t${INTERVAL.interval_start / 1000}\t60\t${seq % 50}\t${INTERVAL.register_wh}\t${INTERVAL.quality}\t${FILE}\t0\t${ordinal}\t${INGESTED_MS}\n`;

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) {
    await Promise.resolve();
    yield buf.subarray(i, i + size);
  }
}

interface Outcome {
  items: ContainerItem[];
  results: BatchResult[];
  rows: string;
  dead: { code: string; offset: number; records: number }[];
  records: number;
  ok: number;
}

/** Reads a file as the file source does: blocks through decodeBatch, bad items through deadBlockResult. */
async function ingest(buf: Buffer, kind: RecordKind = 'interval', chunkSize = 4096, columnar = false): Promise<Outcome> {
  const items: ContainerItem[] = [];
  const results: BatchResult[] = [];
  for await (const item of readContainer(chunks(buf, chunkSize))) {
    items.push(item);
    if (item.type === 'block') {
      results.push(decodeBatch(containerBlockTask(item, { topic: FILE, kind, nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS, columnar })));
    } else if (item.type === 'bad') {
      results.push(deadBlockResult({ topic: FILE, partition: 0, kind, firstOrdinal: item.firstOrdinal, count: item.count, code: item.code, message: item.message, payload: item.payload, ingestedMs: INGESTED_MS }));
    }
  }
  const dead: Outcome['dead'] = [];
  for (const r of results) for (let i = 0; i < r.dead.count; i++) dead.push({ code: r.dead.code[i]!, offset: r.dead.offset[i]!, records: r.dead.records[i]! });
  return {
    items, results, dead,
    rows: results.map((r) => {
      const t = r.tables[0]!;
      return t.columns ? columnsAsTsv([t.columns]) : text(t.tsv);
    }).join(''),
    records: results.reduce((n, r) => n + r.stats.records, 0),
    ok: results.reduce((n, r) => n + r.stats.ok[kind], 0),
  };
}

/** File positions of every sync marker after the header's. */
function syncPositions(buf: Buffer): number[] {
  const out: number[] = [];
  for (let at = buf.indexOf(SYNC); at >= 0; at = buf.indexOf(SYNC, at + 1)) out.push(at);
  return out.slice(1);
}

void t.test('good files, null and deflate, read in any chunk size: every record once, ordinals as offsets', async (t) => {
  for (const codec of ['null', 'deflate'] as const) {
    const file = await containerFile('interval', intervals(40), codec);
    for (const chunk of [1, 7, 100, 1 << 20]) {
      const o = await ingest(file, 'interval', chunk);
      const header = o.items[0]!;
      t.equal(header.type, 'header');
      if (header.type === 'header') t.equal(header.codec, codec);
      const blocks = o.items.filter((i) => i.type === 'block');
      t.ok(blocks.length >= 5, `${codec}/${chunk}: ${blocks.length} blocks`);
      let next = 0;
      for (const b of blocks) {
        if (b.type !== 'block') continue;
        t.equal(b.firstOrdinal, next);
        next += b.count;
      }
      t.equal(next, 40);
      t.equal(o.rows, Array.from({ length: 40 }, (_, i) => row(i, i)).join(''), `${codec}/${chunk}: rows exact`);
      t.same(o.dead, []);
    }
  }
});

void t.test('container blocks as columns (the embedded store\'s form): the same rows and letters as text', async (t) => {
  const file = await containerFile('interval', intervals(40), 'deflate', 300);
  const asText = await ingest(file);
  const asColumns = await ingest(file, 'interval', 4096, true);
  t.ok(asColumns.results.every((r) => r.tables[0]?.columns !== undefined && r.tables[0].tsv.length === 0), 'every block came as columns');
  t.equal(asColumns.rows, Array.from({ length: 40 }, (_, i) => row(i, i)).join(''), 'rows exact, ordinals as offsets');
  t.equal(asColumns.rows, asText.rows, 'identical to the text rows');
  t.same(asColumns.dead, asText.dead);
  t.equal(asColumns.ok, 40);
  const reports = await ingest(await containerFile('vehicleReport', [VEHICLE_REPORT], 'null'), 'vehicleReport', 4096, true);
  t.equal(reports.ok, 1);
  t.equal(reports.results[0]!.tables[0]!.columns, undefined, 'other record kinds stay text');
});

void t.test('container corpus: bad header, bad sync marker, truncated or corrupt blocks', async (t) => {
  const file = await containerFile('interval', intervals(40), 'null');
  const syncs = syncPositions(file);
  const headerEnd = file.indexOf(SYNC) + 16;
  // Block k starts at headerEnd (k = 0) or just after sync k-1; its first ordinal is the records before it.
  const starts = [headerEnd, ...syncs.map((s) => s + 16)].slice(0, syncs.length);
  const good = await ingest(file);
  const blockOrdinals = good.items.filter((i) => i.type === 'block').map((b) => (b.type === 'block' ? [b.firstOrdinal, b.count] : [0, 0]));
  const [b2first, b2count] = blockOrdinals[2]!;

  const cases: { name: string; bytes: () => Buffer; dead: { code: string; offset: number; records: number }[]; ok: number }[] = [
    {
      name: 'bad magic',
      bytes: () => Buffer.concat([Buffer.from('Obj\x02', 'latin1'), file.subarray(4)]),
      dead: [{ code: 'PEV_CONTAINER_HEADER', offset: 0, records: 1 }], ok: 0,
    },
    {
      name: 'unsupported codec',
      bytes: () => {
        const f = Buffer.from(file);
        const at = f.indexOf('null', 0, 'latin1');
        f.write('zstd', at, 'latin1');
        return f;
      },
      dead: [{ code: 'PEV_CONTAINER_HEADER', offset: 0, records: 1 }], ok: 0,
    },
    {
      name: 'schema that does not parse',
      bytes: () => {
        const f = Buffer.from(file);
        f.write('"', f.indexOf('"fields"', 0, 'latin1') + 1, 'latin1');
        return f;
      },
      dead: [{ code: 'PEV_CONTAINER_HEADER', offset: 0, records: 1 }], ok: 0,
    },
    {
      name: 'header cut short',
      bytes: () => file.subarray(0, headerEnd - 3),
      dead: [{ code: 'PEV_CONTAINER_HEADER', offset: 0, records: 1 }], ok: 0,
    },
    {
      name: 'bad sync marker after block 2 (only the marker damaged)',
      bytes: () => {
        const f = Buffer.from(file);
        f[syncs[2]! + 5] = 0;
        return f;
      },
      dead: [{ code: 'PEV_CONTAINER_SYNC', offset: b2first!, records: b2count! }], ok: 40 - b2count!,
    },
    {
      name: 'block 2 size field corrupt (past the end of the file): resynced at the next marker',
      bytes: () => {
        const f = Buffer.from(file);
        // count (1 byte: under 64 records) then size (2 bytes: under 8192); 0xfe 0x7f = 8191 bytes.
        f[starts[2]! + 1] = 0xfe;
        f[starts[2]! + 2] = 0x7f;
        return f;
      },
      dead: [{ code: 'PEV_CONTAINER_BLOCK', offset: b2first!, records: b2count! }], ok: 40 - b2count!,
    },
    {
      name: 'truncated last block',
      bytes: () => file.subarray(0, syncs[syncs.length - 1]! - 10),
      dead: [{ code: 'PEV_CONTAINER_BLOCK', offset: blockOrdinals[blockOrdinals.length - 1]![0]!, records: blockOrdinals[blockOrdinals.length - 1]![1]! }],
      ok: blockOrdinals[blockOrdinals.length - 1]![0]!,
    },
    {
      name: 'block header garbage (negative count)',
      bytes: () => {
        const f = Buffer.from(file);
        f[starts[1]!] = 0x03; // zig-zag -2
        return f;
      },
      dead: [{ code: 'PEV_CONTAINER_BLOCK', offset: blockOrdinals[1]![0]!, records: 1 }], ok: 40 - blockOrdinals[1]![1]!,
    },
  ];
  for (const c of cases) {
    const o = await ingest(c.bytes());
    t.same(o.dead, c.dead, `${c.name}: ${o.items.filter((i) => i.type === 'bad').map((i) => (i.type === 'bad' ? i.message : '')).join('; ')}`);
    t.equal(o.ok, c.ok, `${c.name}: good records`);
    // Every good record is its own exact row, with its own ordinal.
    const want = Array.from({ length: 40 }, (_, i) => i).filter((i) => !c.dead.some((d) => c.dead[0]!.code !== 'PEV_CONTAINER_HEADER' && i >= d.offset && i < d.offset + d.records)).map((i) => row(i, i));
    if (c.dead[0]!.code === 'PEV_CONTAINER_HEADER') t.equal(o.rows, '', c.name);
    else if (c.dead[0]!.records > 1) t.equal(o.rows, want.join(''), `${c.name}: rows exact`);
    t.equal(o.ok + o.dead.reduce((n, d) => n + d.records, 0), o.records, `${c.name}: good + dead = input`);
  }
});

void t.test('blocks the worker rejects whole, and per-record validation inside a block', async (t) => {
  const file = await containerFile('interval', intervals(12), 'deflate', 10_000);
  const o = await ingest(file);
  t.equal(o.items.filter((i) => i.type === 'block').length, 1);
  const block = o.items[1]!;
  if (block.type !== 'block') throw new Error('expected a block');

  // Deflate has no checksum: flipped bytes can inflate to other bytes (then records fail to
  // validate one by one); a cut stream cannot inflate at all.
  const corrupt = new Uint8Array(block.data.slice(0, block.data.byteLength >> 1));
  const r1 = decodeBatch({ ...containerBlockTask({ ...block, data: corrupt.buffer }, { topic: FILE, kind: 'interval', nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS }) });
  t.same(r1.dead.code, ['PEV_CONTAINER_BLOCK'], r1.dead.text.join('; '));
  t.same([...r1.dead.records], [12]);
  t.equal(r1.stats.ok.interval, 0);

  const wrongKind = decodeBatch(containerBlockTask(block, { topic: FILE, kind: 'vehicleReport', nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS }));
  t.same(wrongKind.dead.code, ['PEV_WRONG_RECORD_TYPE']);
  t.same([...wrongKind.dead.records], [12]);

  // Count says 13 but the data holds 12: the block is not trusted.
  const miscount = decodeBatch(containerBlockTask({ ...block, count: 13, data: block.data.slice(0) }, { topic: FILE, kind: 'interval', nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS }));
  t.same(miscount.dead.code, ['PEV_CONTAINER_BLOCK']);
  t.match(miscount.dead.text[0], /declares 13 records; its data ends inside record 12/);
  const extra = decodeBatch(containerBlockTask({ ...block, count: 11, data: block.data.slice(0) }, { topic: FILE, kind: 'interval', nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS }));
  t.same(extra.dead.code, ['PEV_CONTAINER_BLOCK']);
  t.match(extra.dead.text[0], /bytes follow its 11 declared records/);

  // Inflating beyond the limit (zip-bomb guard).
  const bomb = deflateRawSync(Buffer.alloc(1 << 20));
  const r2 = decodeBatch(containerBlockTask({ ...block, data: new Uint8Array(bomb).buffer, count: 3 }, { topic: FILE, kind: 'interval', nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS, maxBlockBytes: 4096 }));
  t.same(r2.dead.code, ['PEV_CONTAINER_BLOCK']);

  // A record that decodes but fails validation is dead-lettered alone, origin = its ordinal.
  const values = intervals(6);
  values[4] = { ...INTERVAL, seq: 4, interval_s: 45, energy_wh: 4 };
  const mixed = await ingest(await containerFile('interval', values, 'null', 10_000));
  t.same(mixed.dead, [{ code: 'PEV_INTERVAL_LENGTH', offset: 4, records: 1 }]);
  t.equal(mixed.rows, [0, 1, 2, 3, 5].map((i) => row(i, i)).join(''));
});

void t.test('a file of another record kind, and readContainerFile from disk', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, FILE);
  writeFileSync(path, await containerFile('vehicleReport', [VEHICLE_REPORT, VEHICLE_REPORT], 'deflate'));
  const items: ContainerItem[] = [];
  for await (const item of readContainerFile(path)) items.push(item);
  t.same(items.map((i) => i.type), ['header', 'block']);
  const block = items[1]!;
  if (block.type !== 'block') throw new Error('expected a block');
  // From an open file handle too, which stays open for its owner.
  const handle = await open(path);
  const viaHandle: string[] = [];
  for await (const item of readContainer(handle)) viaHandle.push(item.type);
  t.same(viaHandle, ['header', 'block']);
  t.equal((await handle.stat()).size > 0, true, 'handle still open');
  await handle.close();
  const r = decodeBatch(containerBlockTask(block, { topic: FILE, kind: 'interval', nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS }));
  t.same(r.dead.code, ['PEV_WRONG_RECORD_TYPE']);
  t.match(r.dead.text[0], /container file schema is pevmeter\.v1\.VehicleReport; fleet-0001\.avro is read as interval records/);
  const plain = containerBlockTask(block, { topic: FILE, kind: 'vehicleReport', nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS });
  const ok = decodeContainerBlock(plain);
  const line = (ordinal: number): string => `S-0123456789abcdef\t1700000160500\t1HGCM82633A004352\tESCI-0A1B2C3D\t4321\t${FILE}\t0\t${ordinal}\t${INGESTED_MS}\n`;
  t.equal(text(ok.tables[0]!.tsv), line(0) + line(1));
});
