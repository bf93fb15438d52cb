/**
 * Makes an embedded store K times larger for `npm run bench:queries` (a program, not a test):
 * every row of the raw tables and of the enrollments is copied K-1 times under new IDs, in SQL
 * (`INSERT ... SELECT`), so the aggregates' materialized views see the copies as they would see
 * arriving data. Generating a 5,000,000-session month row by row in JavaScript takes over an hour
 * on two cores; copying the 1,000,000-session store four times took 16 CPU minutes (2026-12-05,
 * 53 minutes of wall time on a machine loaded to 15-40 by other work).
 *
 *   node dist/bench/queries/replicate.js --data DIR --times 5
 *
 * Copy k (1 ... K-1) of a record: session ID `S-` + 16 hex digits of cityHash64(session ID, k)
 * (the form reconcile's session ranges expect), premise and account numbers + k * 100,000,000
 * (the bench's IDs are `P1xxxxxxxx`, `A1xxxxxxxx`), PEV, ESCI and EUMD IDs suffixed with k, Kafka
 * offsets + k * 10^12. Times and energies are unchanged: the copies are the same month, so the
 * store holds K times the sessions, premises, PEVs and accounts of one period, and each key's
 * answer keeps its size. Run it once on a copy of the store (`cp -a`): it refuses a store that
 * already holds copies.
 */
import { Command, InvalidArgumentError } from 'commander';
import { openStore } from '../../aggregate/store/connect.js';
import { toInt } from '../../aggregate/store/values.js';

function times(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 9) throw new InvalidArgumentError(`expected an integer from 2 to 9, got ${value}`);
  return n;
}

/** Column expressions of copy {k:UInt32}, by column name; other columns are copied as they are. */
const RENAMED: Record<string, string> = {
  session_id: "concat('S-', leftPad(lower(hex(cityHash64(session_id, {k:UInt32}))), 16, '0'))",
  premise_id: "concat('P', toString(toUInt64(substring(premise_id, 2)) + {k:UInt32} * 100000000))",
  account_id: "concat('A', toString(toUInt64(substring(account_id, 2)) + {k:UInt32} * 100000000))",
  pev_id: "concat(pev_id, toString({k:UInt32}))",
  esci_id: "concat(esci_id, toString({k:UInt32}))",
  eumd_id: "concat(eumd_id, toString({k:UInt32}))",
  src_offset: 'src_offset + {k:UInt32} * 1000000000000',
};

/**
 * The bench's PEV IDs are VINs (17 characters); a copy's are longer, so only originals are copied.
 * Applied in a subquery: ClickHouse resolves a WHERE against the SELECT's aliases, which rename
 * pev_id.
 */
const ORIGINAL = 'length(pev_id) = 17';

const TABLES = ['enrollment', 'session_event_raw', 'vehicle_report_raw', 'interval_raw'] as const;

const o = new Command('replicate')
  .description('make an embedded store K times larger by copying its rows under new IDs')
  .requiredOption('--data <dir>', 'chDB folder of the store (a copy: it is changed)')
  .option('--database <name>', 'database in the store', 'pevbench')
  .option('--times <k>', 'size of the result, in times the original', times, 5)
  .parse(process.argv)
  .opts<{ data: string; database: string; times: number }>();

const store = await openStore({ kind: 'embedded', path: o.data, database: o.database });
try {
  await store.migrate();
  const [copied] = await store.select<{ n: unknown }>(`SELECT count() AS n FROM {db}.enrollment WHERE NOT (${ORIGINAL})`);
  if (toInt(copied?.n ?? 0) > 0) throw new Error(`${o.data} already holds copies (PEV IDs longer than a VIN): start from the original store`);
  for (const table of TABLES) {
    const cols = await store.select<{ name: string }>(
      "SELECT name FROM system.columns WHERE database = {database:String} AND table = {table:String} AND default_kind != 'MATERIALIZED' ORDER BY position",
      { database: store.database, table },
    );
    const names = cols.map((c) => c.name);
    const select = names.map((n) => (RENAMED[n] === undefined ? n : `${RENAMED[n]} AS ${n}`)).join(', ');
    for (let k = 1; k < o.times; k++) {
      const t0 = performance.now();
      await store.client.command({
        query: `INSERT INTO ${store.database}.${table} (${names.join(', ')}) SELECT ${select} FROM (SELECT ${names.join(', ')} FROM ${store.database}.${table} WHERE ${ORIGINAL})`.replaceAll('{db}', store.database),
        query_params: { k },
      });
      console.log(`${table}: copy ${k} of ${o.times - 1} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  const [n] = await store.select<{ n: unknown }>('SELECT uniqExact(session_id) AS n FROM {db}.session_by_pev');
  console.log(`the store now indexes ${toInt(n?.n ?? 0)} sessions`);
} finally {
  await store.close();
}
