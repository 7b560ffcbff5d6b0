import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * The guard on webhook URLs (server-side request forgery): a user's webhook must not make the service call
 * into its own network (the cloud's metadata endpoint, the database, other services). A URL is accepted
 * only when it is https: and every address its host resolves to is public; it is checked when the webhook
 * is registered and again before each delivery, and the delivery connects to an address so checked (never
 * resolving the name a second time, which a rebinding DNS server could answer differently) and follows no
 * redirect. WEBHOOK_ALLOW_PRIVATE (development and tests) lets http: and loopback addresses through.
 */
export interface WebhookUrlPolicy {
  /** http: URLs and loopback addresses allowed (WEBHOOK_ALLOW_PRIVATE); never in production. */
  allowPrivate: boolean;
}

/** An address a webhook's host resolves to, as dns.lookup gives it. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Every address a host name resolves to (dns.lookup, so /etc/hosts too, as a connection would see it). */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

/** Why a webhook URL was refused; `permanent` when the URL itself can never pass (not when DNS might change). */
export class WebhookUrlRefused extends Error {
  readonly permanent: boolean;
  constructor(message: string, options: { permanent: boolean }) {
    super(message);
    this.name = 'WebhookUrlRefused';
    this.permanent = options.permanent;
  }
}

/** A webhook URL that passed the guard, and the addresses it may be called at. */
export interface CheckedWebhookUrl {
  url: URL;
  /** The host as the URL has it, without an IPv6 literal's brackets: the Host header and TLS server name. */
  hostname: string;
  addresses: ResolvedAddress[];
}

const MAX_URL_LENGTH = 2048;

/**
 * The URL's own form: http(s) as the policy allows, a host, no credentials (they would be kept and shown
 * as part of the URL) and no fragment. Throws WebhookUrlRefused.
 */
export function parseWebhookUrl(raw: string, policy: WebhookUrlPolicy): URL {
  if (raw.length > MAX_URL_LENGTH) refuse(`the URL must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('the URL is not a valid absolute URL');
  }
  const protocols = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!protocols.includes(url.protocol)) {
    refuse(policy.allowPrivate ? 'the URL must be https: or http:' : 'the URL must be https:');
  }
  if (url.username || url.password) refuse('the URL must not carry a user name or password');
  if (url.hash) refuse('the URL must not have a fragment (#…)');
  if (!url.hostname) refuse('the URL must name a host');
  return url;
}

/**
 * Why an address may not be called, or undefined when it may: public unicast addresses only; with
 * allowPrivate, loopback addresses (127.0.0.0/8, ::1) too. Pure: no DNS, no connection.
 */
export function addressRefusal(address: string, policy: WebhookUrlPolicy): string | undefined {
  const version = isIP(address);
  if (version === 0) return 'not an IP address';
  if (version === 4) {
    const range = IPV4_RANGES.find(({ list }) => list.check(address, 'ipv4'));
    if (!range) return undefined;
    if (range.name === 'loopback' && policy.allowPrivate) return undefined;
    return `a ${range.name} address`;
  }
  // IPv4 written as IPv6 (::ffff:10.0.0.1) reaches the IPv4 address: refused whichever it is.
  if (IPV4_MAPPED.check(address, 'ipv6')) return 'an IPv4-mapped IPv6 address';
  if (IPV6_LOOPBACK.check(address, 'ipv6')) return policy.allowPrivate ? undefined : 'a loopback address';
  const range = IPV6_RANGES.find(({ list }) => list.check(address, 'ipv6'));
  if (range) return `a ${range.name} address`;
  // Only the global unicast block (2000::/3) is routable on the internet; everything outside it is not.
  if (!IPV6_GLOBAL_UNICAST.check(address, 'ipv6')) return 'a non-global IPv6 address';
  return undefined;
}

/** How long resolving a webhook's host may take (a registration waits for it). */
const RESOLVE_TIMEOUT_MS = 5_000;

/** dns.lookup, every address, in the order the resolver gives them; it fails after 5 s. */
export const resolveHost: ResolveHost = async (hostname) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`resolving ${hostname} took over ${RESOLVE_TIMEOUT_MS} ms`)),
      RESOLVE_TIMEOUT_MS,
    );
  });
  try {
    const found = await Promise.race([lookup(hostname, { all: true, order: 'verbatim' }), timeout]);
    return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Checks a webhook URL all the way: its form, then every address its host resolves to (a literal address
 * is not resolved). Throws WebhookUrlRefused, naming the address refused.
 */
export async function checkWebhookUrl(
  raw: string,
  policy: WebhookUrlPolicy,
  resolve: ResolveHost = resolveHost,
): Promise<CheckedWebhookUrl> {
  const url = parseWebhookUrl(raw, policy);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = isIP(hostname);
  let addresses: ResolvedAddress[];
  if (literal !== 0) {
    addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await resolve(hostname);
    } catch {
      throw new WebhookUrlRefused(`${hostname} does not resolve to an address`, { permanent: false });
    }
    if (addresses.length === 0) {
      throw new WebhookUrlRefused(`${hostname} does not resolve to an address`, { permanent: false });
    }
  }
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, policy);
    if (refusal !== undefined) {
      const what = literal !== 0 ? address : `${hostname} resolves to ${address}, which`;
      throw new WebhookUrlRefused(`${what} is ${refusal}: webhooks go to public addresses only`, {
        // A literal address never changes; a name's addresses may.
        permanent: literal !== 0,
      });
    }
  }
  return { url, hostname, addresses };
}

function refuse(message: string): never {
  throw new WebhookUrlRefused(message, { permanent: true });
}

function blockList(family: 'ipv4' | 'ipv6', subnets: Array<[string, number]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of subnets) list.addSubnet(network, prefix, family);
  return list;
}

/** IPv4 ranges that are not public (IANA special-purpose registry), by what they are. */
const IPV4_RANGES: Array<{ name: string; list: BlockList }> = [
  { name: 'loopback', list: blockList('ipv4', [['127.0.0.0', 8]]) },
  { name: 'unspecified ("this network")', list: blockList('ipv4', [['0.0.0.0', 8]]) },
  {
    name: 'private',
    list: blockList('ipv4', [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ]),
  },
  { name: 'shared (carrier-grade NAT)', list: blockList('ipv4', [['100.64.0.0', 10]]) },
  { name: 'link-local', list: blockList('ipv4', [['169.254.0.0', 16]]) },
  { name: 'multicast', list: blockList('ipv4', [['224.0.0.0', 4]]) },
  {
    name: 'reserved',
    list: blockList('ipv4', [
      ['192.0.0.0', 24],
      ['192.0.2.0', 24],
      ['192.88.99.0', 24],
      ['198.18.0.0', 15],
      ['198.51.100.0', 24],
      ['203.0.113.0', 24],
      // 240.0.0.0/4 takes in the broadcast address 255.255.255.255.
      ['240.0.0.0', 4],
    ]),
  },
];

const IPV4_MAPPED = blockList('ipv6', [['::ffff:0:0', 96]]);
const IPV6_LOOPBACK = blockList('ipv6', [['::1', 128]]);
const IPV6_GLOBAL_UNICAST = blockList('ipv6', [['2000::', 3]]);
/** Inside 2000::/3, blocks that are not public, or that carry an IPv4 address the guard would not see. */
const IPV6_RANGES: Array<{ name: string; list: BlockList }> = [
  { name: 'unspecified', list: blockList('ipv6', [['::', 128]]) },
  { name: 'unique local (private)', list: blockList('ipv6', [['fc00::', 7]]) },
  {
    name: 'link-local',
    list: blockList('ipv6', [
      ['fe80::', 10],
      ['fec0::', 10],
    ]),
  },
  { name: 'multicast', list: blockList('ipv6', [['ff00::', 8]]) },
  {
    name: 'IPv4-translating (NAT64, 6to4, Teredo)',
    list: blockList('ipv6', [
      ['64:ff9b::', 96],
      ['64:ff9b:1::', 48],
      ['2002::', 16],
      ['2001::', 32],
    ]),
  },
  {
    name: 'reserved',
    list: blockList('ipv6', [
      ['::', 96],
      ['100::', 64],
      ['2001:db8::', 32],
      ['2001:10::', 28],
      ['2001:20::', 28],
      ['3fff::', 20],
    ]),
  },
];
