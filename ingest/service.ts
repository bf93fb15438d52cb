/**
 * Wiring: builds the pipeline's parts from one Config and runs them. `runIngestService` is the
 * streaming service (Kafka to ClickHouse); `withPipeline` gives the file ingest the same store,
 * pool and metrics.
 */
import { openStore, storeOptionsOf } from '../aggregate/store/connect.js';
import type { Store } from '../aggregate/store/types.js';
import type { Config } from '../schemas/config.js';
import { redactedConfig } from '../schemas/config.js';
import { createDecodePool, type DecodePool } from './decode/pool.js';
import type { PevmeterError } from '../schemas/errors.js';
import { IngestConsumer } from './kafka/consumer.js';
import { KafkaDeadLetterSink } from './kafka/dead-letter.js';
import { scrubSecrets } from '../schemas/scrub.js';
import { createLogger, type Logger } from './log.js';
import { Metrics, startOpsServer, type OpsServer } from './metrics.js';
import { runKafkaLoop, type LoopSummary } from './pipeline/kafka-loop.js';
import { KafkaUnitProcessor } from './pipeline/processor.js';
import { retrying } from './pipeline/retry.js';
import { DurableSink } from './pipeline/sink.js';
import { createSchemaResolver } from './registry/index.js';

export function secretsOf(cfg: Config): string[] {
  const out = [cfg.store.password, cfg.registry.password, cfg.registry.token];
  // A password given in a URL's user info, as written there and decoded.
  for (const url of [cfg.store.url, cfg.registry.url]) {
    if (url === undefined) continue;
    try {
      const p = new URL(url).password;
      if (p === '') continue;
      out.push(p);
      out.push(decodeURIComponent(p));
    } catch {
      // not a URL, or a malformed %-escape: what could be pushed was
    }
  }
  for (const [k, v] of Object.entries(cfg.kafka.rdkafka)) if (/password|secret|token/i.test(k)) out.push(String(v));
  return out.filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/** Opens the store and applies migrations, waiting out a server that is not up yet. */
export async function openMigratedStore(cfg: Config, log: Logger, signal?: AbortSignal): Promise<Store> {
  const store = await openStore(storeOptionsOf(cfg));
  const result = await retrying(() => store.migrate(), {
    initialMs: cfg.pipeline.retryInitialMs,
    maxMs: cfg.pipeline.retryMaxMs,
    maxAttempts: 30,
    ...(signal ? { signal } : {}),
    onRetry: (err, attempt, waitMs) => log.warn({ attempt, waitMs, err: scrubSecrets((err as Error).message, secretsOf(cfg)) }, 'store not reachable for migrations; retrying'),
  });
  log.info({ applied: result.applied, skipped: result.skipped, server: result.serverVersion, database: store.database, kind: store.kind }, 'store ready');
  return store;
}

export interface PipelineParts {
  cfg: Config;
  log: Logger;
  metrics: Metrics;
  store: Store;
  pool: DecodePool;
}

export async function withPipeline<T>(cfg: Config, log: Logger, fn: (parts: PipelineParts) => Promise<T>): Promise<T> {
  const metrics = new Metrics();
  const store = await openMigratedStore(cfg, log);
  const pool = createDecodePool({ threads: cfg.pipeline.workers, maxQueue: cfg.pipeline.workers * 64 });
  try {
    return await fn({ cfg, log, metrics, store, pool });
  } finally {
    await pool.close();
    await store.close();
  }
}

export interface IngestServiceOptions {
  /** Exit by itself once the topics are drained and nothing arrived for this long. */
  idleExitMs?: number;
  /** Handle SIGTERM/SIGINT (the CLI does; tests drive `stop` themselves). */
  handleSignals?: boolean;
  /** Abort to drain and stop, as SIGTERM does. */
  stop?: AbortSignal;
  log?: Logger;
  onReady?: (info: { port: number | undefined }) => void;
}

export interface IngestServiceResult extends LoopSummary {
  exitCode: number;
}

export async function runIngestService(cfg: Config, o: IngestServiceOptions = {}): Promise<IngestServiceResult> {
  const log = o.log ?? createLogger(cfg.log.level);
  const metrics = new Metrics();
  log.info({ config: redactedConfig(cfg) }, 'pevmeter ingest starting');
  let ops: OpsServer | undefined;
  if (cfg.http.port !== 0 || o.onReady) ops = await startOpsServer(metrics, cfg.http.host, cfg.http.port);
  const stop = new AbortController();
  const kill = new AbortController();
  o.stop?.addEventListener('abort', () => stop.abort(), { once: true });
  let killTimer: NodeJS.Timeout | undefined;
  const beginDrain = (why: string) => {
    if (stop.signal.aborted) return;
    log.info({ why, timeoutMs: cfg.pipeline.shutdownTimeoutMs }, 'draining: finishing and committing in-flight work');
    ops?.setReady(false);
    stop.abort();
    // Leave room inside the limit to leave the group and close the store.
    killTimer = setTimeout(() => {
      log.error({ code: 'PEV_SHUTDOWN_TIMEOUT' }, 'drain did not finish in time; uncommitted work will be re-read at the next start');
      kill.abort();
    }, Math.max(1_000, cfg.pipeline.shutdownTimeoutMs - 8_000));
    killTimer.unref();
  };
  stop.signal.addEventListener('abort', () => beginDrain('stop requested'), { once: true });
  const onSignal = (sig: NodeJS.Signals) => beginDrain(sig);
  if (o.handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  let store: Store | undefined;
  let pool: DecodePool | undefined;
  let dlq: KafkaDeadLetterSink | undefined;
  let consumer: IngestConsumer | undefined;
  const resolver = createSchemaResolver(cfg.registry.url ? { url: cfg.registry.url, ...(cfg.registry.username ? { username: cfg.registry.username } : {}), ...(cfg.registry.password ? { password: cfg.registry.password } : {}), ...(cfg.registry.token ? { token: cfg.registry.token } : {}), timeoutMs: cfg.registry.timeoutMs, maxResponseBytes: cfg.registry.maxResponseBytes } : undefined);
  try {
    store = await openMigratedStore(cfg, log, stop.signal);
    pool = createDecodePool({ threads: cfg.pipeline.workers, maxQueue: cfg.pipeline.workers * 64 });
    dlq = new KafkaDeadLetterSink(cfg.kafka.dlqTopic, cfg.kafka.brokers, cfg.kafka.rdkafka);
    await dlq.checkTopic();
    consumer = new IngestConsumer(cfg, log, metrics);
    await consumer.connect();
    const sink = new DurableSink(cfg, store, dlq, metrics, log);
    const processor = new KafkaUnitProcessor(cfg, pool, resolver, sink, metrics, log);
    ops?.setReady(true);
    o.onReady?.({ port: ops?.port });
    log.info({ brokers: cfg.kafka.brokers, group: cfg.kafka.groupId, port: ops?.port }, 'consuming');
    const loopOpts = { stop: stop.signal, kill: kill.signal, ...(o.idleExitMs !== undefined ? { idleExitMs: o.idleExitMs } : {}) };
    const summary = await runKafkaLoop(cfg, consumer, processor, metrics, log, loopOpts);
    const exitCode = summary.halted ? 2 : kill.signal.aborted ? 3 : 0;
    log.info({ units: summary.units, committedUnits: summary.committedUnits, records: summary.records, deadLetters: summary.deadLetters, exitCode }, 'ingest stopped');
    return { ...summary, exitCode };
  } catch (err) {
    const e = err as Error;
    log.error({ code: (e as PevmeterError).code, err: scrubSecrets(e.message, secretsOf(cfg)) }, 'ingest failed');
    throw err;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    ops?.setReady(false);
    await consumer?.disconnect(5_000);
    await dlq?.close().catch(() => undefined);
    await pool?.close();
    await resolver.close();
    await store?.close();
    await ops?.close();
    if (o.handleSignals) {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  }
}
