import { describe, expect, it } from 'vitest';
import {
  addressRefusal,
  checkWebhookUrl,
  parseWebhookUrl,
  type ResolvedAddress,
  type ResolveHost,
  WebhookUrlRefused,
} from './ssrf.ts';

// Literal addresses only: nothing here asks a DNS server or opens a connection. Names are "resolved" by a
// stand-in that answers from a table, and that fails the test if asked about a literal address.

const STRICT = { allowPrivate: false };
const DEVELOPMENT = { allowPrivate: true };

/** A resolver that answers from `table` and records what it was asked. */
function table(entries: Record<string, string[]>): ResolveHost & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    asked.push(hostname);
    const addresses = entries[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

const NOT_PUBLIC = [
  // IPv4
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.254', 'private'],
  ['192.168.1.10', 'private'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.127.255.255', 'carrier-grade NAT'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.169.254', 'link-local'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  // IPv6
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['::ffff:127.0.0.1', 'IPv4-mapped'],
  ['::ffff:10.0.0.1', 'IPv4-mapped'],
  ['::ffff:8.8.8.8', 'IPv4-mapped'],
  ['::127.0.0.1', 'reserved'],
  ['fc00::1', 'unique local'],
  ['fd12:3456:789a::1', 'unique local'],
  ['fe80::1', 'link-local'],
  ['ff02::1', 'multicast'],
  ['64:ff9b::a00:1', 'NAT64'],
  ['2002:7f00:1::1', '6to4'],
  ['2001::1', 'Teredo'],
  ['2001:db8::1', 'reserved'],
  ['100::1', 'reserved'],
] as const;

const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '172.32.0.1',
  '100.128.0.1',
  '2606:4700:4700::1111',
  '2a00:1450::1',
];

describe('addressRefusal', () => {
  it.each(NOT_PUBLIC)('refuses %s (%s)', (address, kind) => {
    const refusal = addressRefusal(address, STRICT);
    expect(refusal).toBeDefined();
    if (!['NAT64', '6to4', 'Teredo'].includes(kind)) expect(refusal).toContain(kind);
  });

  it.each(PUBLIC)('accepts the public address %s', (address) => {
    expect(addressRefusal(address, STRICT)).toBeUndefined();
  });

  it('lets loopback through with allowPrivate, and nothing else that is not public', () => {
    for (const loopback of ['127.0.0.1', '127.1.2.3', '::1'])
      expect(addressRefusal(loopback, DEVELOPMENT)).toBeUndefined();
    for (const [address, kind] of NOT_PUBLIC) {
      if (kind === 'loopback') continue;
      expect(addressRefusal(address, DEVELOPMENT), address).toBeDefined();
    }
  });

  it('refuses what is not an address', () => {
    expect(addressRefusal('example.com', STRICT)).toBe('not an IP address');
  });
});

describe('parseWebhookUrl', () => {
  it('takes https only; http too with allowPrivate', () => {
    expect(parseWebhookUrl('https://hooks.example/in?x=1', STRICT).href).toBe('https://hooks.example/in?x=1');
    expect(() => parseWebhookUrl('http://hooks.example/in', STRICT)).toThrow('the URL must be https:');
    expect(parseWebhookUrl('http://127.0.0.1:8080/in', DEVELOPMENT).port).toBe('8080');
    for (const url of ['ftp://hooks.example/', 'file:///etc/passwd', 'gopher://x/', 'javascript:alert(1)']) {
      expect(() => parseWebhookUrl(url, DEVELOPMENT), url).toThrow(WebhookUrlRefused);
    }
  });

  it('refuses credentials, fragments, relative and overlong URLs, for good', () => {
    const refusal = (url: string) => {
      try {
        parseWebhookUrl(url, STRICT);
      } catch (error) {
        return error as WebhookUrlRefused;
      }
      throw new Error(`${url} was accepted`);
    };
    expect(refusal('https://user:pass@hooks.example/').message).toMatch(/user name or password/);
    expect(refusal('https://hooks.example/#x').message).toMatch(/fragment/);
    expect(refusal('/relative').message).toMatch(/not a valid absolute URL/);
    expect(refusal(`https://hooks.example/${'a'.repeat(3000)}`).message).toMatch(/at most 2048/);
    expect(refusal('http://hooks.example/').permanent).toBe(true);
  });
});

describe('checkWebhookUrl', () => {
  it('refuses literal private, loopback and link-local addresses without resolving anything', async () => {
    const resolve = table({});
    for (const url of [
      'https://10.0.0.5/hook',
      'https://127.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[fd00::1]:8443/hook',
      // Other spellings of 127.0.0.1, which the URL parser writes out as such.
      'https://2130706433/hook',
      'https://0x7f.0.0.1/hook',
      'https://127.1/hook',
    ]) {
      const refused = await checkWebhookUrl(url, STRICT, resolve).catch((error: unknown) => error);
      expect(refused, url).toBeInstanceOf(WebhookUrlRefused);
      expect((refused as WebhookUrlRefused).message, url).toMatch(/webhooks go to public addresses only/);
      expect((refused as WebhookUrlRefused).permanent, url).toBe(true);
    }
    expect(resolve.asked).toEqual([]);
  });

  it('accepts a literal public address, and loopback over http with allowPrivate', async () => {
    const resolve = table({});
    expect(await checkWebhookUrl('https://8.8.8.8/hook', STRICT, resolve)).toMatchObject({
      hostname: '8.8.8.8',
      addresses: [{ address: '8.8.8.8', family: 4 }],
    });
    expect(await checkWebhookUrl('http://127.0.0.1:9999/hook', DEVELOPMENT, resolve)).toMatchObject({
      hostname: '127.0.0.1',
      addresses: [{ address: '127.0.0.1', family: 4 }],
    });
    expect(await checkWebhookUrl('http://[::1]:9999/hook', DEVELOPMENT, resolve)).toMatchObject({
      hostname: '::1',
      addresses: [{ address: '::1', family: 6 }],
    });
    await expect(checkWebhookUrl('http://10.0.0.1/hook', DEVELOPMENT, resolve)).rejects.toThrow(/private/);
    expect(resolve.asked).toEqual([]);
  });

  it('checks every address a name resolves to: one that is not public refuses the URL, for now', async () => {
    const resolve = table({
      'public.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
      'mixed.example': ['93.184.216.34', '10.1.2.3'],
      'metadata.example': ['169.254.169.254'],
      'mapped.example': ['::ffff:192.168.0.1'],
    });
    expect(await checkWebhookUrl('https://public.example/in', STRICT, resolve)).toMatchObject({
      hostname: 'public.example',
      addresses: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
      ],
    });
    const mixed = await checkWebhookUrl('https://mixed.example/in', STRICT, resolve).catch((error: unknown) => error);
    expect(mixed).toMatchObject({
      message: 'mixed.example resolves to 10.1.2.3, which is a private address: webhooks go to public addresses only',
      // The name may point elsewhere later: a delivery refused for it is tried again.
      permanent: false,
    });
    await expect(checkWebhookUrl('https://metadata.example/', STRICT, resolve)).rejects.toThrow(/link-local/);
    await expect(checkWebhookUrl('https://mapped.example/', STRICT, resolve)).rejects.toThrow(/IPv4-mapped/);
    await expect(checkWebhookUrl('https://nowhere.example/', STRICT, resolve)).rejects.toMatchObject({
      message: 'nowhere.example does not resolve to an address',
      permanent: false,
    });
    // The protocol is checked before any name is resolved.
    await expect(checkWebhookUrl('http://public.example/', STRICT, resolve)).rejects.toThrow('the URL must be https:');
    expect(resolve.asked).toEqual([
      'public.example',
      'mixed.example',
      'metadata.example',
      'mapped.example',
      'nowhere.example',
    ]);
  });
});
