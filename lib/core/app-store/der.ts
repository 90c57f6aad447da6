/**
 * Just enough DER to list an X.509 certificate's extension OIDs (RFC 5280 §4.1), which node:crypto's
 * X509Certificate does not expose. Apple's chain rules need two of them: the WWDR intermediate marker
 * 1.2.840.113635.100.6.2.1 and the receipt-signing leaf marker 1.2.840.113635.100.6.11.1.
 */
interface Tlv {
  tag: number;
  /** Content start and end offsets. */
  start: number;
  end: number;
}

function readTlv(buf: Buffer, pos: number): Tlv {
  if (pos + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[pos] as number;
  let len = buf[pos + 1] as number;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > buf.length) throw new Error('DER: length past end');
  return { tag, start, end };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.start; pos < parent.end;) {
    const t = readTlv(buf, pos);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function decodeOid(bytes: Buffer): string {
  const first = bytes[0] as number;
  const parts = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let v = 0;
  for (let i = 1; i < bytes.length; i++) {
    const b = bytes[i] as number;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const SEQUENCE = 0x30;
const OID = 0x06;
const EXTENSIONS = 0xa3; // [3] EXPLICIT, constructed

/** The OIDs of the certificate's extensions, in order. Throws on malformed DER. */
export function extensionOids(certDer: Buffer): string[] {
  const cert = readTlv(certDer, 0);
  if (cert.tag !== SEQUENCE) throw new Error('DER: certificate is not a SEQUENCE');
  const tbs = children(certDer, cert)[0];
  if (!tbs || tbs.tag !== SEQUENCE) throw new Error('DER: tbsCertificate missing');
  const ext = children(certDer, tbs).find((t) => t.tag === EXTENSIONS);
  if (!ext) return [];
  const list = children(certDer, ext)[0];
  if (!list || list.tag !== SEQUENCE) throw new Error('DER: extensions are not a SEQUENCE');
  return children(certDer, list).map((e) => {
    const id = children(certDer, e)[0];
    if (!id || id.tag !== OID) throw new Error('DER: extension without OID');
    return decodeOid(certDer.subarray(id.start, id.end));
  });
}
