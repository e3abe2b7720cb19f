// The tar writer against the system's tar: names (long ones too), modes and
// owners come out as written.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tarStream } from '../../src/backends/docker/tar.js';

function list(entries: Parameters<typeof tarStream>[0]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('tar', ['-tv', '--numeric-owner', '-f', '-'], (err, stdout) => (err === null ? resolve(stdout) : reject(err)));
    tarStream(entries).pipe(child.stdin!);
  });
}

describe('tarStream', () => {
  it('writes entries the system tar reads back with their mode, owner and size', async () => {
    const long = `${'d'.repeat(60)}/${'f'.repeat(80)}.txt`;
    const out = await list([
      { name: 'run/secrets/db', data: Buffer.from('s3cret'), mode: 0o400, uid: 999, gid: 998 },
      { name: 'Dockerfile', data: Buffer.from('FROM x\n'), mode: 0o644 },
      { name: long, data: Buffer.alloc(1000, 1), mode: 0o755 },
    ]);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^-r-------- 999\/998\s+6 .* run\/secrets\/db$/);
    expect(lines[1]).toMatch(/^-rw-r--r-- 0\/0\s+7 .* Dockerfile$/);
    expect(lines[2]).toMatch(new RegExp(`^-rwxr-xr-x 0/0\\s+1000 .* ${long}$`));
  });
});
