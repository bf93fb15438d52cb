import t from 'tap';
import { compareVersions, isIdentifier, splitStatements } from '../../../aggregate/store/migrate.js';
import { clickhouseMigrations } from '../../../schemas/index.js';

void t.test('splitStatements drops comments and splits on ; outside quotes', (t) => {
  const sql = [
    '-- header; with a semicolon',
    "CREATE TABLE a (x String DEFAULT 'a;b--c') ENGINE = Log; -- trailing",
    'SELECT 1 -- no semicolon yet',
    ';',
    "SELECT 'it''s', `we;ird`, \"q;\" , 'esc\\';'",
    '-- only a comment;',
  ].join('\n');
  t.same(
    splitStatements(sql).map((s) => s.replace(/\s+/g, ' ')),
    ["CREATE TABLE a (x String DEFAULT 'a;b--c') ENGINE = Log", 'SELECT 1', "SELECT 'it''s', `we;ird`, \"q;\" , 'esc\\';'"],
  );
  t.same(splitStatements('-- nothing\n\n'), []);
  t.end();
});

void t.test('the shipped migrations split into idempotent statements (IF NOT EXISTS, IF EXISTS, state backfills)', (t) => {
  // An INSERT is idempotent only into a table of mergeable min/max/set states (006's backfill,
  // 009's interval_copies, whose merge is a set union), or into billing_export_scope (008: keyed by export_id, replacing, and the backfill selects
  // only exports without a scope): it is allowed into those tables alone. A plain view holds no
  // data, so replacing one (005) is. ADD COLUMN IF NOT EXISTS is, and so is the sorting-key change
  // ClickHouse only accepts in the same statement (re-applying it leaves the key as it is). DROP
  // ... IF EXISTS is (009 removes what it replaces). 011's backfill into session_version, a change
  // counter, run twice counts twice: every session is then stale once more, never wrongly current
  // (docs/architecture.md). Emptying session_rollup_final, rows a refresh writes again, is too.
  const idempotent =
    /^(CREATE (TABLE|VIEW|MATERIALIZED VIEW|DATABASE) IF NOT EXISTS \{db\}\.|CREATE OR REPLACE VIEW \{db\}\.|ALTER TABLE \{db\}\.\w+ RENAME COLUMN IF EXISTS \w+ TO \w+$|ALTER TABLE \{db\}\.\w+\s+ADD COLUMN IF NOT EXISTS \w+ (\w+( DEFAULT '')?|SimpleAggregateFunction\(sum, UInt64\) DEFAULT 0|Array\(Tuple\([\w, ]+\)\) AFTER \w+)(,\s+MODIFY ORDER BY \([\w, ]+\))?$|DROP (VIEW|TABLE) IF EXISTS \{db\}\.\w+$|TRUNCATE TABLE \{db\}\.session_rollup_final$|INSERT INTO \{db\}\.(\w+_state|interval_copies|session_by_\w+|enrollment_by_\w+|billing_export_scope|session_version)\s+SELECT\s)/;
  for (const m of clickhouseMigrations()) {
    const stmts = splitStatements(m.sql);
    t.ok(stmts.length > 0, m.name);
    for (const s of stmts) t.match(s, idempotent, `${m.name}: idempotent`);
  }
  t.notMatch('ALTER TABLE {db}.billing_record RENAME COLUMN a TO b', idempotent, 'a rename without IF EXISTS is not');
  t.notMatch('INSERT INTO {db}.interval_raw SELECT * FROM {db}.interval_raw', idempotent, 'an insert into a raw table is not');
  t.notMatch('DROP TABLE {db}.interval_state', idempotent, 'a drop without IF EXISTS is not');
  t.notMatch('TRUNCATE TABLE {db}.interval_raw', idempotent, 'emptying a table of received rows is not');
  t.end();
});

void t.test('compareVersions is numeric', (t) => {
  t.equal(compareVersions('18.16.1', '23.8'), -1);
  t.equal(compareVersions('23.8.2.7', '23.8'), 0);
  t.equal(compareVersions('26.7.2.1', '23.8'), 1);
  t.equal(compareVersions('9.1', '10.0'), -1);
  t.end();
});

void t.test('isIdentifier', (t) => {
  for (const ok of ['pevmeter', '_x1', 'A'.repeat(63)]) t.ok(isIdentifier(ok), ok);
  for (const bad of ['', '1db', 'a-b', 'a.b', 'a b', 'x;DROP', 'A'.repeat(64), 'é']) t.notOk(isIdentifier(bad), bad);
  t.end();
});
