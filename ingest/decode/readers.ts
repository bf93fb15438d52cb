/**
 * The decode workers' schemas: writer schemas parsed once per thread (by registry ID, or by text
 * for a container file, which has no ID) and paired with the local reader schema of their record
 * kind, through an avsc resolver when the two differ. IDs are immutable, so the memo never expires.
 */
import type avro from 'avsc';
import type { RecordErrorCode } from '../../schemas/errors.js';
import { RECORD_KINDS, latestSchema, parseSchema } from '../../schemas/index.js';
import type { RecordKind } from '../../schemas/index.js';

export interface Reader {
  /** Record kind named by the writer schema; undefined when it names none of ours. */
  kind: RecordKind | undefined;
  name: string;
  writer: avro.Type | undefined;
  reader: avro.Type | undefined;
  resolver: avro.Resolver | undefined;
  /** Why records with this schema cannot be read as their kind (set when `reader` is undefined). */
  problem: { code: RecordErrorCode; message: string } | undefined;
}

let readerTypes: Map<string, { kind: RecordKind; type: avro.Type }> | undefined;

function readerTypeByName(): Map<string, { kind: RecordKind; type: avro.Type }> {
  if (!readerTypes) {
    readerTypes = new Map();
    for (const kind of RECORD_KINDS) {
      const type = latestSchema(kind).type;
      readerTypes.set(type.name ?? kind, { kind, type });
    }
  }
  return readerTypes;
}

export function buildReader(label: string, text: string): Reader {
  let writer: avro.Type;
  try {
    writer = parseSchema(text);
  } catch (err) {
    return {
      kind: undefined, name: '', writer: undefined, reader: undefined, resolver: undefined,
      problem: { code: 'PEV_UNKNOWN_SCHEMA', message: `${label} does not parse as Avro: ${errorText(err)}` },
    };
  }
  const name = writer.name ?? writer.typeName;
  const local = readerTypeByName().get(name);
  if (!local) {
    return { kind: undefined, name, writer, reader: undefined, resolver: undefined, problem: undefined };
  }
  if (writer.equals(local.type)) {
    return { kind: local.kind, name, writer, reader: local.type, resolver: undefined, problem: undefined };
  }
  try {
    const resolver = local.type.createResolver(writer);
    return { kind: local.kind, name, writer, reader: local.type, resolver, problem: undefined };
  } catch (err) {
    return {
      kind: local.kind, name, writer, reader: undefined, resolver: undefined,
      problem: { code: 'PEV_SCHEMA_INCOMPATIBLE', message: `${label} (${name}) cannot be read as the local ${name} schema: ${errorText(err)}` },
    };
  }
}

/** Parsed writer schemas by ID, for this thread's lifetime. */
export const byId = new Map<number, Reader>();
/** Container writer schemas by text (a file has no ID; one file's blocks share the text). */
export const byText = new Map<string, Reader>();

export function learnSchemas(schemas: readonly { id: number; text: string }[] | undefined): void {
  if (!schemas || !Array.isArray(schemas)) return;
  for (const s of schemas as readonly ({ id?: unknown; text?: unknown } | null)[]) {
    if (!s || typeof s.id !== 'number' || typeof s.text !== 'string' || byId.has(s.id)) continue;
    byId.set(s.id, buildReader(`schema ${s.id}`, s.text));
  }
}

/** Schema IDs this thread has parsed (tests and metrics). */
export function cachedSchemaIds(): number[] {
  return [...byId.keys()];
}

/** The message of whatever was thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
