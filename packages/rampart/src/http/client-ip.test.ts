import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLIENT_IP_DEFAULTS, type ClientIpResolverOptions, createClientIpResolver } from './client-ip.ts';

type Headers = Record<string, string | string[]>;

/** A header lookup over a plain object, recording which names were read. */
function lookup(headers: Headers, reads: string[] = []) {
  return (name: string) => {
    reads.push(name);
    return headers[name];
  };
}

const PROXY = '10.0.0.2';
const CLIENT = '203.0.113.7';
const ATTACKER_PICK = '198.51.100.66';

describe('createClientIpResolver without trusted proxies (the default)', () => {
  const clientIp = createClientIpResolver();

  test('spoofed X-Forwarded-For, X-Real-IP and Forwarded from the internet are ignored', () => {
    const reads: string[] = [];
    const headers = {
      'x-forwarded-for': ATTACKER_PICK,
      'x-real-ip': ATTACKER_PICK,
      forwarded: `for=${ATTACKER_PICK}`,
    };
    assert.equal(clientIp(CLIENT, lookup(headers, reads)), CLIENT);
    assert.deepEqual(reads, [], 'headers are not even read');
  });

  test('a loopback peer is not trusted implicitly either', () => {
    assert.equal(clientIp('127.0.0.1', lookup({ 'x-forwarded-for': ATTACKER_PICK })), '127.0.0.1');
  });

  test('the peer is returned folded and canonical', () => {
    assert.equal(clientIp('::ffff:203.0.113.7', lookup({})), CLIENT);
    assert.equal(clientIp('2001:DB8:0:0::1', lookup({})), '2001:db8::1');
  });

  test('a link-local peer keeps its address but loses the kernel zone id', () => {
    assert.equal(clientIp('fe80::1%eth0', lookup({})), 'fe80::1');
  });

  test('a peer that is not an IP address (a Unix socket) is returned unchanged', () => {
    assert.equal(clientIp('/run/rampart.sock', lookup({})), '/run/rampart.sock');
    assert.equal(clientIp('', lookup({})), '');
  });
});

describe('createClientIpResolver with X-Forwarded-For', () => {
  const clientIp = createClientIpResolver({ trustProxy: ['10.0.0.0/8'] });

  test('a spoofed X-Forwarded-For from an untrusted peer is ignored', () => {
    const reads: string[] = [];
    assert.equal(clientIp(CLIENT, lookup({ 'x-forwarded-for': ATTACKER_PICK }, reads)), CLIENT);
    assert.deepEqual(reads, []);
  });

  test('the address the trusted proxy appended wins over a client-prepended fake entry', () => {
    // The client sent `X-Forwarded-For: 198.51.100.66`; the proxy appended the real peer.
    const headers = { 'x-forwarded-for': `${ATTACKER_PICK}, ${CLIENT}` };
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
  });

  test('a client-prepended entry inside a trusted range does not win either', () => {
    const headers = { 'x-forwarded-for': `10.9.9.9, ${ATTACKER_PICK}, ${CLIENT}` };
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
  });

  test('several trusted hops are skipped from the right', () => {
    const headers = { 'x-forwarded-for': `${ATTACKER_PICK}, ${CLIENT}, 10.0.0.9, 10.0.0.5` };
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
  });

  test('when every hop is trusted the leftmost is the client', () => {
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': '10.1.1.1, 10.0.0.9' })), '10.1.1.1');
  });

  test('a trusted peer without the header is itself the client', () => {
    assert.equal(clientIp(PROXY, lookup({})), PROXY);
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': '' })), PROXY);
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': ' , ,' })), PROXY);
  });

  test('only the configured header is read: Forwarded and X-Real-IP cannot be injected beside it', () => {
    const reads: string[] = [];
    const headers = {
      'x-forwarded-for': CLIENT,
      forwarded: `for=${ATTACKER_PICK}`,
      'x-real-ip': ATTACKER_PICK,
    };
    assert.equal(clientIp(PROXY, lookup(headers, reads)), CLIENT);
    assert.deepEqual(reads, ['x-forwarded-for']);
  });

  test('a garbage entry stops the walk at the nearest verified hop, never returning the garbage', () => {
    assert.equal(
      clientIp(PROXY, lookup({ 'x-forwarded-for': `${ATTACKER_PICK}, evil, 10.0.0.9` })),
      '10.0.0.9',
    );
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': `${ATTACKER_PICK}, <script>` })), PROXY);
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': 'unknown' })), PROXY);
  });

  test('ambiguous spellings count as garbage rather than being guessed at', () => {
    for (const entry of ['010.0.0.1', 'fe80::1%eth0', '[1.2.3.4]', '203.0.113.7:99999', '0x7f.1']) {
      assert.equal(
        clientIp(PROXY, lookup({ 'x-forwarded-for': `${ATTACKER_PICK}, ${entry}` })),
        PROXY,
        entry,
      );
    }
  });

  test('entries with ports and brackets are read, and results are canonical', () => {
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': '203.0.113.7:5678' })), CLIENT);
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': '[2001:DB8::0:1]:443' })), '2001:db8::1');
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': '2001:db8::1' })), '2001:db8::1');
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': '::ffff:203.0.113.7' })), CLIENT);
  });

  test('an IPv4-mapped peer is matched against IPv4 trust ranges', () => {
    assert.equal(clientIp('::ffff:10.0.0.2', lookup({ 'x-forwarded-for': CLIENT })), CLIENT);
  });

  test('an IPv4-mapped hop is matched against IPv4 trust ranges', () => {
    const headers = { 'x-forwarded-for': `${ATTACKER_PICK}, ${CLIENT}, ::ffff:10.0.0.9` };
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
  });

  test('several header lines are joined in order, the last line being nearest', () => {
    const headers = { 'x-forwarded-for': [`${ATTACKER_PICK}`, `${CLIENT}, 10.0.0.9`] };
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
    const trustedLast = { 'x-forwarded-for': [`${ATTACKER_PICK}, ${CLIENT}`, '10.0.0.9'] };
    assert.equal(clientIp(PROXY, lookup(trustedLast)), CLIENT);
  });

  test('whitespace around entries is tolerated (tabs and spaces only)', () => {
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': `\t${CLIENT} ` })), CLIENT);
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': `\u00a0${CLIENT}` })), PROXY);
  });

  test('a huge header costs only the capped number of entries', () => {
    const huge = `${Array.from({ length: 100_000 }, () => '10.0.0.1').join(',')}`;
    // Every examined hop is trusted, so the leftmost *examined* one is returned: the
    // attacker's entry 100,000 hops to the left is never reached.
    assert.equal(clientIp(PROXY, lookup({ 'x-forwarded-for': `${ATTACKER_PICK},${huge}` })), '10.0.0.1');
  });

  test('the cap is counted across header lines and is configurable', () => {
    const capped = createClientIpResolver({ trustProxy: ['10.0.0.0/8'], maxEntries: 2 });
    const headers = { 'x-forwarded-for': [CLIENT, '10.0.0.8', '10.0.0.9'] };
    assert.equal(capped(PROXY, lookup(headers)), '10.0.0.8');
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
  });
});

describe('createClientIpResolver with Forwarded (RFC 7239)', () => {
  const clientIp = createClientIpResolver({ trustProxy: ['10.0.0.0/8', 'fd00::/8'], header: 'forwarded' });

  test('reads for= in its RFC 7239 spellings', () => {
    assert.equal(clientIp(PROXY, lookup({ forwarded: 'for=203.0.113.7' })), CLIENT);
    assert.equal(clientIp(PROXY, lookup({ forwarded: 'For="203.0.113.7:4711";proto=https' })), CLIENT);
    assert.equal(
      clientIp(PROXY, lookup({ forwarded: 'for="[2001:db8:cafe::17]:4711"' })),
      '2001:db8:cafe::17',
    );
    assert.equal(clientIp(PROXY, lookup({ forwarded: 'for="[2001:db8:cafe::17]"' })), '2001:db8:cafe::17');
    assert.equal(clientIp(PROXY, lookup({ forwarded: 'for="203.0.113.7:_hidden"' })), CLIENT);
    assert.equal(clientIp(PROXY, lookup({ forwarded: 'proto=https; for=203.0.113.7; by=10.0.0.2' })), CLIENT);
  });

  test('a client-prepended Forwarded element does not win', () => {
    const headers = { forwarded: `for=${ATTACKER_PICK}, for=${CLIENT};proto=https, for="[fd00::9]"` };
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
  });

  test('a spoofed Forwarded from an untrusted peer is ignored', () => {
    assert.equal(clientIp(CLIENT, lookup({ forwarded: `for=${ATTACKER_PICK}` })), CLIENT);
  });

  test('X-Forwarded-For is ignored when Forwarded is the configured header', () => {
    const reads: string[] = [];
    const headers = { forwarded: `for=${CLIENT}`, 'x-forwarded-for': ATTACKER_PICK };
    assert.equal(clientIp(PROXY, lookup(headers, reads)), CLIENT);
    assert.deepEqual(reads, ['forwarded']);
  });

  test('unknown and obfuscated nodes cannot be verified, so the walk stops before them', () => {
    assert.equal(clientIp(PROXY, lookup({ forwarded: `for=${ATTACKER_PICK}, for=unknown` })), PROXY);
    assert.equal(clientIp(PROXY, lookup({ forwarded: `for=${ATTACKER_PICK}, for=_gazonk` })), PROXY);
    assert.equal(
      clientIp(PROXY, lookup({ forwarded: `for=${ATTACKER_PICK}, for=_x, for=10.0.0.9` })),
      '10.0.0.9',
    );
  });

  test('an element without for=, or with two, is malformed', () => {
    assert.equal(clientIp(PROXY, lookup({ forwarded: `for=${ATTACKER_PICK}, proto=https` })), PROXY);
    assert.equal(clientIp(PROXY, lookup({ forwarded: `for=10.0.0.9;for=${ATTACKER_PICK}` })), PROXY);
  });

  test('an address smuggled inside a quoted string is never reached', () => {
    // Split on commas, the middle piece looks like a valid element; the closing piece to its
    // right carries a stray quote, and the walk stops there.
    const headers = { forwarded: `for="x, for=${ATTACKER_PICK}, y", for=10.0.0.9` };
    assert.equal(clientIp(PROXY, lookup(headers)), '10.0.0.9');
    const semicolon = { forwarded: `for="${ATTACKER_PICK};x"` };
    assert.equal(clientIp(PROXY, lookup(semicolon)), PROXY);
  });

  test('malformed syntax is refused rather than guessed at', () => {
    for (const element of [
      'for',
      'for=',
      '=1.2.3.4',
      'for="203.0.113.7',
      'for=203.0.113.7"',
      'for="203.0.113.7\\"',
      'for=[2001:db8::1]x',
      'f r=1;for=203.0.113.7',
      'for="[1.2.3.4]"',
    ]) {
      assert.equal(clientIp(PROXY, lookup({ forwarded: element })), PROXY, element);
    }
  });

  test('several Forwarded lines are joined in order', () => {
    const headers = { forwarded: [`for=${ATTACKER_PICK}`, `for=${CLIENT}`, 'for="[fd00::9]:80"'] };
    assert.equal(clientIp(PROXY, lookup(headers)), CLIENT);
  });
});

describe('createClientIpResolver with X-Real-IP', () => {
  const clientIp = createClientIpResolver({ trustProxy: ['loopback'], header: 'x-real-ip' });

  test('the value set by a trusted proxy is the client', () => {
    assert.equal(clientIp('127.0.0.1', lookup({ 'x-real-ip': CLIENT })), CLIENT);
    assert.equal(clientIp('::1', lookup({ 'x-real-ip': '2001:db8::0:7' })), '2001:db8::7');
  });

  test('a spoofed X-Real-IP from an untrusted peer is ignored', () => {
    assert.equal(clientIp(CLIENT, lookup({ 'x-real-ip': ATTACKER_PICK })), CLIENT);
  });

  test('two values (a client copy surviving next to the proxy one) are ambiguous: the peer is returned', () => {
    assert.equal(clientIp('127.0.0.1', lookup({ 'x-real-ip': `${ATTACKER_PICK}, ${CLIENT}` })), '127.0.0.1');
    assert.equal(clientIp('127.0.0.1', lookup({ 'x-real-ip': [ATTACKER_PICK, CLIENT] })), '127.0.0.1');
  });

  test('a garbage value yields the peer', () => {
    assert.equal(clientIp('127.0.0.1', lookup({ 'x-real-ip': 'not-an-ip' })), '127.0.0.1');
  });

  test('X-Forwarded-For is not consulted', () => {
    assert.equal(clientIp('127.0.0.1', lookup({ 'x-forwarded-for': ATTACKER_PICK })), '127.0.0.1');
  });
});

describe('createClientIpResolver options', () => {
  test('a bad trustProxy entry is refused at creation, named by its index', () => {
    assert.throws(
      () => createClientIpResolver({ trustProxy: ['10.0.0.0/8', '10.0.0.0/33'] }),
      /^TypeError: trustProxy\[1\]: /,
    );
    assert.throws(
      () => createClientIpResolver({ trustProxy: ['privat'] }),
      /^TypeError: trustProxy\[0\]: unknown keyword/,
    );
    assert.throws(
      () => createClientIpResolver({ trustProxy: '10.0.0.0/8' as never }),
      /^TypeError: trustProxy: /,
    );
  });

  test('an unsupported header is refused, so two headers cannot both be honoured', () => {
    assert.throws(
      () => createClientIpResolver({ header: 'x-client-ip' as never }),
      /^TypeError: clientIp\.header: expected one of x-forwarded-for, forwarded, x-real-ip/,
    );
    assert.throws(
      () => createClientIpResolver({ header: ['forwarded', 'x-forwarded-for'] as never }),
      TypeError,
    );
  });

  test('a misspelt option is refused instead of silently trusting nobody', () => {
    assert.throws(
      () => createClientIpResolver({ trustedProxies: ['10.0.0.0/8'] } as ClientIpResolverOptions),
      /^TypeError: clientIp\.trustedProxies: unknown option/,
    );
  });

  test('maxEntries must be a whole number from 1 to 100', () => {
    for (const maxEntries of [0, 101, 2.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createClientIpResolver({ maxEntries }), /^TypeError: clientIp\.maxEntries: /);
    }
  });

  test('defaults are not written back into the caller options, and undefined means default', () => {
    const options: ClientIpResolverOptions = { trustProxy: ['10.0.0.0/8'], header: undefined };
    createClientIpResolver(options);
    assert.deepEqual(options, { trustProxy: ['10.0.0.0/8'], header: undefined });
    assert.ok(Object.isFrozen(CLIENT_IP_DEFAULTS));
    assert.equal(CLIENT_IP_DEFAULTS.header, 'x-forwarded-for');
  });
});
