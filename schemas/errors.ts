/**
 * One error class per failure kind, each with a stable `PEV_` code and `retryable` as data.
 * Codes are part of the product's interface: they travel in dead-letter headers, metrics labels
 * and reconciliation flags, and docs/errors.md documents every one (a test checks it).
 */

export const RECORD_ERROR_CODES = [
  'PEV_EMPTY_VALUE',
  'PEV_OVERSIZE',
  'PEV_NO_MAGIC',
  'PEV_SHORT_FRAME',
  'PEV_UNKNOWN_SCHEMA',
  'PEV_WRONG_RECORD_TYPE',
  'PEV_SCHEMA_INCOMPATIBLE',
  'PEV_TRUNCATED',
  'PEV_TRAILING_BYTES',
  'PEV_AVRO_INVALID',
  'PEV_BAD_ID',
  'PEV_NEGATIVE_ENERGY',
  'PEV_ENERGY_RANGE',
  'PEV_INTERVAL_LENGTH',
  'PEV_TIME_RANGE',
  'PEV_FUTURE_TIME',
  'PEV_SEQ_RANGE',
  'PEV_FIELD_RANGE',
  'PEV_CONTAINER_HEADER',
  'PEV_CONTAINER_SYNC',
  'PEV_CONTAINER_BLOCK',
] as const;
/** Codes of a single bad record: it goes to the dead-letter path, the partition moves on. */
export type RecordErrorCode = (typeof RECORD_ERROR_CODES)[number];

export const OPERATIONAL_ERROR_CODES = [
  'PEV_CONFIG',
  'PEV_REGISTRY_UNAVAILABLE',
  'PEV_REGISTRY_RESPONSE',
  'PEV_REGISTRY_TOO_LARGE',
  'PEV_STORE_UNAVAILABLE',
  'PEV_STORE_REJECTED',
  'PEV_STORE_LOCKED',
  'PEV_KAFKA',
  'PEV_DLQ_WRITE',
  'PEV_DLQ_MISSING',
  'PEV_SHUTDOWN_TIMEOUT',
  'PEV_INPUT',
  'PEV_REVIEW_UNKNOWN_SESSION',
  'PEV_REVIEW_REASON_REQUIRED',
  'PEV_REVIEW_NOT_APPLICABLE',
  'PEV_RECONCILE_BUSY',
] as const;
export type OperationalErrorCode = (typeof OPERATIONAL_ERROR_CODES)[number];
export type ErrorCode = RecordErrorCode | OperationalErrorCode;

export class PevmeterError extends Error {
  readonly code: ErrorCode;
  /** True when the same operation may succeed later (a server back up); false when it never will. */
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PevmeterError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A record that cannot be decoded or fails validation. Never retryable: it is dead-lettered. */
export class RecordError extends PevmeterError {
  declare readonly code: RecordErrorCode;
  constructor(code: RecordErrorCode, message: string) {
    super(code, message, { retryable: false });
    this.name = 'RecordError';
  }
}

/** A configuration value that fails validation; the message names the option. */
export class ConfigError extends PevmeterError {
  constructor(message: string) {
    super('PEV_CONFIG', message);
    this.name = 'ConfigError';
  }
}

export type RegistryErrorCode = 'PEV_REGISTRY_UNAVAILABLE' | 'PEV_REGISTRY_RESPONSE' | 'PEV_REGISTRY_TOO_LARGE';

/** The Schema Registry is down or answers something unusable: consumption pauses, nothing is dead-lettered. */
export class RegistryError extends PevmeterError {
  constructor(code: RegistryErrorCode, message: string, cause?: unknown) {
    super(code, message, { retryable: true, cause });
    this.name = 'RegistryError';
  }
}

export function isRecordErrorCode(code: string): code is RecordErrorCode {
  return (RECORD_ERROR_CODES as readonly string[]).includes(code);
}
