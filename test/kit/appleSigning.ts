/**
 * A test PKI shaped like Apple's (root -> WWDR-like intermediate with OID 1.2.840.113635.100.6.2.1 ->
 * leaf with OID 1.2.840.113635.100.6.11.1, ES256), generated at test time, and a signer that produces
 * App Store Server Notifications V2 bodies from plain JSON (the approach of Apple's own library tests).
 * Knobs build the forgeries: a leaf without the OID, an intermediate that is not a CA, another root.
 */
import 'reflect-metadata';
import { KeyObject, sign as cryptoSign, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { DecodedNotificationV2 } from '../../lib/core/app-store/model';
import { APPLE_LEAF_OID, APPLE_WWDR_INTERMEDIATE_OID } from '../../lib/core/app-store/verify';

x509.cryptoProvider.set(webcrypto as never);

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NULL_DER = new Uint8Array([0x05, 0x00]);

export interface Pki {
  rootDer: Buffer;
  intermediateDer: Buffer;
  leafDer: Buffer;
  leafKey: KeyObject;
  intermediateKey: KeyObject;
  rootKey: webcrypto.CryptoKey;
}

/** What signing needs: the chain and the leaf's key (a demo PKI loaded from files has no more). */
export type SigningPki = Pick<Pki, 'rootDer' | 'intermediateDer' | 'leafDer' | 'leafKey'>;

async function keys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, [
    'sign',
    'verify',
  ])) as unknown as webcrypto.CryptoKeyPair;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(2, '0');

export async function createPki(
  opts: {
    leafOid?: boolean;
    intermediateOid?: boolean;
    intermediateIsCa?: boolean;
    notAfter?: Date;
    root?: { der: Buffer; key: webcrypto.CryptoKey };
  } = {},
): Promise<Pki> {
  const notBefore = new Date(Date.UTC(2020, 0, 1));
  const notAfter = opts.notAfter ?? new Date(Date.UTC(2040, 0, 1));
  let rootDer: Buffer;
  let rootPrivate: webcrypto.CryptoKey;
  let rootName: string;
  if (opts.root) {
    rootDer = opts.root.der;
    rootPrivate = opts.root.key;
    rootName = new x509.X509Certificate(rootDer).subject;
  } else {
    const rk = await keys();
    rootName = `CN=Storeline Test Root ${nextSerial()}, O=Storeline Tests`;
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: nextSerial(),
      name: rootName,
      notBefore,
      notAfter,
      keys: rk,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
    });
    rootDer = Buffer.from(root.rawData);
    rootPrivate = rk.privateKey;
  }
  const ik = await keys();
  const intermediateName = `CN=Storeline Test WWDR ${nextSerial()}, O=Storeline Tests`;
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: intermediateName,
    issuer: rootName,
    notBefore,
    notAfter,
    signingKey: rootPrivate,
    publicKey: ik.publicKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(opts.intermediateIsCa ?? true, undefined, true),
      ...(opts.intermediateOid === false
        ? []
        : [new x509.Extension(APPLE_WWDR_INTERMEDIATE_OID, false, NULL_DER)]),
    ],
  });
  const lk = await keys();
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: `CN=Storeline Test Receipt Signing ${nextSerial()}, O=Storeline Tests`,
    issuer: intermediateName,
    notBefore,
    notAfter,
    signingKey: ik.privateKey,
    publicKey: lk.publicKey,
    signingAlgorithm: EC,
    extensions: opts.leafOid === false ? [] : [new x509.Extension(APPLE_LEAF_OID, false, NULL_DER)],
  });
  return {
    rootDer,
    rootKey: rootPrivate,
    intermediateDer: Buffer.from(intermediate.rawData),
    leafDer: Buffer.from(leaf.rawData),
    leafKey: KeyObject.from(lk.privateKey),
    intermediateKey: KeyObject.from(ik.privateKey),
  };
}

export interface SignOptions {
  alg?: string;
  /** Override the x5c header (base64 DER strings). */
  x5c?: string[];
  /** Sign with this key instead of the leaf's. */
  key?: KeyObject;
}

export function signJws(payload: unknown, pki: SigningPki, opts: SignOptions = {}): string {
  const header = {
    alg: opts.alg ?? 'ES256',
    x5c: opts.x5c ?? [pki.leafDer, pki.intermediateDer, pki.rootDer].map((d) => d.toString('base64')),
  };
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(JSON.stringify(payload)).toString('base64url');
  if (header.alg === 'none') return `${h}.${p}.`;
  const sig = cryptoSign('sha256', Buffer.from(`${h}.${p}`), {
    key: opts.key ?? pki.leafKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${h}.${p}.${sig.toString('base64url')}`;
}

/** A V2 request body for a decoded notification: nested JWS signed too, as Apple does. */
export function signedBody(n: DecodedNotificationV2, pki: SigningPki, opts: SignOptions = {}): Buffer {
  const data = n.payload.data
    ? {
        ...n.payload.data,
        ...(n.transaction ? { signedTransactionInfo: signJws(n.transaction, pki) } : {}),
        ...(n.renewal ? { signedRenewalInfo: signJws(n.renewal, pki) } : {}),
      }
    : undefined;
  const payload = { ...n.payload, ...(data ? { data } : {}) };
  return Buffer.from(JSON.stringify({ signedPayload: signJws(payload, pki, opts) }));
}
