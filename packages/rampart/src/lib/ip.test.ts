import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import {
  canonicalIp,
  cidrContains,
  createIpMatcher,
  formatCidr,
  formatIp,
  IP_KEYWORDS,
  ipKey,
  parseCidr,
  parseCidrList,
  parseIp,
  parseIpWithPort,
} from './ip.ts';

describe('parseIp', () => {
  test('an IPv4-mapped IPv6 address folds to IPv4, so a dual-stack socket cannot dodge an IPv4 rule', () => {
    assert.deepEqual(parseIp('::ffff:192.0.2.1'), { version: 4, words: [0xc0000201] });
    assert.equal(canonicalIp('::FFFF:192.0.2.1'), '192.0.2.1');
    assert.equal(canonicalIp('::ffff:c000:0201'), '192.0.2.1');
    assert.equal(canonicalIp('0:0:0:0:0:ffff:192.0.2.1'), '192.0.2.1');
  });

  test('other IPv4-embedding forms are not folded (they are different hosts)', () => {
    assert.equal(canonicalIp('::192.0.2.1'), '::c000:201');
    assert.equal(canonicalIp('64:ff9b::192.0.2.1'), '64:ff9b::c000:201');
  });

  test('zone ids are refused: a zone is local scope, not a client identity', () => {
    assert.equal(parseIp('fe80::1%eth0'), undefined);
    assert.equal(parseIp('fe80::1%25eth0'), undefined);
  });

  test('leading zeros are refused, since inet_aton reads 010 as octal 8', () => {
    assert.equal(parseIp('010.0.0.1'), undefined);
    assert.equal(parseIp('10.00.0.1'), undefined);
    assert.equal(canonicalIp('0.0.0.0'), '0.0.0.0');
  });

  test('non-canonical IPv4 spellings that some resolvers accept are refused', () => {
    for (const text of [
      '0x7f.0.0.1',
      '2130706433',
      '127.1',
      '127.0.0.1.',
      '1.2.3.4.5',
      '256.0.0.1',
      '1..2.3',
      '',
    ]) {
      assert.equal(parseIp(text), undefined, text);
    }
  });

  test('surrounding whitespace, brackets and ports are not part of a bare address', () => {
    for (const text of [' 1.2.3.4', '1.2.3.4 ', '1.2.3.4:80', '[::1]', '[::1]:80', '::1\n']) {
      assert.equal(parseIp(text), undefined, JSON.stringify(text));
    }
  });

  test('malformed IPv6 is refused', () => {
    for (const text of [
      ':::',
      '1:::2',
      '1::2::3',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::',
      'g::1',
      '1.2.3.4::',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3',
      '::ffff:1.2.3.04',
      `${'0:'.repeat(30)}1`,
    ]) {
      assert.equal(parseIp(text), undefined, text);
    }
  });

  test('agrees with node:net on which strings are addresses (zone ids aside)', () => {
    const samples = [
      '::',
      '::1',
      '1::',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:1.2.3.4',
      '::1.2.3.4',
      'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255',
      '1:2:3:4:5:6:7:8:9',
      '1::2:3:4:5:6:7:8',
      '255.255.255.255',
      '1.2.3',
      'abcd::ef01',
      'ABCD::EF01',
    ];
    for (const text of samples) {
      assert.equal(parseIp(text) !== undefined, isIP(text) !== 0, text);
    }
  });

  test('agrees with node:net on generated near-addresses, and canonical text round-trips', () => {
    // A fixed-seed generator: the same 20000 strings every run, built from the pieces that
    // trip parsers (empty groups, five hex digits, stray dots, 256, leading zeros).
    const pieces = [
      '0',
      '1',
      'ff',
      'FFFF',
      '12345',
      'abc',
      '::',
      ':',
      '.',
      '1.2.3.4',
      '255',
      '256',
      '01',
      'g',
      '0:0',
    ];
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let valid = 0;
    for (let k = 0; k < 20_000; k++) {
      let text = '';
      const length = 1 + Math.floor(next() * 10);
      for (let i = 0; i < length; i++) text += pieces[Math.floor(next() * pieces.length)];
      const ip = parseIp(text);
      assert.equal(ip !== undefined, isIP(text) !== 0, text);
      if (ip !== undefined) {
        valid++;
        assert.deepEqual(parseIp(formatIp(ip)), ip, text);
      }
    }
    assert.ok(valid > 500, 'the generator produces enough valid addresses to mean something');
  });
});

describe('formatIp', () => {
  test('writes RFC 5952 canonical IPv6: lower case, no leading zeros, longest zero run compressed', () => {
    assert.equal(canonicalIp('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(canonicalIp('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
    assert.equal(canonicalIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(canonicalIp('0:0:0:0:0:0:0:0'), '::');
    assert.equal(canonicalIp('1:2:3:4:5:6:7:0'), '1:2:3:4:5:6:7:0');
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
  });

  test('one address has one text, whatever spelling arrived', () => {
    const spellings = ['2001:db8::a', '2001:DB8::A', '2001:0db8:0000::000a', '2001:db8:0:0:0:0:0:a'];
    assert.deepEqual(new Set(spellings.map(canonicalIp)), new Set(['2001:db8::a']));
  });

  test('round-trips IPv4', () => {
    assert.equal(formatIp(parseIp('203.0.113.255')!), '203.0.113.255');
  });
});

describe('parseIpWithPort', () => {
  test('reads the forms proxies put in headers and drops the port', () => {
    assert.equal(formatIp(parseIpWithPort('[2001:db8::1]:443')!), '2001:db8::1');
    assert.equal(formatIp(parseIpWithPort('[2001:db8::1]')!), '2001:db8::1');
    assert.equal(formatIp(parseIpWithPort('1.2.3.4:5678')!), '1.2.3.4');
    assert.equal(formatIp(parseIpWithPort('1.2.3.4')!), '1.2.3.4');
    assert.equal(formatIp(parseIpWithPort('[::ffff:1.2.3.4]:80')!), '1.2.3.4');
  });

  test('a bare IPv6 address keeps its last group (it is never mistaken for a port)', () => {
    assert.equal(formatIp(parseIpWithPort('2001:db8::1:443')!), '2001:db8::1:443');
  });

  test('refuses broken brackets, ports and bracketed IPv4', () => {
    for (const text of [
      '[1.2.3.4]',
      '[1.2.3.4]:80',
      '[::1',
      '[::1]x',
      '[::1]:',
      '[::1]:65536',
      '[::1]:-1',
      '1.2.3.4:',
      '1.2.3.4:abc',
      '1.2.3.4:99999',
      '[fe80::1%eth0]:80',
      'unknown',
      '',
    ]) {
      assert.equal(parseIpWithPort(text), undefined, text);
    }
  });
});

describe('parseCidr', () => {
  test('parses IPv4 and IPv6 ranges', () => {
    assert.equal(formatCidr(parseCidr('10.0.0.0/8')), '10.0.0.0/8');
    assert.equal(formatCidr(parseCidr('2001:DB8::/32')), '2001:db8::/32');
    assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
    assert.equal(formatCidr(parseCidr('::/0')), '::/0');
  });

  test('a bare address is a single host', () => {
    assert.equal(formatCidr(parseCidr('192.0.2.7')), '192.0.2.7/32');
    assert.equal(formatCidr(parseCidr('2001:db8::7')), '2001:db8::7/128');
  });

  test('an IPv4-mapped range folds to its IPv4 range, as addresses do', () => {
    assert.equal(formatCidr(parseCidr('::ffff:10.0.0.0/104')), '10.0.0.0/8');
    assert.equal(formatCidr(parseCidr('::ffff:10.0.0.1')), '10.0.0.1/32');
  });

  test('a bad mask is refused with a message naming the field and the range', () => {
    for (const text of [
      '10.0.0.0/33',
      '2001:db8::/129',
      '10.0.0.0/',
      '10.0.0.0/08',
      '10.0.0.0/-1',
      '10.0.0.0/8/8',
      '10.0.0.0/8 ',
    ]) {
      assert.throws(
        () => parseCidr(text, 'trustProxy[3]'),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /^trustProxy\[3\]: /);
          return true;
        },
      );
    }
    assert.throws(() => parseCidr('10.0.0.0/33'), /IPv4 masks are whole numbers from 0 to 32/);
  });

  test('host bits set are refused, not silently widened into a bigger trusted range', () => {
    assert.throws(
      () => parseCidr('10.1.2.3/8', 'trustProxy[0]'),
      /^TypeError: trustProxy\[0\]: .*did you mean 10\.0\.0\.0\/8\?/,
    );
    assert.throws(() => parseCidr('2001:db8::1/32'), /did you mean 2001:db8::\/32\?/);
  });

  test('zone ids and garbage are refused', () => {
    assert.throws(() => parseCidr('fe80::%eth0/10'), TypeError);
    assert.throws(() => parseCidr('example.com/24'), TypeError);
    assert.throws(() => parseCidr(42 as unknown as string, 'x'), /^TypeError: x: /);
  });
});

describe('cidrContains', () => {
  const ten = parseCidr('10.0.0.0/8');
  const doc = parseCidr('2001:db8::/32');

  test('matches inside and not outside, at the edges', () => {
    assert.equal(cidrContains(ten, '10.0.0.0'), true);
    assert.equal(cidrContains(ten, '10.255.255.255'), true);
    assert.equal(cidrContains(ten, '11.0.0.0'), false);
    assert.equal(cidrContains(ten, '9.255.255.255'), false);
    assert.equal(cidrContains(doc, '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'), true);
    assert.equal(cidrContains(doc, '2001:db9::'), false);
  });

  test('the IPv4-mapped twin of an address in an IPv4 range is inside it', () => {
    assert.equal(cidrContains(ten, '::ffff:10.9.8.7'), true);
  });

  test('families never cross and non-addresses are in no range', () => {
    assert.equal(cidrContains(parseCidr('::/0'), '1.2.3.4'), false);
    assert.equal(cidrContains(parseCidr('0.0.0.0/0'), '::1'), false);
    assert.equal(cidrContains(ten, '10.0.0.1 '), false);
    assert.equal(cidrContains(ten, 'garbage'), false);
  });

  test('a /0 contains its whole family, a /32 exactly one host', () => {
    assert.equal(cidrContains(parseCidr('0.0.0.0/0'), '255.255.255.255'), true);
    assert.equal(cidrContains(parseCidr('192.0.2.1/32'), '192.0.2.1'), true);
    assert.equal(cidrContains(parseCidr('192.0.2.1/32'), '192.0.2.2'), false);
  });
});

describe('createIpMatcher', () => {
  test('keywords expand to their ranges', () => {
    const isLocal = createIpMatcher(['loopback', 'private', 'linklocal']);
    for (const ip of [
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '10.1.1.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
    ]) {
      assert.equal(isLocal(ip), true, ip);
    }
    for (const ip of ['fc00::1', 'fdff::1', '169.254.169.254', 'fe80::1', 'febf::1', '::ffff:192.168.0.1']) {
      assert.equal(isLocal(ip), true, ip);
    }
    for (const ip of [
      '172.15.255.255',
      '172.32.0.0',
      '8.8.8.8',
      '::2',
      'fe00::1',
      'fec0::1',
      '2001:db8::1',
      '128.0.0.1',
    ]) {
      assert.equal(isLocal(ip), false, ip);
    }
  });

  test('each keyword expands to exactly its documented ranges', () => {
    assert.deepEqual(parseCidrList(['private']).map(formatCidr), [
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      'fc00::/7',
    ]);
    assert.deepEqual(parseCidrList(['loopback']).map(formatCidr), ['127.0.0.0/8', '::1/128']);
    assert.deepEqual(parseCidrList(['linklocal']).map(formatCidr), ['169.254.0.0/16', 'fe80::/10']);
    assert.ok(Object.isFrozen(IP_KEYWORDS));
  });

  test('an empty list matches nothing (no proxy is trusted by accident)', () => {
    const none = createIpMatcher([]);
    assert.equal(none('127.0.0.1'), false);
    assert.equal(none('::1'), false);
  });

  test('accepts parsed addresses and refuses non-addresses', () => {
    const isTen = createIpMatcher(['10.0.0.0/8']);
    assert.equal(isTen(parseIp('10.2.3.4')!), true);
    assert.equal(isTen('10.2.3.4:80'), false);
    assert.equal(isTen('nonsense'), false);
  });

  test('mixes families and host entries', () => {
    const m = createIpMatcher(['203.0.113.9', '2001:db8:1::/48', '198.51.100.0/24']);
    assert.equal(m('203.0.113.9'), true);
    assert.equal(m('203.0.113.10'), false);
    assert.equal(m('2001:db8:1:ffff::1'), true);
    assert.equal(m('2001:db8:2::1'), false);
    assert.equal(m('198.51.100.200'), true);
  });

  test('IPv6 ranges compare every word (a prefix longer than 96 bits)', () => {
    const m = createIpMatcher(['2001:db8::1:0/112']);
    assert.equal(m('2001:db8::1:ffff'), true);
    assert.equal(m('2001:db8::2:0'), false);
    assert.equal(m('2001:db9::1:0'), false);
  });

  test('a bad entry is refused at creation, named by its index', () => {
    assert.throws(
      () => createIpMatcher(['10.0.0.0/8', '10.0.0.0/40'], 'trustProxy'),
      /^TypeError: trustProxy\[1\]: /,
    );
    assert.throws(
      () => createIpMatcher(['loopback', 'privat'], 'trustProxy'),
      /^TypeError: trustProxy\[1\]: unknown keyword "privat"; keywords are loopback, private, linklocal/,
    );
    assert.throws(
      () => createIpMatcher('10.0.0.0/8' as unknown as string[], 'trustProxy'),
      /^TypeError: trustProxy: /,
    );
    assert.throws(() => createIpMatcher(['__proto__']), /unknown keyword/);
  });
});

describe('ipKey', () => {
  test('an IPv6 client cannot escape its limit by rotating through its /64', () => {
    const a = ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    const b = ipKey('2001:db8:1:2::1');
    assert.equal(a, '2001:db8:1:2::/64');
    assert.equal(a, b);
    assert.notEqual(ipKey('2001:db8:1:3::1'), a);
  });

  test('IPv4 is keyed as is, including its IPv6-mapped twin', () => {
    assert.equal(ipKey('192.0.2.1'), '192.0.2.1');
    assert.equal(ipKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(ipKey(parseIp('192.0.2.1')!), '192.0.2.1');
  });

  test('the IPv6 prefix is configurable from 32 to 128', () => {
    assert.equal(ipKey('2001:db8:1:2:3:4:5:6', { ipv6Prefix: 48 }), '2001:db8:1::/48');
    assert.equal(ipKey('2001:db8:1:2:3:4:5:6', { ipv6Prefix: 56 }), '2001:db8:1::/56');
    assert.equal(ipKey('2001:db8:1:2ff:3:4:5:6', { ipv6Prefix: 56 }), '2001:db8:1:200::/56');
    assert.equal(ipKey('2001:db8:1:2:3:4:5:6', { ipv6Prefix: 128 }), '2001:db8:1:2:3:4:5:6/128');
    assert.equal(ipKey('2001:db8:1:2:3:4:5:6', { ipv6Prefix: 32 }), '2001:db8::/32');
  });

  test('a prefix outside 32..128 is refused: too short lumps whole providers together', () => {
    for (const ipv6Prefix of [31, 129, 64.5, Number.NaN]) {
      assert.throws(() => ipKey('::1', { ipv6Prefix }), /^TypeError: ipKey\.ipv6Prefix: /);
    }
  });

  test('does not write the default back into the caller options', () => {
    const options = {};
    ipKey('2001:db8::1', options);
    assert.deepEqual(options, {});
  });

  test('a non-address peer (a Unix socket) is its own key', () => {
    assert.equal(ipKey('/run/rampart.sock'), '/run/rampart.sock');
  });
});
