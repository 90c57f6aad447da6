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
