/**
 * Structured logs (pino, JSON lines on stderr so stdout stays for command output). Credentials
 * never reach a log line: known secret paths are censored by pino, and configuration is only
 * logged through redactedConfig().
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

/** Removes anything that looks like a credential from free text (error messages, URLs). */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text.replace(/(\/\/[^:/@\s]+:)[^@/\s]+@/g, '$1[redacted]@');
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('[redacted]');
  return out;
}
