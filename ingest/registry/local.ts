/**
 * Schemas from schemas/subjects.json: what ingest uses when no registry is configured, and what
 * the simulator frames records with. Never fails: an ID not in the file does not exist.
 */
import { localSchemas } from '../../schemas/index.js';
import type { ResolvedSchema, SchemaResolver } from './types.js';

export class LocalSchemaResolver implements SchemaResolver {
  private readonly byId = new Map<number, ResolvedSchema>();

  constructor() {
    for (const s of localSchemas()) this.byId.set(s.id, { id: s.id, text: s.text, subject: s.subject });
  }

  resolve(ids: readonly number[]): Promise<Map<number, ResolvedSchema | null>> {
    const out = new Map<number, ResolvedSchema | null>();
    for (const id of ids) out.set(id, this.byId.get(id) ?? null);
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
