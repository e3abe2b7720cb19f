import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../../src/manifests/dotenv.js';
import { parseExpose, parsePortShort } from '../../src/manifests/ports.js';
import { shellSplit } from '../../src/manifests/shell-split.js';
import { editDistance, suggest } from '../../src/manifests/suggest.js';
import { parseBytes, parseDurationMs, parseNanoCpus } from '../../src/manifests/units.js';
import { parseVolumeShort } from '../../src/manifests/volumes.js';

describe('durations', () => {
  it.each([
    ['1m30s', 90_000],
    ['2s', 2000],
    ['500ms', 500],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['1h2m3s4ms', 3_723_004],
    ['0', 0],
    ['1500us', 2],
  ])('%s → %d ms', (s, ms) => expect(parseDurationMs(s)).toBe(ms));
  it.each(['', '5', '1x', 's', '1m 30s', '-1s'])('rejects %j', (s) => expect(parseDurationMs(s)).toBeUndefined());
  it('accepts only 0 as a bare number', () => {
    expect(parseDurationMs(0)).toBe(0);
    expect(parseDurationMs(5)).toBeUndefined();
  });
});

describe('byte sizes and cpus', () => {
  it.each([
    ['512m', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1GB', 1024 ** 3],
    ['100k', 102_400],
    ['1024', 1024],
    ['1.5g', 1.5 * 1024 ** 3],
    ['2MiB', 2 * 1024 ** 2],
  ])('%s → %d bytes', (s, n) => expect(parseBytes(s)).toBe(n));
  it('rejects malformed sizes', () => {
    expect(parseBytes('12q')).toBeUndefined();
    expect(parseBytes(-1)).toBeUndefined();
    expect(parseBytes(4096)).toBe(4096);
  });
  it('turns cpus into nano-CPUs', () => {
    expect(parseNanoCpus('0.5')).toBe(500_000_000);
    expect(parseNanoCpus(2)).toBe(2_000_000_000);
    expect(parseNanoCpus('.25')).toBe(250_000_000);
    expect(parseNanoCpus('half')).toBeUndefined();
  });
});

describe('shellSplit', () => {
  it.each([
    ['echo hello', ['echo', 'hello']],
    ['  sh -c  "echo $HOME && ls"  ', ['sh', '-c', 'echo $HOME && ls']],
    [`printf '%s\\n' 'a b'`, ['printf', '%s\\n', 'a b']],
    ['a\\ b "c\\"d" e""f \'\'', ['a b', 'c"d', 'ef', '']],
    ['', []],
  ])('%j', (s, argv) => expect(shellSplit(s)).toEqual(argv));
  it('returns undefined for an open quote', () => expect(shellSplit('echo "oops')).toBeUndefined());
});

describe('ports', () => {
  it('parses every short form', () => {
    expect(parsePortShort('80')).toEqual([{ hostIp: '', published: undefined, target: 80, protocol: 'tcp' }]);
    expect(parsePortShort(80)).toEqual([{ hostIp: '', published: undefined, target: 80, protocol: 'tcp' }]);
    expect(parsePortShort('8080:80')).toEqual([{ hostIp: '', published: 8080, target: 80, protocol: 'tcp' }]);
    expect(parsePortShort('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', published: 8080, target: 80, protocol: 'udp' }]);
    expect(parsePortShort('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', published: undefined, target: 80, protocol: 'tcp' }]);
    expect(parsePortShort('127.0.0.1:80')).toEqual([{ hostIp: '127.0.0.1', published: undefined, target: 80, protocol: 'tcp' }]);
    expect(parsePortShort('[::1]:53:53/UDP')).toEqual([{ hostIp: '::1', published: 53, target: 53, protocol: 'udp' }]);
  });
  it('expands ranges pairwise', () => {
    expect(parsePortShort('8000-8001:80-81')).toEqual([
      { hostIp: '', published: 8000, target: 80, protocol: 'tcp' },
      { hostIp: '', published: 8001, target: 81, protocol: 'tcp' },
    ]);
    expect(parsePortShort('3000-3001')).toEqual([
      { hostIp: '', published: undefined, target: 3000, protocol: 'tcp' },
      { hostIp: '', published: undefined, target: 3001, protocol: 'tcp' },
    ]);
  });
  it('explains malformed ports', () => {
    expect(parsePortShort('8000-8002:80-81')).toBe('host port range 8000-8002 and container port range 80-81 differ in size');
    expect(parsePortShort('80/sctp')).toBe('protocol "sctp" is not supported; use tcp or udp');
    expect(parsePortShort('70000')).toBe('invalid container port "70000" in "70000"');
    expect(parsePortShort('x:80')).toBe('invalid host port "x" in "x:80"');
    expect(parsePortShort('1:2:3:4')).toBe('invalid port "1:2:3:4"; expected [[ip:]published:]target[/protocol]');
  });
  it('parses expose entries', () => {
    expect(parseExpose('3000-3002/udp')).toEqual([3000, 3001, 3002]);
    expect(parseExpose(9000)).toEqual([9000]);
    expect(parseExpose('nine')).toBe('invalid port "nine"');
  });
});

describe('short volumes', () => {
  it('classifies sources', () => {
    expect(parseVolumeShort('data:/var/lib')).toEqual({ type: 'volume', source: 'data', target: '/var/lib', readOnly: false });
    expect(parseVolumeShort('./html:/www:ro')).toEqual({ type: 'bind', source: './html', target: '/www', readOnly: true });
    expect(parseVolumeShort('/abs:/x:rw,z')).toEqual({ type: 'bind', source: '/abs', target: '/x', readOnly: false });
  });
  it('explains what it cannot take', () => {
    expect(parseVolumeShort('x')).toMatch(/^invalid volume "x"/);
    expect(parseVolumeShort('data:rel')).toBe('invalid volume "data:rel": the container path "rel" must be absolute');
    expect(parseVolumeShort('data:/x:rx')).toBe('unknown volume mode "rx" in "data:/x:rx"');
    expect(parseVolumeShort('~other/x:/x')).toMatch(/not another user's home/);
  });
  it('takes anonymous volumes and binds from the operator\'s home', () => {
    expect(parseVolumeShort('/app/node_modules')).toEqual({ type: 'volume', source: '', target: '/app/node_modules', readOnly: false });
    expect(parseVolumeShort('~/data:/data:ro')).toEqual({ type: 'bind', source: '~/data', target: '/data', readOnly: true });
  });
});

describe('dotenv', () => {
  it('reads comments, export, quotes and inline comments', () => {
    const r = parseDotenv(['# c', '', 'A=1', 'export B = two ', "C='lit $x # no'", 'D="x\\ny \\"q\\""', 'E=v # comment', 'F=', 'BARE'].join('\n'));
    expect(r.errors).toEqual([]);
    expect(r.vars).toEqual({ A: '1', B: 'two', C: 'lit $x # no', D: 'x\ny "q"', E: 'v', F: '' });
  });
  it('interpolates unquoted and double-quoted values from earlier lines, then the outer lookup', () => {
    const r = parseDotenv(['HOST=db', 'URL=postgres://${HOST}:${PORT:-5432}/$NAME', 'LIT=\'${HOST}\'', 'Q="${HOST}-x"'].join('\n'), (n) => (n === 'NAME' ? 'shop' : undefined));
    expect(r.vars).toEqual({ HOST: 'db', URL: 'postgres://db:5432/shop', LIT: '${HOST}', Q: 'db-x' });
    expect(parseDotenv('A=${B:?needed}').errors).toEqual([{ line: 1, col: 1, message: 'required variable B is missing a value: needed' }]);
  });
  it('reports bad lines with positions', () => {
    expect(parseDotenv('A="open\n=x').errors).toEqual([
      { line: 1, col: 1, message: 'unterminated quote in value of A' },
      { line: 2, col: 1, message: 'invalid variable name ""' },
    ]);
  });
});

describe('suggest', () => {
  it('finds close keys only', () => {
    expect(editDistance('imagee', 'image')).toBe(1);
    expect(suggest('imagee', ['image', 'command'])).toBe('image');
    expect(suggest('enviroment', ['environment', 'entrypoint'])).toBe('environment');
    expect(suggest('portz', ['ports', 'expose'])).toBe('ports');
    expect(suggest('banana', ['image', 'ports'])).toBeUndefined();
    expect(suggest('ab', ['cd'])).toBeUndefined();
  });
});
