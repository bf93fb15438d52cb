/**
 * Migrations: `schemas/clickhouse/NNN_name.sql`, applied in order, each at most once per database,
 * recorded in `{db}.schema_migrations`. Every statement is `IF NOT EXISTS`, so a migration cut off
 * half-way (crash, outage) is simply applied again from its first statement on the next start.
 */
import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouseMigrations } from '../../schemas/index.js';
import { clickhouseCode, toStoreError } from './errors.js';
import type { MigrationResult } from './types.js';

/**
 * Splits a SQL script into statements: `--` comments removed, split on `;` outside string
 * literals and quoted identifiers, so a `;` or `--` inside '...' survives.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i] as string;
    if (quote !== null) {
      cur += ch;
      if (ch === '\\' && i + 1 < sql.length) {
        cur += sql[++i] as string;
      } else if (ch === quote) {
        quote = null;
      }
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      cur += '\n';
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    if (ch === ';') {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Compares dotted versions numerically on as many parts as both have (`18.16.1` < `23.8`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10));
  const pb = b.split('.').map((x) => Number.parseInt(x, 10));
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (Number.isNaN(x) || Number.isNaN(y)) break;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

interface AppliedRow {
  name: string;
  checksum: string;
}

/** TABLE_ALREADY_EXISTS / DATABASE_ALREADY_EXISTS: a concurrent `IF NOT EXISTS` won the race. */
const RACE_CODES = new Set([57, 82]);

export async function runMigrations(
  client: ClickHouseClient,
  db: string,
  secrets: readonly string[],
): Promise<MigrationResult> {
  if (!isIdentifier(db)) throw new Error(`runMigrations: database ${JSON.stringify(db)} is not an identifier`);
  const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw toStoreError(err, what, secrets);
    }
  };
  const command = async (what: string, query: string): Promise<void> => {
    await step(what, async () => {
      try {
        await client.command({ query });
      } catch (err) {
        const code = clickhouseCode(err);
        if (code === undefined || !RACE_CODES.has(code)) throw err;
      }
    });
  };

  const versionRows = await step('read server version', async () => {
    const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
    return rs.json<{ v: string }>();
  });
  const serverVersion = versionRows[0]?.v ?? '0';

  await command(`create database ${db}`, `CREATE DATABASE IF NOT EXISTS ${db}`);
  // ReplacingMergeTree: two processes migrating at once both record a migration; one row survives.
  await command(
    `create ${db}.schema_migrations`,
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (name String, checksum String, applied_ms Int64, server_version String) ` +
      'ENGINE = ReplacingMergeTree ORDER BY name',
  );
  const done = await step(`read ${db}.schema_migrations`, async () => {
    const rs = await client.query({
      query: `SELECT name, any(checksum) AS checksum FROM ${db}.schema_migrations GROUP BY name`,
      format: 'JSONEachRow',
    });
    return rs.json<AppliedRow>();
  });
  const applied = new Map(done.map((r) => [r.name, r.checksum]));

  const result: MigrationResult = { applied: [], skipped: [], serverVersion };
  for (const m of clickhouseMigrations()) {
    const checksum = createHash('sha256').update(m.sql).digest('hex');
    const before = applied.get(m.name);
    if (before !== undefined) {
      if (before !== checksum) {
        // Statements are IF NOT EXISTS, so re-running an edited migration would change nothing;
        // say so instead of pretending the database matches the file.
        result.skipped.push({
          name: m.name,
          reason: `applied earlier from different text (sha256 ${before.slice(0, 12)}, file now ${checksum.slice(0, 12)}); the database keeps the earlier objects: recreate the database to pick up the change`,
        });
      }
      continue;
    }
    if (compareVersions(serverVersion, m.minServer) < 0) {
      // Not recorded, so an upgraded server picks it up on the next start.
      result.skipped.push({
        name: m.name,
        reason: `needs ClickHouse ${m.minServer} or newer, server is ${serverVersion}`,
      });
      continue;
    }
    const statements = splitStatements(m.sql.replaceAll('{db}', db));
    for (const [i, stmt] of statements.entries()) {
      const head = stmt.split('\n')[0]?.slice(0, 80) ?? '';
      await command(`migration ${m.name} statement ${i + 1} (${head})`, stmt);
    }
    await step(`record migration ${m.name}`, () =>
      client.insert({
        table: `${db}.schema_migrations`,
        values: [{ name: m.name, checksum, applied_ms: Date.now(), server_version: serverVersion }],
        format: 'JSONEachRow',
      }),
    );
    result.applied.push(m.name);
  }
  return result;
}
