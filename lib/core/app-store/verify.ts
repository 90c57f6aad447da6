/**
 * Verification of App Store Server Notifications, pure: (body bytes, now) -> decoded payload, or a
 * `NotificationRejected` naming the failed check. node:crypto does the X.509 and ECDSA work.
 *
 * V2 rules (Apple's libraries, "Responding to App Store Server Notifications"):
 * https://developer.apple.com/documentation/appstoreservernotifications/responding-to-app-store-server-notifications
 *  - header `alg` is ES256, `x5c` holds exactly 3 certificates [leaf, intermediate, root];
 *  - the intermediate is signed by one of OUR trusted roots (x5c[2] is ignored: it is attacker-controlled),
 *    is a CA and carries 1.2.840.113635.100.6.2.1; the leaf is signed by the intermediate and carries
 *    1.2.840.113635.100.6.11.1; every certificate is valid at the effective date (now in production, or the
 *    payload's signedDate when replaying recorded notifications), with 60 s skew;
 *  - the JWS signature verifies with the leaf's P-256 key;
 *  - bundleId is allowed, environment is accepted, appAppleId matches in Production.
 * A verified chain (by its exact x5c) is cached, so a request costs one ECDSA verification.
 */
import {
  X509Certificate,
  createHash,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { extensionOids } from './der';
import { appIdentity } from './identity';
import { segmentObject, type JsonObject } from './jws';
import type { NotificationPayloadV2, NotificationV1 } from './model';

export const APPLE_LEAF_OID = '1.2.840.113635.100.6.11.1';
export const APPLE_WWDR_INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';
const SKEW_MS = 60_000;

export type VerificationCheck =
  | 'body' // not the expected JSON shape (400)
  | 'jws' // not a compact JWS with a JSON header and payload
  | 'algorithm'
  | 'chain'
  | 'oid'
  | 'signature'
  | 'validity'
  | 'bundle'
  | 'environment'
  | 'app_apple_id'
  | 'secret';

export class NotificationRejected extends Error {
  readonly check: VerificationCheck;
  /** 400 for a malformed request, 401 for anything unauthenticated. */
  readonly status: 400 | 401;

  constructor(check: VerificationCheck, message: string) {
    super(message);
    this.name = 'NotificationRejected';
    this.check = check;
    this.status = check === 'body' ? 400 : 401;
  }
}

type AppleEnvironment = 'Production' | 'Sandbox' | 'Xcode' | 'LocalTesting';

export interface AppleVerifierOptions {
  /** Trusted root certificates (DER). Default in config: the bundled Apple Root CA - G3. */
  trustedRoots: Buffer[];
  /** Allowed bundle ids; null accepts any (the CLI without --bundle-id). */
  bundleIds: string[] | null;
  environments: AppleEnvironment[];
  /** appAppleIds accepted for Production notifications; empty skips the check (CLI only). */
  appAppleIds: number[];
  /** 'now' in production; 'signed-date' to replay recorded notifications. */
  effectiveDate: 'now' | 'signed-date';
  chainCacheSize?: number;
}

interface VerifiedChain {
  leafKey: KeyObject;
  notBefore: number;
  notAfter: number;
}

function b64urlJson(part: string | undefined, what: string): JsonObject {
  if (!part) throw new NotificationRejected('jws', `JWS ${what} is missing`);
  try {
    return segmentObject(part);
  } catch {
    throw new NotificationRejected('jws', `JWS ${what} is not a base64url JSON object`);
  }
}

function certTimes(c: X509Certificate): [number, number] {
  return [Date.parse(c.validFrom), Date.parse(c.validTo)];
}

export class AppleVerifier {
  private readonly roots: X509Certificate[];
  private readonly chains = new Map<string, VerifiedChain>();

  constructor(private readonly opts: AppleVerifierOptions) {
    if (opts.trustedRoots.length === 0) throw new Error('AppleVerifier needs at least one trusted root');
    this.roots = opts.trustedRoots.map((der) => new X509Certificate(der));
  }

  /** Verifies a compact JWS signed under Apple's chain rules and returns its payload. */
  verifyJws(jws: string, nowMs: number): unknown {
    const parts = jws.split('.');
    if (parts.length !== 3) throw new NotificationRejected('jws', 'signedPayload is not a compact JWS');
    const [h, p, s] = parts as [string, string, string];
    const chain = this.chainOf(h);
    const signature = Buffer.from(s, 'base64url');
    const ok =
      signature.length === 64 &&
      cryptoVerify(
        'sha256',
        Buffer.from(`${h}.${p}`),
        { key: chain.leafKey, dsaEncoding: 'ieee-p1363' },
        signature,
      );
    if (!ok)
      throw new NotificationRejected('signature', 'JWS signature does not verify with the leaf certificate');
    const payload = b64urlJson(p, 'payload');
    const signedDate = payload.signedDate;
    const effective =
      this.opts.effectiveDate === 'signed-date' && typeof signedDate === 'number' ? signedDate : nowMs;
    if (effective < chain.notBefore - SKEW_MS || effective > chain.notAfter + SKEW_MS) {
      throw new NotificationRejected(
        'validity',
        `certificate chain is not valid at ${new Date(effective).toISOString()} (valid ${new Date(chain.notBefore).toISOString()} .. ${new Date(chain.notAfter).toISOString()})`,
      );
    }
    return payload;
  }

  /**
   * The verified chain of a JWS header, cached by the header segment itself: Apple signs notifications
   * with the same header (alg and x5c) until it rotates certificates, and the x5c is most of a body, so
   * decoding and parsing it once per header saves both on every request (bench P1). Only headers that
   * passed every check are cached.
   */
  private chainOf(h: string): VerifiedChain {
    const cached = this.chains.get(h);
    if (cached) return cached;
    const header = b64urlJson(h, 'header');
    if (header.alg !== 'ES256') {
      throw new NotificationRejected('algorithm', `alg must be ES256, got ${JSON.stringify(header.alg)}`);
    }
    const verified = this.verifyChain(header.x5c);
    if (this.chains.size >= (this.opts.chainCacheSize ?? 64)) {
      this.chains.delete(this.chains.keys().next().value as string);
    }
    this.chains.set(h, verified);
    return verified;
  }

  private verifyChain(x5c: unknown): VerifiedChain {
    if (!Array.isArray(x5c) || x5c.length !== 3 || !x5c.every((c) => typeof c === 'string')) {
      throw new NotificationRejected('chain', 'x5c must hold exactly 3 certificates');
    }

    let leaf: X509Certificate;
    let intermediate: X509Certificate;
    try {
      leaf = new X509Certificate(Buffer.from(x5c[0] as string, 'base64'));
      intermediate = new X509Certificate(Buffer.from(x5c[1] as string, 'base64'));
    } catch {
      throw new NotificationRejected('chain', 'x5c holds a certificate that does not parse');
    }
    // Only our configured roots count; the root the header carries (x5c[2]) is never trusted.
    const root = this.roots.find((r) => intermediate.checkIssued(r) && intermediate.verify(r.publicKey));
    if (!root) throw new NotificationRejected('chain', 'intermediate is not signed by a trusted root');
    if (!intermediate.ca) throw new NotificationRejected('chain', 'intermediate is not a CA certificate');
    if (!leaf.checkIssued(intermediate) || !leaf.verify(intermediate.publicKey)) {
      throw new NotificationRejected('chain', 'leaf is not signed by the intermediate');
    }
    if (!safeOids(intermediate).includes(APPLE_WWDR_INTERMEDIATE_OID)) {
      throw new NotificationRejected('oid', `intermediate lacks OID ${APPLE_WWDR_INTERMEDIATE_OID}`);
    }
    if (!safeOids(leaf).includes(APPLE_LEAF_OID)) {
      throw new NotificationRejected('oid', `leaf lacks OID ${APPLE_LEAF_OID}`);
    }
    const details = leaf.publicKey.asymmetricKeyDetails;
    if (leaf.publicKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
      throw new NotificationRejected('algorithm', 'leaf key is not an EC P-256 key (ES256)');
    }
    const times = [leaf, intermediate, root].map(certTimes);
    return {
      leafKey: leaf.publicKey,
      notBefore: Math.max(...times.map((t) => t[0])),
      notAfter: Math.min(...times.map((t) => t[1])),
    };
  }

  /** Verifies a V2 request body `{"signedPayload": "<JWS>"}` and the app checks. */
  verifyNotificationV2(body: Buffer, nowMs: number): NotificationPayloadV2 {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new NotificationRejected('body', 'body is not JSON');
    }
    const signedPayload = (parsed as { signedPayload?: unknown } | null)?.signedPayload;
    if (typeof signedPayload !== 'string') {
      throw new NotificationRejected('body', 'body must be {"signedPayload": "<JWS>"}');
    }
    const payload = this.verifyJws(signedPayload, nowMs) as NotificationPayloadV2;
    if (typeof payload.notificationType !== 'string' || typeof payload.notificationUUID !== 'string') {
      throw new NotificationRejected('jws', 'payload lacks notificationType or notificationUUID');
    }
    this.checkApp(appIdentity(payload));
    return payload;
  }

  private checkApp(id: { bundleId?: string; appAppleId?: number; environment?: string }): void {
    const { bundleIds, environments, appAppleIds } = this.opts;
    if (bundleIds && !(id.bundleId && bundleIds.includes(id.bundleId))) {
      throw new NotificationRejected('bundle', `bundleId ${JSON.stringify(id.bundleId)} is not allowed`);
    }
    if (!environments.includes(id.environment as AppleEnvironment)) {
      throw new NotificationRejected(
        'environment',
        `environment ${JSON.stringify(id.environment)} is not accepted`,
      );
    }
    if (
      id.environment === 'Production' &&
      appAppleIds.length > 0 &&
      !appAppleIds.includes(id.appAppleId as number)
    ) {
      throw new NotificationRejected(
        'app_apple_id',
        `appAppleId ${JSON.stringify(id.appAppleId)} is not allowed`,
      );
    }
  }

  /** Verifies a legacy V1 body: authentic when `password` equals the shared secret. */
  verifyNotificationV1(body: Buffer, sharedSecret: string): NotificationV1 {
    let parsed: NotificationV1;
    try {
      parsed = JSON.parse(body.toString('utf8')) as NotificationV1;
    } catch {
      throw new NotificationRejected('body', 'body is not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.notification_type !== 'string') {
      throw new NotificationRejected('body', 'body lacks notification_type');
    }
    if (!secretEquals(parsed.password, sharedSecret)) {
      throw new NotificationRejected('secret', 'password does not match the shared secret');
    }
    const environment = parsed.environment === 'PROD' ? 'Production' : parsed.environment;
    if (this.opts.bundleIds && !(parsed.bid && this.opts.bundleIds.includes(parsed.bid))) {
      throw new NotificationRejected('bundle', `bid ${JSON.stringify(parsed.bid)} is not allowed`);
    }
    if (!this.opts.environments.includes(environment as AppleEnvironment)) {
      throw new NotificationRejected(
        'environment',
        `environment ${JSON.stringify(parsed.environment)} is not accepted`,
      );
    }
    return parsed;
  }
}

function safeOids(cert: X509Certificate): string[] {
  try {
    return extensionOids(cert.raw);
  } catch {
    return [];
  }
}

/** Constant-time comparison that also hides the secret's length. */
function secretEquals(given: unknown, secret: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}
