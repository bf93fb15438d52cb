/**
 * The dead-letter topic. Each bad record is produced with its origin in headers; `send` resolves
 * only when the broker has acknowledged every message (acks=all, idempotent producer), so the
 * caller can commit the source offset after it and not before.
 *
 * Headers (all UTF-8 strings):
 *   pev-origin-topic, pev-origin-partition, pev-origin-offset   where the record came from
 *   pev-record-index                                            position in a multi-record message
 *   pev-error-code                                              stable PEV_ code (docs/errors.md)
 *   pev-error-message                                           what was wrong, naming the field
 *                                                               (cut at 1,000 characters)
 *   pev-payload-omitted                                         only when the value was left out
 * The value is the offending bytes: the bad record's frame, or the rest of the message from a
 * record that could not be framed, cut at 256 KiB (the message then says "payload cut"). A letter
 * must always fit the dead-letter topic, or one poison message would stop the partition for good:
 * if the broker still refuses it as too large (a topic with a smaller max.message.bytes), it is
 * sent again without value and key, with `pev-payload-omitted`; the origin headers still point to
 * the original message. A key longer than 1 KiB is left out the same way.
 *
 * Redelivery after a crash may produce a dead letter twice; consumers of the dead-letter topic
 * deduplicate by the origin headers (the ClickHouse dead_letter table does so by its key).
 */
import Kafka from 'node-rdkafka';
import type { DeliveryReport, LibrdKafkaError } from 'node-rdkafka';
import { PevmeterError } from '../../schemas/errors.js';

export interface DeadLetter {
  originTopic: string;
  originPartition: number;
  originOffset: number;
  recordIndex: number;
  code: string;
  message: string;
  value: Buffer | null;
  key: Buffer | string | null;
}

export interface DeadLetterSink {
  send(letters: readonly DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

type Pending = { resolve: () => void; reject: (e: Error) => void; tooLarge: () => void };

/** librdkafka's RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, locally or from the broker. */
const MSG_SIZE_TOO_LARGE = 10;
const MAX_KEY_BYTES = 1024;

/** node-rdkafka reports the broker's refusal with code -1 and only the text to tell it by. */
function isTooLarge(err: unknown): boolean {
  return (err as { code?: unknown }).code === MSG_SIZE_TOO_LARGE || /message size too large/i.test((err as Error).message ?? '');
}
const MAX_MESSAGE_CHARS = 1000;

export class KafkaDeadLetterSink implements DeadLetterSink {
  private readonly producer: Kafka.Producer;
  private ready: Promise<void>;

  constructor(
    private readonly topic: string,
    private readonly brokers: string,
    rdkafka: Record<string, string | number | boolean>,
  ) {
    this.producer = new Kafka.Producer({
      ...pickClientSettings(rdkafka),
      'bootstrap.servers': brokers,
      'client.id': 'pevmeter-dlq',
      dr_cb: true,
      'enable.idempotence': true,
      'linger.ms': 5,
    }, { 'request.required.acks': -1, 'message.timeout.ms': 30_000 });
    this.producer.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => {
      const p = report.opaque as Pending | undefined;
      if (!p) return;
      if (err && isTooLarge(err)) p.tooLarge();
      else if (err) p.reject(new PevmeterError('PEV_DLQ_WRITE', `dead-letter topic ${this.topic}: delivery failed: ${err.message}`, { retryable: true }));
      else p.resolve();
    });
    this.ready = new Promise((resolve, reject) => {
      this.producer.connect({ timeout: 30_000 }, (err) => (err ? reject(new PevmeterError('PEV_KAFKA', `dead-letter producer cannot connect to ${brokers}: ${err.message}`, { retryable: true })) : resolve()));
    });
    this.ready.catch(() => undefined);
    this.producer.setPollInterval(20);
  }

  /**
   * Fails fast when the topic is missing, before any work: otherwise the first bad record finds
   * out, after the service has consumed and stored for as long as good records kept coming, and
   * halts there. (On a broker that creates topics on first use, this metadata request creates it.)
   */
  async checkTopic(timeoutMs = 10_000): Promise<void> {
    await this.ready;
    const md = await new Promise<Kafka.Metadata>((resolve, reject) => {
      this.producer.getMetadata({ topic: this.topic, allTopics: false, timeout: timeoutMs }, (err, m) =>
        err ? reject(new PevmeterError('PEV_KAFKA', `metadata of the dead-letter topic ${this.topic}: ${err.message}`, { retryable: true })) : resolve(m),
      );
    });
    const found = md.topics.find((t) => t.name === this.topic);
    if (found === undefined || found.partitions.length === 0) {
      throw new PevmeterError(
        'PEV_DLQ_MISSING',
        `the dead-letter topic ${this.topic} does not exist on ${this.brokers} and the broker does not create topics on first use: ` +
          `create it (kafka-topics.sh --bootstrap-server ${this.brokers} --create --topic ${this.topic} --partitions 1), ` +
          'or name an existing one with kafka.dlqTopic in the configuration file (--config); nothing was consumed',
      );
    }
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.ready;
    await Promise.all(letters.map((l) => this.sendOne(l, false)));
  }

  private sendOne(l: DeadLetter, omitPayload: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const message = l.message.length > MAX_MESSAGE_CHARS ? `${l.message.slice(0, MAX_MESSAGE_CHARS)}...` : l.message;
      const headers: Record<string, string>[] = [
        { 'pev-origin-topic': l.originTopic },
        { 'pev-origin-partition': String(l.originPartition) },
        { 'pev-origin-offset': String(l.originOffset) },
        { 'pev-record-index': String(l.recordIndex) },
        { 'pev-error-code': l.code },
        { 'pev-error-message': message },
      ];
      const keyBytes = l.key === null ? 0 : typeof l.key === 'string' ? Buffer.byteLength(l.key) : l.key.length;
      const key = omitPayload || keyBytes > MAX_KEY_BYTES ? undefined : l.key ?? undefined;
      if (omitPayload) headers.push({ 'pev-payload-omitted': `${l.value?.length ?? 0} bytes refused as too large by the dead-letter topic` });
      const tooLarge = () => {
        if (omitPayload) reject(new PevmeterError('PEV_DLQ_WRITE', `dead-letter topic ${this.topic}: a letter without payload is still too large`, { retryable: true }));
        else this.sendOne(l, true).then(resolve, reject);
      };
      try {
        this.producer.produce(this.topic, null, omitPayload ? null : l.value, key, Date.now(), { resolve, reject, tooLarge } satisfies Pending, headers);
      } catch (err) {
        // The producer's own size check (message.max.bytes) throws instead of reporting.
        if (isTooLarge(err)) tooLarge();
        else reject(new PevmeterError('PEV_DLQ_WRITE', `dead-letter topic ${this.topic}: ${(err as Error).message}`, { retryable: true }));
      }
    });
  }

  async close(): Promise<void> {
    // A producer that never connected has nothing to flush, and flush() would throw.
    const connected = await this.ready.then(() => true, () => false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 15_000);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      try {
        if (connected) this.producer.flush(10_000, () => this.producer.disconnect(done));
        else this.producer.disconnect(done);
      } catch {
        done();
      }
    });
  }
}

/**
 * librdkafka settings that apply to any client (security, SASL, SSL, client-level tuning) from the
 * pass-through map; consumer-only keys are left out so the producer does not warn about them.
 */
export function pickClientSettings(rdkafka: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(rdkafka)) {
    if (/^(security\.protocol|sasl\.|ssl\.|ssl_|socket\.|broker\.|client\.rack|reconnect\.|retry\.backoff|metadata\.|topic\.metadata|api\.version|debug|log_level|statistics\.interval\.ms)/.test(k)) out[k] = v;
  }
  return out;
}

/** A sink that only collects (file mode has no dead-letter topic; the dead_letter table holds them). */
export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  send(letters: readonly DeadLetter[]): Promise<void> {
    this.letters.push(...letters);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
