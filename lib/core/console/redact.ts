/**
 * Secrets a raw notification may carry, removed before it is shown: App Store Server Notifications V1 send
 * the app's shared secret as `password`
 * (https://developer.apple.com/documentation/appstoreservernotifications/responsebody/v1).
 */
const SECRET_KEYS = new Set(['password', 'shared_secret', 'sharedsecret', 'secret']);

function scrub(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(scrub);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, SECRET_KEYS.has(k.toLowerCase()) ? '[redacted]' : scrub(x)]),
    );
  }
  return v;
}

/** The value with secret fields replaced when it is JSON; other values unchanged. */
export function redactRaw(value: Buffer | null): Buffer | null {
  if (!value) return value;
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return value;
  }
  return Buffer.from(JSON.stringify(scrub(json)));
}
