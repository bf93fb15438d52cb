import t from 'tap';
import { readFileSync } from 'node:fs';
import { localSchemas } from '../../schemas/index.js';

interface AvroField { name: string; type: unknown }

function recordFields(schema: unknown, out: string[] = []): string[] {
  if (Array.isArray(schema)) {
    for (const s of schema) recordFields(s, out);
  } else if (schema && typeof schema === 'object') {
    const s = schema as { type?: unknown; fields?: AvroField[] };
    if (s.type === 'record' && s.fields) {
      for (const f of s.fields) {
        out.push(f.name);
        recordFields(f.type, out);
      }
    }
  }
  return out;
}

t.test('docs/schemas.md documents every field of every schema, with its subject and ID', (t) => {
  const doc = readFileSync(new URL('../../docs/schemas.md', import.meta.url), 'utf8');
  for (const s of localSchemas()) {
    t.match(doc, `\`${s.subject}\` | ${s.id} |`, `${s.subject} id ${s.id}`);
    for (const name of recordFields(JSON.parse(s.text))) t.match(doc, `| \`${name}\` |`, `${s.subject}: ${name}`);
  }
  t.end();
});
