// Capstan in a container: its data dir must be a host directory mounted at
// the same path, or relative binds would mount what the engine finds there.
import { describe, expect, it } from 'vitest';
import { dataDirProblem, ownContainerId } from '../../src/backends/docker/self-container.js';

const ID = 'ab'.repeat(32);

describe('data dir seen by the engine', () => {
  it("finds the container's id in mountinfo, and none on a plain host", () => {
    expect(ownContainerId(`611 593 254:1 /var/lib/docker/containers/${ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n`)).toBe(ID);
    expect(ownContainerId('22 27 0:21 / /proc rw,relatime - proc proc rw\n')).toBeUndefined();
  });
  it('accepts a host directory mounted at the same path, also below it', () => {
    expect(dataDirProblem('/srv/capstan', [{ Type: 'bind', Source: '/srv/capstan', Destination: '/srv/capstan' }])).toBeUndefined();
    expect(dataDirProblem('/srv/capstan/data', [{ Type: 'bind', Source: '/srv/capstan', Destination: '/srv/capstan' }])).toBeUndefined();
  });
  it('says why otherwise: not mounted, a named volume, or another host path', () => {
    expect(dataDirProblem('/data', [{ Type: 'bind', Source: '/srv/x', Destination: '/srv/x' }])).toBe("it lies in the container's own file system, which the engine cannot bind from");
    expect(dataDirProblem('/data', [{ Type: 'volume', Name: 'capstan-data', Source: '/var/lib/docker/volumes/capstan-data/_data', Destination: '/data' }])).toBe('it lies on the volume mount capstan-data at /data, which the engine cannot bind from by path');
    expect(dataDirProblem('/data/capstan', [{ Type: 'bind', Source: '/srv/capstan-data', Destination: '/data' }])).toBe('it is /srv/capstan-data/capstan on the host, so the engine would look for its files at the wrong path');
    // The longest mount wins: /data/capstan itself is bound at the same path.
    expect(dataDirProblem('/data/capstan', [{ Type: 'volume', Name: 'v', Destination: '/data' }, { Type: 'bind', Source: '/data/capstan', Destination: '/data/capstan' }])).toBeUndefined();
  });
});
