/**
 * SSRF guard: a webhook URL is customer input, so before connecting, every address its host resolves to
 * must be public, unless the operator's allow-list (CIDRs) permits it. The check runs in the socket's own
 * DNS lookup, on the address actually connected to, so a DNS answer that changes between check and use
 * (rebinding) cannot slip through. Plain http is only allowed to allow-listed addresses.
 */
import { BlockList, isIP } from 'node:net';
import type { LookupAddress, LookupOptions } from 'node:dns';
import dns from 'node:dns';
import { z } from 'zod';
import { csv } from '../../platform/config';

// Not globally routable, or routed to the host itself / the cloud's metadata service.
// IANA special-purpose registries: https://www.iana.org/assignments/iana-ipv4-special-registry/ and
// https://www.iana.org/assignments/iana-ipv6-special-registry/
const BLOCKED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT (and Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, including 169.254.169.254 (AWS, GCP, Azure metadata)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
// IPv4-mapped ::ffff:0:0/96 is not listed: refusal() judges the IPv4 address it maps to (and BlockList
// applies the IPv4 rules to the hex spelling, ::ffff:7f00:1). Every other form that embeds an IPv4 address
// is refused whole, public or not: a host or translator may route it to that IPv4 address.
const BLOCKED_V6: [string, number][] = [
  // Unspecified (::), loopback (::1) and the deprecated IPv4-compatible ::a.b.c.d (RFC 4291 section
  // 2.5.5.1), which a host with an automatic tunnel sends to a.b.c.d: ::7f00:1 is 127.0.0.1.
  ['::', 96],
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT, RFC 2765): ::ffff:0:a.b.c.d
  ['64:ff9b::', 96], // NAT64: would reach IPv4 addresses through a translator
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001::', 32], // Teredo: embeds the server's and (obfuscated) client's IPv4 addresses
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local, including fd00:ec2::254 (AWS metadata over IPv6)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
];

export class SsrfError extends Error {
  override readonly name = 'SsrfError';
  readonly code = 'ERR_SSRF_REFUSED';
}

export class SsrfGuard {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  /** `allowCidrs`: e.g. ["127.0.0.1/32", "10.1.0.0/16"]; throws on a malformed entry. */
  constructor(allowCidrs: readonly string[] = []) {
    for (const [net, prefix] of BLOCKED_V4) this.blocked.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of BLOCKED_V6) this.blocked.addSubnet(net, prefix, 'ipv6');
    for (const cidr of allowCidrs) {
      const parsed = parseCidr(cidr);
      if (typeof parsed === 'string') throw new TypeError(parsed);
      this.allowed.addSubnet(parsed.address, parsed.prefix, parsed.type);
    }
  }

  private isAllowListed(address: string, type: 'ipv4' | 'ipv6'): boolean {
    return this.allowed.check(address, type);
  }

  /** Why `address` may not be connected to, or undefined when it may. */
  refusal(address: string, protocol: 'http:' | 'https:'): string | undefined {
    const family = isIP(address);
    if (family === 0) return `${address} is not an IP address`;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) reaches the IPv4 address: judge that one.
    const mapped = type === 'ipv6' ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
    if (mapped) return this.refusal(mapped, protocol);
    if (this.isAllowListed(address, type)) return undefined;
    if (this.blocked.check(address, type))
      return `${address} is a private, loopback, link-local or reserved address`;
    if (protocol === 'http:') return `plain http is only allowed to allow-listed addresses (${address})`;
    return undefined;
  }

  /**
   * A `lookup` for http.request: resolves like dns.lookup, then refuses the connection when any resolved
   * address is refused (a name that mixes public and private answers is not trusted either).
   */
  lookup(protocol: 'http:' | 'https:', resolve: typeof dns.lookup = dns.lookup) {
    return (
      hostname: string,
      options: LookupOptions,
      callback: (
        err: NodeJS.ErrnoException | null,
        address: string | LookupAddress[],
        family?: number,
      ) => void,
    ): void => {
      resolve(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, '');
        const list = addresses as LookupAddress[];
        for (const a of list) {
          const why = this.refusal(a.address, protocol);
          if (why) return callback(new SsrfError(`refused ${hostname}: ${why}`), '');
        }
        if (list.length === 0) return callback(new SsrfError(`refused ${hostname}: no address`), '');
        if (options.all) return callback(null, list);
        return callback(null, list[0]!.address, list[0]!.family);
      });
    };
  }

  /** Checks a URL up front (endpoint create/update): scheme, and every address its host resolves to. */
  async check(url: string, resolve: typeof dns.lookup = dns.lookup): Promise<string | undefined> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return 'not a URL';
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'only http and https URLs are allowed';
    if (u.username || u.password) return 'credentials in the URL are not allowed';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) return this.refusal(host, u.protocol);
    return new Promise((done) => {
      this.lookup(u.protocol as 'http:' | 'https:', resolve)(host, { all: true }, (err) =>
        done(
          err
            ? err instanceof SsrfError
              ? err.message
              : `cannot resolve ${host}: ${err.code ?? err.message}`
            : undefined,
        ),
      );
    });
  }
}

export function parseCidr(cidr: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } | string {
  const [address = '', prefixText] = cidr.trim().split('/');
  const family = isIP(address);
  if (family === 0) return `"${cidr}" is not a CIDR (address/prefix)`;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return `"${cidr}" has a bad prefix length`;
  return { address, prefix, type: family === 4 ? 'ipv4' : 'ipv6' };
}

/** `WEBHOOK_ALLOWED_CIDRS` as the fan-out and the console take it: comma-separated CIDRs, default none. */
export const allowedCidrsEnv = csv
  .pipe(
    z.array(
      z.string().refine((c) => typeof parseCidr(c) !== 'string', 'each entry must be a CIDR like 10.0.0.0/8'),
    ),
  )
  .default([]);
