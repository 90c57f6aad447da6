/**
 * Standard Webhooks signing (spec v1.0.0, https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
 * HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}`, sent as `v1,<base64>`; several entries,
 * space-separated, while a rotation keeps more than one secret valid. Secrets are `whsec_` + base64 of
 * 24-64 random bytes. Pure: no clock, no I/O.
 */
import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

export function generateSecret(bytes = 32): string {
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw new RangeError(`a secret has ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes`);
  }
  return SECRET_PREFIX + randomBytes(bytes).toString('base64');
}

/** The key bytes of a `whsec_` secret, or an error message saying why it is not one. */
export function secretBytes(secret: string): Buffer | string {
  if (!secret.startsWith(SECRET_PREFIX)) return `must start with ${SECRET_PREFIX}`;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return 'must be whsec_ followed by base64';
  const key = Buffer.from(b64, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    return `must hold ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes (has ${key.length})`;
  }
  return key;
}

/** `v1,<base64>` for one secret. The body is signed exactly as it is sent. */
export function signV1(secret: string, id: string, timestampSeconds: number, body: string | Buffer): string {
  const key = secretBytes(secret);
  if (typeof key === 'string') throw new TypeError(`webhook secret ${key}`);
  if (id.includes('.')) throw new TypeError('a webhook-id must not contain "."');
  const mac = createHmac('sha256', key);
  mac.update(`${id}.${timestampSeconds}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** The `webhook-signature` header: one `v1` entry per valid secret, newest first. */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  if (secrets.length === 0) throw new TypeError('no valid secret to sign with');
  return secrets.map((s) => signV1(s, id, timestampSeconds, body)).join(' ');
}

/**
 * webhook-id values may not contain "."; canonical eventIds are `<store>:<notificationId>:<n>` (no dots
 * in practice, but a store id could hold one), so any "." is escaped reversibly.
 */
export function webhookId(messageId: string): string {
  return messageId.replace(/%/g, '%25').replace(/\./g, '%2E');
}
