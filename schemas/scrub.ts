/**
 * The one scrubber of credentials in free text: every error message, log line and cause that
 * could hold a secret goes through `scrubSecrets` before it is kept or shown.
 *
 * A secret leaks in more shapes than the one it was configured in. A proxy or a misconfigured
 * server may echo the request, so the forms a client sends count as much as the raw value:
 *
 *   raw                  Zq9-secret
 *   URL-encoded          encodeURIComponent, encodeURI, strict RFC 3986 and form encoding
 *   JSON-escaped         as a JSON string body would hold it
 *   base64, any prefix   `Basic base64(user:secret)`, for whatever user: see base64Cores
 *   URL user info        scheme://user:anything@   (the password of any URL, configured or not)
 *   auth header values   Basic ... / Bearer ...    (whatever the token)
 *
 * Every match becomes `[redacted]`. Secrets shorter than 3 characters are not searched for as
 * such (they would blank out ordinary text); the URL and header rules still apply to them.
 */

export const REDACTED = '[redacted]';

/**
 * The runs of base64 characters that encode `secret` wherever it sits in the encoded bytes.
 * Base64 maps 3 bytes to 4 characters, so the characters for the secret depend on where it starts
 * modulo 3 (the length of `user:` in a Basic header decides that). For each of the 3 alignments
 * this keeps only the characters made of the secret's bits alone: the first one or two, which
 * mix in bits of the bytes before it, and the last ones, which mix in the bytes after, are dropped.
 */
export function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const enc = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const skip = pad === 0 ? 0 : pad + 1;
    const whole = Math.floor(((pad + bytes.length) * 8) / 6);
    const core = enc.slice(skip, whole);
    // Under 4 characters a core is too likely to occur by chance in any base64 text.
    if (core.length >= 4) out.push(core);
  }
  return out;
}

/** Every form of `secret` to look for, longest first so no shorter form leaves part of a longer one. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([
    secret,
    encodeURIComponent(secret),
    encodeURI(secret),
    encodeURIComponent(secret).replace(/%20/g, '+'),
    // Stricter encoders (URLSearchParams, RFC 3986 clients) also escape ! ' ( ) *.
    new URLSearchParams({ s: secret }).toString().slice(2),
    encodeURIComponent(secret).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    JSON.stringify(secret).slice(1, -1),
    ...base64Cores(secret),
  ]);
  return [...forms].sort((a, b) => b.length - a.length);
}

const URL_PASSWORD = /(\/\/[^:/@\s]*:)[^@/\s]+@/g;
// The token may not itself be a scheme word: in "bearer Bearer abc" the token is abc.
const AUTH_VALUE = /\b(Basic|Bearer)(?:\s+|%20|\+)(?!(?:Basic|Bearer)\b)[A-Za-z0-9+/=._~%-]{4,}/gi;

/** `text` with every credential removed: any URL password, any auth header value, and every form of every secret given. */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(AUTH_VALUE, `$1 ${REDACTED}`);
  for (const s of secrets) {
    if (!s || s.length < 3) continue;
    for (const form of secretForms(s)) if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out;
}
