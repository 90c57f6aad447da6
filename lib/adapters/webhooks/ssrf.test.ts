import type { LookupAddress } from 'node:dns';
import dns from 'node:dns';
import { SsrfGuard, parseCidr } from './ssrf';

/** A resolver answering from a table, shaped like dns.lookup with all: true. */
function fakeResolver(table: Record<string, string[]>): typeof dns.lookup {
  return ((
    host: string,
    _opts: unknown,
    cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void,
  ) => {
    const list = table[host];
    if (!list)
      return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
    cb(
      null,
      list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  }) as unknown as typeof dns.lookup;
}

describe('SSRF guard', () => {
  const guard = new SsrfGuard();

  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.100.100.200',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    'fc00::5',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::a9fe:a9fe',
  ])('refuses %s', (address) => {
    expect(guard.refusal(address, 'https:')).toMatch(/private|loopback|reserved/);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])(
    'lets public %s through on https',
    (address) => {
      expect(guard.refusal(address, 'https:')).toBeUndefined();
    },
  );

  // IPv6 forms that carry an IPv4 address, which a host or translator may route to that IPv4 address.
  it.each([
    ['IPv4-compatible (::/96), loopback', '::7f00:1'],
    ['IPv4-compatible, dotted', '::127.0.0.1'],
    ['IPv4-compatible, metadata', '::a9fe:a9fe'],
    ['IPv4-compatible, even a public address', '::808:808'],
    ['IPv4-mapped, hex form', '::ffff:7f00:1'],
    ['IPv4-translated (::ffff:0:0:0/96)', '::ffff:0:7f00:1'],
    ['IPv4-translated, dotted', '::ffff:0:169.254.169.254'],
    ['NAT64 well-known prefix', '64:ff9b::7f00:1'],
    ['NAT64 local-use prefix', '64:ff9b:1::7f00:1'],
    ['6to4', '2002:7f00:1::1'],
    ['Teredo', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
  ])('refuses %s: %s', (_form, address) => {
    expect(guard.refusal(address, 'https:')).toMatch(/private|loopback|reserved/);
  });

  it('refuses an IPv4-compatible loopback URL, however it is spelled', async () => {
    const resolve = fakeResolver({});
    expect(await guard.check('https://[::7f00:1]/hook', resolve)).toMatch(/reserved/);
    expect(await guard.check('https://[::127.0.0.1]:8443/hook', resolve)).toMatch(/reserved/);
    expect(await guard.check('https://[0:0:0:0:0:0:7f00:1]/', resolve)).toMatch(/reserved/);
  });

  it('refuses plain http to public addresses; allows both to allow-listed ones', () => {
    expect(guard.refusal('8.8.8.8', 'http:')).toMatch(/plain http/);
    const local = new SsrfGuard(['127.0.0.1/32', '10.5.0.0/16']);
    expect(local.refusal('127.0.0.1', 'http:')).toBeUndefined();
    expect(local.refusal('10.5.9.9', 'https:')).toBeUndefined();
    expect(local.refusal('127.0.0.2', 'http:')).toMatch(/loopback/);
    expect(local.refusal('10.6.0.1', 'https:')).toMatch(/private/);
  });

  it('checks every address a name resolves to (rebinding, mixed answers)', async () => {
    const resolve = fakeResolver({
      'hooks.example.com': ['93.184.216.34'],
      'evil.example.com': ['93.184.216.34', '169.254.169.254'],
      'metadata.google.internal': ['169.254.169.254'],
    });
    expect(await guard.check('https://hooks.example.com/x', resolve)).toBeUndefined();
    expect(await guard.check('https://evil.example.com/x', resolve)).toMatch(/refused evil.example.com/);
    expect(await guard.check('https://metadata.google.internal/', resolve)).toMatch(/169.254.169.254/);
    expect(await guard.check('https://nowhere.example/', resolve)).toMatch(/cannot resolve/);
    expect(await guard.check('https://[::1]:8080/', resolve)).toMatch(/loopback/);
    expect(await guard.check('ftp://hooks.example.com/', resolve)).toMatch(/only http and https/);
    expect(await guard.check('https://u:p@hooks.example.com/', resolve)).toMatch(/credentials/);
  });

  it('parses CIDRs and rejects malformed ones', () => {
    expect(parseCidr('127.0.0.1/32')).toEqual({ address: '127.0.0.1', prefix: 32, type: 'ipv4' });
    expect(parseCidr('::1')).toEqual({ address: '::1', prefix: 128, type: 'ipv6' });
    expect(parseCidr('10.0.0.0/33')).toMatch(/prefix/);
    expect(parseCidr('localhost/8')).toMatch(/not a CIDR/);
    expect(() => new SsrfGuard(['nope'])).toThrow(TypeError);
  });
});
