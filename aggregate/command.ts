/**
 * The store's command. `pevmeter sql [QUERY]`: a SQL console for the store (embedded or a server), for the queries
 * `run` and docs/reconcile.md suggest. The query comes from the argument or from stdin; the output
 * is a table on a terminal and TabSeparatedWithNames in a pipe, unless --format says otherwise.
 */
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { addStoreOptions, configFromFlags, type StoreFlags } from '../schemas/cli-options.js';
import { PevmeterError } from '../schemas/errors.js';
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
