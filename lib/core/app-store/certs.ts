import { X509Certificate } from 'node:crypto';

/** Certificates from files, DER or PEM (several PEM blocks per file allowed), returned as DER. */
export function loadCertificates(files: { name: string; bytes: Buffer }[]): Buffer[] {
  return files.flatMap(({ name, bytes }) => {
    const text = bytes.toString('latin1');
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    const ders = blocks ? blocks.map((b) => new X509Certificate(b).raw) : [bytes];
    return ders.map((der) => {
      try {
        return new X509Certificate(der).raw;
      } catch {
        throw new Error(`${name}: not a DER or PEM certificate`);
      }
    });
  });
}
