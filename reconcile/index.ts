/** Reconciliation before billing: the library surface (docs/reconcile.md). */
export { reconcilePeriod, parseInstant, type ReconcileOptions, type ReconcileProgress, type RunSummary, type HeldSample } from './run.js';
export { exportPeriod, type ExportFormat, type ExportOptions, type ExportResult, type ExportedRecord } from './billing.js';
export { loadReconcileConfig, resolveConfig, configHash, type ReconcileConfig, type ReconcileConfigInput } from './config.js';
export { renderReport } from './report.js';
export { registerReconcileCommand, runReconcile } from './command.js';
export { RULES, evaluateRules, isHeld } from './rules/index.js';
export { FLAG_CODES, type Flag, type FlagCode, type Period, type PeriodFilter, type Severity, type SessionFacts } from './types.js';
