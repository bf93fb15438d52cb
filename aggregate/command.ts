/**
 * The store's commands. `pevmeter refresh`: brings the finished session rollups up to date
 * (aggregate/rollups.ts, refreshRollups). `pevmeter sql [QUERY]`: a SQL console for the store (embedded or a server), for the queries
 * `run` and docs/reconcile.md suggest. The query comes from the argument or from stdin; the output
 * is a table on a terminal and TabSeparatedWithNames in a pipe, unless --format says otherwise.
 */
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { addStoreOptions, configFromFlags, type StoreFlags } from '../schemas/cli-options.js';
import { PevmeterError } from '../schemas/errors.js';
import { parseProgressMode, progressReporter, type ProgressMode } from '../schemas/progress.js';
import { refreshRollups } from './rollups.js';
import { openStore, storeOptionsOf } from './store/connect.js';
import { runUserSql } from './store/sql.js';

interface SqlFlags extends StoreFlags {
  format?: string;
  allowWrites?: boolean;
}

export function registerSqlCommand(program: Command): void {
  addStoreOptions(
    program
      .command('sql')
      .description('run one SQL query against the store and print its answer; read-only unless --allow-writes')
      .argument('[query]', 'the query (else read from stdin); tables are in the database, e.g. SELECT * FROM pevmeter.session_rollup LIMIT 10')
      .option('--format <name>', 'any ClickHouse output format: PrettyCompact, TabSeparatedWithNames, CSVWithNames, JSONEachRow, Vertical... (default: PrettyCompact on a terminal, else TabSeparatedWithNames); a FORMAT clause in the query wins')
      .option('--allow-writes', 'let the query change data (INSERT, ALTER, DROP...): without it the store refuses them (ClickHouse readonly = 1)'),
  ).action(async (query: string | undefined, flags: SqlFlags) => {
    let q = query;
    if (q === undefined) {
      if (process.stdin.isTTY) throw new PevmeterError('PEV_INPUT', 'no query: give it as an argument (pevmeter sql "SELECT ...") or on stdin');
      q = await text(process.stdin);
    }
    const format = flags.format ?? (process.stdout.isTTY ? 'PrettyCompact' : 'TabSeparatedWithNames');
    // No migrate: a read-only look must not create or change anything.
    const store = await openStore(storeOptionsOf(configFromFlags(flags)));
    try {
      await runUserSql(store, q, { format, out: process.stdout, ...(flags.allowWrites === true ? { allowWrites: true } : {}) });
    } finally {
      await store.close();
    }
  });
}

interface RefreshFlags extends StoreFlags {
  json?: boolean;
  progress?: ProgressMode;
}

export function registerRefreshCommand(program: Command): void {
  addStoreOptions(
    program
      .command('refresh')
      .description(
        'finish the session rollups: compute every session whose rollup is missing or older than its rows, so lookups and exports read one row per session; ' +
          'safe while ingest runs and when run again (run it after ingest, or every few minutes)',
      )
      .option('--progress <mode>', 'auto (a bar on a terminal, JSON lines otherwise), bar, json or none; on stderr', parseProgressMode, 'auto')
      .option('--json', 'print the result as JSON'),
  ).action(async (flags: RefreshFlags) => {
    const store = await openStore(storeOptionsOf(configFromFlags(flags)));
    const progress = progressReporter<{ done: number; total: number }>(flags.progress, process.stderr, {
      event: 'refresh.progress',
      format: 'refresh |{bar}| {value}/{total} sessions',
      position: (p) => ({ value: p.done, total: p.total }),
    });
    try {
      await store.migrate();
      const result = await refreshRollups(store, { onProgress: (done, total) => progress.onProgress({ done, total }) });
      progress.stop();
      process.stdout.write(
        flags.json === true
          ? JSON.stringify({ database: store.database, refreshed: result.stale, seconds: Number(result.seconds.toFixed(3)) }) + '\n'
          : `refreshed ${result.stale.toLocaleString('en-US')} session rollups in ${result.seconds.toFixed(1)} s (${store.database}); every other rollup was current\n`,
      );
    } finally {
      progress.stop();
      await store.close();
    }
  });
}
