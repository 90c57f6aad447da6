import { APP_STORE_FIXTURES } from '../../../test/kit/fixtures';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeOid, extensionOids } from './der';

function realChain(): Buffer[] {
  const body = JSON.parse(readFileSync(resolve(APP_STORE_FIXTURES, 'real/01_DID_RENEW.json'), 'utf8')) as {
    signedPayload: string;
  };
  const header = JSON.parse(
    Buffer.from(body.signedPayload.split('.')[0] as string, 'base64url').toString(),
  ) as {
    x5c: string[];
  };
  return header.x5c.map((c) => Buffer.from(c, 'base64'));
}

describe('extensionOids', () => {
  it("reads Apple's marker OIDs from the real leaf and intermediate", () => {
    const [leaf, intermediate, root] = realChain();
    expect(extensionOids(leaf!)).toContain('1.2.840.113635.100.6.11.1');
    expect(extensionOids(intermediate!)).toContain('1.2.840.113635.100.6.2.1');
    expect(extensionOids(root!)).toEqual(['2.5.29.14', '2.5.29.19', '2.5.29.15']);
  });

  it('matches the bundled Apple Root CA - G3', () => {
    expect(extensionOids(readFileSync(resolve(APP_STORE_FIXTURES, 'trust/AppleRootCA-G3.cer')))).toEqual([
      '2.5.29.14',
      '2.5.29.19',
      '2.5.29.15',
    ]);
  });

  it('rejects garbage', () => {
    expect(() => extensionOids(Buffer.from('not a certificate'))).toThrow(/DER/);
  });

  it('decodes multi-byte OID arcs', () => {
    expect(decodeOid(Buffer.from('2a864886f7636406020 1'.replace(/ /g, ''), 'hex'))).toBe(
      '1.2.840.113635.100.6.2.1',
    );
  });
});
