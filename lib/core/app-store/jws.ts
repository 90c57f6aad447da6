/**
 * Compact JWS segments as JSON objects, without verification: the verifier checks the outer JWS, and the
 * decoders read the JWS nested in an already verified payload without pulling in the verifier.
 */
import { errorMessage } from '../errors';

export type JsonObject = Record<string, unknown>;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A base64url JWS segment as a JSON object. The JOSE header is one (RFC 7515 section 4) and so is every App
 * Store payload; `null`, a number or an array parse as JSON but would fail later as a TypeError (a 500).
 */
export function segmentObject(part: string): JsonObject {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (!isJsonObject(value)) throw new TypeError('JSON is not an object');
  return value;
}

/** Decodes a JWS payload without verifying it: only for JWS nested in an already verified payload. */
export function decodeJwsPayload<T>(jws: string): T {
  const parts = jws.split('.');
  if (parts.length !== 3) throw new Error('nested JWS is not compact serialization');
  try {
    return segmentObject(parts[1] as string) as T;
  } catch (err) {
    throw new Error(`nested JWS payload is not a base64url JSON object (${errorMessage(err)})`, {
      cause: err,
    });
  }
}
