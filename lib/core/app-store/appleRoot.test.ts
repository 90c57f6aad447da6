import { APP_STORE_FIXTURES } from '../../../test/kit/fixtures';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { APPLE_ROOT_CA_G3_DER } from './appleRoot';
import { loadCertificates } from './certs';

describe('bundled Apple Root CA - G3', () => {
  it('has the published fingerprint and matches the trust fixture', () => {
    expect(createHash('sha256').update(APPLE_ROOT_CA_G3_DER).digest('hex')).toBe(
      '63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179',
    );
    const fixture = readFileSync(resolve(APP_STORE_FIXTURES, 'trust/AppleRootCA-G3.cer'));
    expect(APPLE_ROOT_CA_G3_DER.equals(fixture)).toBe(true);
    expect(new X509Certificate(APPLE_ROOT_CA_G3_DER).subject).toContain('CN=Apple Root CA - G3');
  });

  it('loads DER and PEM files alike', () => {
    const pem = new X509Certificate(APPLE_ROOT_CA_G3_DER).toString();
    expect(
      loadCertificates([{ name: 'a.pem', bytes: Buffer.from(pem) }])[0]!.equals(APPLE_ROOT_CA_G3_DER),
    ).toBe(true);
    expect(
      loadCertificates([{ name: 'a.cer', bytes: APPLE_ROOT_CA_G3_DER }])[0]!.equals(APPLE_ROOT_CA_G3_DER),
    ).toBe(true);
    expect(() => loadCertificates([{ name: 'bad.pem', bytes: Buffer.from('nope') }])).toThrow(/bad.pem/);
  });
});
