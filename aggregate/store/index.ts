/** The store: open it, migrate it, append TSV rows, read rows back. See types.ts for the contract. */
export { openStore } from './connect.js';
export { toInt, toBigInt } from './values.js';
export { StoreError, isRetryable, toStoreError } from './errors.js';
export { splitStatements, compareVersions, isIdentifier } from './migrate.js';
export type { Store, StoreOptions, MigrationResult } from './types.js';
