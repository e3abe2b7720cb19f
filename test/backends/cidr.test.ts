import { describe, expect, it } from 'vitest';
import { firstFree, formatCidr, overlaps, parseCidr, parseProcRoutes, type Cidr } from '../../src/backends/docker/cidr.js';

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('IPv4 subnets', () => {
  it('parses and prints network addresses, and says what is wrong otherwise', () => {
    expect(formatCidr(cidr('10.231.0.0/16'))).toBe('10.231.0.0/16');
    expect(formatCidr(cidr('255.255.255.0/24'))).toBe('255.255.255.0/24');
    expect(parseCidr('10.231.4.1/16')).toBe('"10.231.4.1/16" has host bits set: did you mean 10.231.0.0/16?');
    expect(parseCidr('10.300.0.0/16')).toContain('is not an IPv4 subnet');
    expect(parseCidr('fd00::/8')).toContain('is not an IPv4 subnet');
  });

  it('overlap is containment either way', () => {
    expect(overlaps(cidr('10.0.0.0/8'), cidr('10.231.4.0/24'))).toBe(true);
    expect(overlaps(cidr('10.231.4.0/24'), cidr('10.0.0.0/8'))).toBe(true);
    expect(overlaps(cidr('10.231.4.0/24'), cidr('10.231.5.0/24'))).toBe(false);
  });

  it('takes the lowest subnet of the pool that overlaps nothing in use', () => {
    const spec = { pool: cidr('10.231.0.0/16'), size: 24 };
    expect(formatCidr(firstFree(spec, []) as Cidr)).toBe('10.231.0.0/24');
    // A wider route covering the first two /24s, and one /28 inside the third.
    const used = [cidr('10.231.0.0/23'), cidr('10.231.2.16/28'), cidr('192.168.0.0/16')];
    expect(formatCidr(firstFree(spec, used) as Cidr)).toBe('10.231.3.0/24');
    // A route covering the whole pool leaves nothing.
    expect(firstFree(spec, [cidr('10.0.0.0/8')])).toBeUndefined();
  });

  it('reads the kernel routing table without the default route', () => {
    const table = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'docker0\t0000C00A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    ].join('\n');
    expect(parseProcRoutes(table).map(formatCidr)).toEqual(['10.192.0.0/24', '192.0.2.0/24']);
  });
});
