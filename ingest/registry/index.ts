/**
 * Schema resolution: a Confluent-compatible registry over HTTP when `url` is configured, else
 * the schemas shipped in schemas/ (subjects.json).
 */
import { HttpSchemaResolver } from './http.js';
import type { HttpRegistryOptions } from './http.js';
import { LocalSchemaResolver } from './local.js';
import type { SchemaResolver } from './types.js';

export type { ResolvedSchema, SchemaResolver } from './types.js';
export type { HttpRegistryOptions, RetryEvent } from './http.js';
export { HttpSchemaResolver, RegistryHttp, registerLocalSchemas } from './http.js';
export { LocalSchemaResolver } from './local.js';

export function createSchemaResolver(options?: Partial<HttpRegistryOptions>): SchemaResolver {
  if (options?.url) return new HttpSchemaResolver({ ...options, url: options.url });
  return new LocalSchemaResolver();
}
