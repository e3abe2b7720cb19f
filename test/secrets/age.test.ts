// age round trips (armored and binary) and the apply-time reader's errors:
// a missing or wrong key names the file and says what to do.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MountedFile } from '../../src/manifests/model.js';
import { decryptAge, encryptAge, generateIdentity, parseIdentities } from '../../src/secrets/age.js';
import { contentReader } from '../../src/secrets/contents.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-age-'));

async function identity(): Promise<{ file: string; recipient: string; key: string }> {
  const { text, recipient } = await generateIdentity(new Date(0));
  const file = join(dir, `${recipient.slice(4, 12)}.txt`);
  writeFileSync(file, text);
  return { file, recipient, key: parseIdentities(text)[0] ?? '' };
}

const repoFile = (path: string): MountedFile => ({ name: 'db', target: '/run/secrets/db', uid: 0, gid: 0, mode: 0o444, source: { kind: 'repo', path, encryption: 'age' }, digest: 'x' });

describe('age', () => {
  it('decrypts what it encrypted, armored or binary', async () => {
    const { recipient, key } = await identity();
    for (const armored of [true, false]) {
      const sealed = await encryptAge(Buffer.from('correct horse'), [recipient], armored);
      expect(Buffer.from(sealed).toString('latin1').startsWith('-----BEGIN AGE ENCRYPTED FILE-----')).toBe(armored);
      expect(Buffer.from(await decryptAge(sealed, [key])).toString()).toBe('correct horse');
    }
  });

  it('reads an .age file of the commit with CAPSTAN_AGE_KEY_FILE, and names the file when the key is missing or wrong', async () => {
    const right = await identity();
    const wrong = await identity();
    writeFileSync(join(dir, 'db.age'), await encryptAge(Buffer.from('pw'), [right.recipient], true));
    const file = repoFile('db.age');
    const blobs = (): Promise<Uint8Array> => readFile(join(dir, 'db.age'));
    expect(Buffer.from(await contentReader({ env: {}, ageKeyFile: right.file }, blobs)(file)).toString()).toBe('pw');
    await expect(contentReader({ env: {}, ageKeyFile: undefined }, blobs)(file)).rejects.toThrow('db.age: is age-encrypted and no key is configured');
    await expect(contentReader({ env: {}, ageKeyFile: wrong.file }, blobs)(file)).rejects.toThrow(`db.age: cannot be decrypted with the key in ${wrong.file}`);
    await expect(contentReader({ env: {}, ageKeyFile: join(dir, 'nope.txt') }, blobs)(file)).rejects.toThrow('cannot read the age key file (ENOENT)');
  });

  it('reads environment and inline sources from memory', async () => {
    const read = contentReader({ env: { TOKEN: 't-1' }, ageKeyFile: undefined }, undefined);
    expect(Buffer.from(await read({ ...repoFile(''), source: { kind: 'env', variable: 'TOKEN' } })).toString()).toBe('t-1');
    expect(Buffer.from(await read({ ...repoFile(''), source: { kind: 'content', content: 'a=b' } })).toString()).toBe('a=b');
    await expect(read({ ...repoFile(''), source: { kind: 'env', variable: 'OTHER' } })).rejects.toThrow('$OTHER: is not set in the operator environment');
  });
});
