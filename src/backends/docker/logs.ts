// The last lines of a container's log, for reporting why a replica keeps
// failing. Asked only for containers that failed, never on a healthy pass.

import type Docker from 'dockerode';

export async function logTail(docker: Pick<Docker, 'getContainer'>, containerId: string, lines: number): Promise<string[]> {
  const raw = (await docker.getContainer(containerId).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
  return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)))
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .slice(-lines);
}

/**
 * Without a TTY the engine frames each chunk with an 8-byte header (stream,
 * 0, 0, 0, big-endian length); with one the bytes come as they are.
 */
export function demux(buf: Buffer): string {
  const looksFramed = buf.length >= 8 && buf[0] !== undefined && buf[0] <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!looksFramed) return buf.toString('utf8');
  let out = '';
  let offset = 0;
  while (offset + 8 <= buf.length) {
    const size = buf.readUInt32BE(offset + 4);
    out += buf.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
  }
  return out;
}
