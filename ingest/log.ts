/**
 * Structured logs (pino, JSON lines on stderr so stdout stays for command output). Credentials
 * never reach a log line: known secret paths are censored by pino, and configuration is only
 * logged through redactedConfig(); free text (error messages) goes through scrubSecrets
 * (schemas/scrub.ts) first.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
  '*.*.token',
  'config.kafka.rdkafka["sasl.password"]',
  'config.kafka.rdkafka["ssl.key.password"]',
  'headers.authorization',
  '*.headers.authorization',
];

export function createLogger(level: string, destination: number = 2): Logger {
  return pino(
    { level, base: { app: 'pevmeter' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ dest: destination, sync: true }),
  );
}
