// A write the data dir refused is a typed error naming the path, the cause in
// words and the fix; any other failure passes through untouched (it is no
// disk problem, and may be a bug that deserves its stack).

import { describe, expect, it } from 'vitest';
import { DataDirWriteError, type CapstanError } from '../../src/errors.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something, write`), { code });

describe('DataDirWriteError.from', () => {
  it('names the path, the cause in words and the fix for a full, read-only or forbidden data dir', () => {
    const full = DataDirWriteError.from(errno('ENOSPC'), '/var/lib/capstan/rollouts/prod/web.json');
    expect(full).toBeInstanceOf(DataDirWriteError);
    expect(full).toMatchObject({ code: 'E_DATA_DIR_WRITE', message: 'cannot write /var/lib/capstan/rollouts/prod/web.json: no space left on its filesystem', data: { path: '/var/lib/capstan/rollouts/prod/web.json', errno: 'ENOSPC' } });
    expect((full as CapstanError).hint).toContain('free space');
    expect((DataDirWriteError.from(errno('EROFS'), '/d') as CapstanError).message).toBe('cannot write /d: its filesystem is read-only');
    expect((DataDirWriteError.from(errno('EACCES'), '/d') as CapstanError).hint).toContain('chown');
  });

  it('leaves any other failure as it was', () => {
    const missing = errno('ENOENT');
    expect(DataDirWriteError.from(missing, '/d')).toBe(missing);
    const bug = new TypeError('x is undefined');
    expect(DataDirWriteError.from(bug, '/d')).toBe(bug);
  });
});
