/**
 * Where framed records' writer schemas come from. One small interface, two implementations:
 * schemas/ in the package (local.ts) and a Confluent-compatible Schema Registry over HTTP (http.ts).
 */

export interface ResolvedSchema {
  id: number;
  /** The schema as JSON text, exactly as the registry stores it. */
  text: string;
  subject?: string;
}

export interface SchemaResolver {
  /**
   * Resolves schema IDs. A `null` entry means the source says the ID does not exist (records
   * using it are dead-lettered PEV_UNKNOWN_SCHEMA). Throws RegistryError (retryable) when the
   * source cannot answer or answers something unusable: the caller pauses consumption and
   * retries, and never dead-letters on that account.
   */
  resolve(ids: readonly number[]): Promise<Map<number, ResolvedSchema | null>>;
  close(): Promise<void>;
}
