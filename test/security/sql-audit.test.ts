/**
 * An audit of how SQL text is built, over every TypeScript file outside test/: each value spliced
 * into SQL (a `${...}` in a template literal that reads as SQL or is passed as `query:`/`table:`,
 * a `+` concatenation with a SQL literal, a `.replace('{db}', ...)`) must be one of the reviewed
 * kinds below. User values never appear there: they go as {name:Type} parameters (docs/security.md).
 *
 * A new splice fails this test until someone reviews it and adds it here with the reason it is
 * safe (or, better, turns it into a parameter). Known unsafe patterns in code that takes no user
 * input are listed as KNOWN and printed as TODO.
 */
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from './helpers.js';

const SQL = /\b(SELECT|INSERT INTO|CREATE (TABLE|DATABASE|VIEW|MATERIALIZED VIEW)|DROP|ALTER TABLE|TRUNCATE|OPTIMIZE TABLE|SYSTEM|FROM|WHERE|GROUP BY|ORDER BY)\b/;

/** Spliced expressions that are safe, and why. */
const SAFE: { expr: RegExp; why: string; file?: string }[] = [
  {
    expr: /^(db|database|store\.database|this\.store\.database|s\.database|summary\.database|cfg\.store\.database|job\.store\.database)$/,
    why: 'a database name: store.database is validated as an identifier by the config schema and again by openStore before any connection',
  },
  { expr: /^p\.database$/, why: "the chaos harness's own database name, reduced to [A-Za-z0-9_] where it is made (bench/chaos/scenarios/kit.ts, setup)" },
  { expr: /^DEAD_(NEGATIVE|CLOCK)_CODES\.join\("', '"\)$/, why: 'a constant list of PEV_ codes (reconcile/facts.ts)' },
  { expr: /^(table|t|name|v)$/, why: 'a table or view name taken from a constant list (RAW_TABLES, INSERT_COLUMNS or a literal array) in the same function' },
  {
    file: 'bench/sim/truth.ts',
    expr: /^(where|union|p\.topic|p\.partition|p\.committed)$/,
    why: "the ground-truth checker: `where` is built from two integers (slice, slices) in the same function and `union` from the reviewed SELECTs just above it; a claim's topic is matched against [A-Za-z0-9._-]+ before use and its partition and offset are numbers. Not parameters because the checker also runs on the ClickHouse 18.16 test server, which has none",
  },
  {
    file: 'aggregate/rollups.ts',
    expr: /^(column|filter|copiesSql\(filter\)|minutesSql\('1'\)|rollupSql\('1'\))$/,
    why: 'aggregate/rollups.ts: SQL fragments made of that module\'s constants (a column of a literal pair, a session filter written there); every key and time travels as a query parameter',
  },
  {
    file: 'aggregate/rollups.ts',
    expr: /^(cols|columns|sql|minutes|NAMED_RUN|ONE_VERSION|versionsSql\(('1'|NAMED_RUN)\)|ROLLUP_COLUMNS\.join\(', '\)|rollupSql\((NAMED_RUN|NAMED_RUN, \{ minutes: true \}|'session_id IN \{stale:Array\(String\)\}')\)|everySql\(stale\))$/,
    why: "aggregate/rollups.ts, the finished rollups: column lists from the module's constant ROLLUP_COLUMNS, filters, subqueries and the minutes expression written in that module, and statements composed of those; the session IDs, versions, stale lists and times travel as query parameters",
  },
  {
    file: 'aggregate/rollups.ts',
    expr: /^path$/,
    why: "exportRollups' output file for INTO OUTFILE, which takes a string literal and no query parameter: the resolved path with backslash and single quote escaped, so it stays one literal",
  },
  {
    file: 'aggregate/store/connect.ts',
    expr: /^columns$/,
    why: "the columnar insert's column list, the constant ARROW_INSERT_COLUMNS (aggregate/store/columns.ts); its table is `${db}.interval_raw` and the Arrow table's name a counter made in the same function",
  },
  {
    file: 'bench/harness/child-pipeline.ts',
    expr: /^above$/,
    why: "the visibility poller's optional condition, a constant string chosen in the same function; its offsets travel as a parameter ({floors:Array(Int64)})",
  },
  {
    file: 'bench/queries/replicate.ts',
    expr: /^(ORIGINAL|select|names\.join\(', '\))$/,
    why: "the benchmark's store copier: column names read from system.columns for the product's own tables (a constant list), each copied as is or through a constant expression of RENAMED; the copy number travels as a parameter",
  },
];

/** Reviewed splices that are not parameters but take no user input; reported, to be parameterized. */
const KNOWN: { file: string; expr: RegExp; why: string }[] = [];

interface Splice {
  file: string;
  line: number;
  expr: string;
  kind: 'template' | 'concat' | 'replace';
}

function* sources(dir: string): Generator<string> {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) yield p;
  }
}

function splices(): Splice[] {
  const out: Splice[] = [];
  for (const top of ['ingest', 'aggregate', 'reconcile', 'bench', 'schemas']) {
    for (const path of sources(join(ROOT, top))) {
      const file = relative(ROOT, path);
      const src = ts.createSourceFile(file, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
      const at = (n: ts.Node) => src.getLineAndCharacterOfPosition(n.getStart()).line + 1;
      const visit = (n: ts.Node): void => {
        if (ts.isTemplateExpression(n)) {
          const text = n.head.text + n.templateSpans.map((s) => ` ${s.literal.text}`).join('');
          const prop = ts.isPropertyAssignment(n.parent) && ts.isIdentifier(n.parent.name) ? n.parent.name.text : '';
          if (SQL.test(text) || prop === 'query' || prop === 'table') {
            for (const s of n.templateSpans) out.push({ file, line: at(s), expr: s.expression.getText(), kind: 'template' });
          }
        } else if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) {
          const sides = [n.left, n.right];
          const sqlLiteral = sides.some((x) => ts.isStringLiteralLike(x) && SQL.test(x.text));
          for (const x of sides) {
            if (sqlLiteral && !ts.isStringLiteralLike(x) && !ts.isTemplateExpression(x) && !ts.isBinaryExpression(x)) out.push({ file, line: at(x), expr: x.getText(), kind: 'concat' });
          }
        } else if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && /^replace(All)?$/.test(n.expression.name.text)) {
          const [what, by] = n.arguments;
          if (what && by && ts.isStringLiteralLike(what) && /^\{\w+\}$/.test(what.text)) out.push({ file, line: at(n), expr: by.getText(), kind: 'replace' });
        }
        ts.forEachChild(n, visit);
      };
      visit(src);
    }
  }
  return out;
}

void t.test('every value spliced into SQL text is a reviewed constant or a validated identifier', (t) => {
  const found = splices();
  t.ok(found.length > 0, `${found.length} splices found (the scanner sees the code)`);
  const unknown: string[] = [];
  const known: string[] = [];
  for (const s of found) {
    if (SAFE.some((x) => (x.file === undefined || x.file === s.file) && x.expr.test(s.expr))) continue;
    const k = KNOWN.find((x) => x.file === s.file && x.expr.test(s.expr));
    if (k) known.push(`${s.file}:${s.line} \${${s.expr}}: ${k.why}`);
    else unknown.push(`${s.file}:${s.line} ${s.kind} \${${s.expr}}`);
  }
  t.same(unknown, [], 'no unreviewed splice (review each: a parameter, or a reason in SAFE)');
  for (const k of [...new Set(known)]) t.fail(k, { todo: 'parameterize' });
  t.comment(`reviewed splices: ${found.length - known.length - unknown.length} safe, ${known.length} known (TODO), ${unknown.length} unreviewed`);
  t.end();
});

void t.test('the scanner catches a user value spliced into SQL', (t) => {
  // What the audit exists for: the same walk over a snippet that builds SQL from a filter value.
  const src = ts.createSourceFile('x.ts', "const q = `SELECT * FROM {db}.interval_raw WHERE account_id = '${flags.account}'`;", ts.ScriptTarget.Latest, true);
  const spans: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isTemplateExpression(n) && SQL.test(n.head.text)) for (const s of n.templateSpans) spans.push(s.expression.getText());
    ts.forEachChild(n, visit);
  };
  visit(src);
  t.same(spans, ['flags.account']);
  t.notOk(SAFE.some((x) => x.expr.test('flags.account')), 'and a filter value is not on the safe list');
  t.end();
});
