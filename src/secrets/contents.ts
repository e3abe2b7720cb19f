// Reads the content of a service's secrets and configs at apply time, for
// the backend to write into the container: repository files as the Git
// blobs the commit names (never from a checkout on disk: a container that
// could write there might swap a file for a link to the operator's own
// secrets), host files under --secrets-dir, allowed
// environment variables, inline config text; `*.age` files are decrypted in
// memory with CAPSTAN_AGE_KEY_FILE. Nothing read here is written anywhere
// but into the container, nor logged.

import { readFile } from 'node:fs/promises';
import { SecretError } from '../errors.js';
import type { MountedFile } from '../manifests/model.js';
import type * as Age from './age.js';

// age (typage and its crypto, ~300 kB) is loaded only when an `*.age` file is read: most passes have none.
const age = (): Promise<typeof Age> => import('./age.js');

export type ContentReader = (file: MountedFile) => Promise<Uint8Array>;

export interface ContentSources {
  /** The allowed operator environment (the same manifests interpolate). */
  env: Readonly<Record<string, string>>;
  /** CAPSTAN_AGE_KEY_FILE: the identities that decrypt `*.age` files. */
  ageKeyFile: string | undefined;
}

/** The bytes of a blob of the deployed commit, by its Git id (a repository file's digest is its blob id). */
export type BlobReader = (id: string) => Promise<Uint8Array>;

export function contentReader(sources: ContentSources, readBlob: BlobReader | undefined): ContentReader {
  let identities: Promise<string[]> | undefined;
  const keys = (file: string): Promise<string[]> => {
    if (sources.ageKeyFile === undefined) {
      return Promise.reject(new SecretError(file, 'is age-encrypted and no key is configured', 'set CAPSTAN_AGE_KEY_FILE to an age identity file (`capstan secret keygen` makes one) whose public key the file was encrypted to'));
    }
    const keyFile = sources.ageKeyFile;
    identities ??= Promise.all([readFile(keyFile, 'utf8'), age()]).then(
      ([text, { parseIdentities }]) => {
        const ids = parseIdentities(text);
        if (ids.length === 0) throw new SecretError(keyFile, 'holds no age identity (AGE-SECRET-KEY-1...)', 'point CAPSTAN_AGE_KEY_FILE at the file `capstan secret keygen` or `age-keygen` wrote');
        return ids;
      },
      (err: unknown) => {
        throw new SecretError(keyFile, `cannot read the age key file (${err instanceof Error && 'code' in err ? String(err.code) : 'unreadable'})`, 'check CAPSTAN_AGE_KEY_FILE and that Capstan may read it');
      },
    );
    return identities;
  };
  const decrypt = async (label: string, data: Uint8Array): Promise<Uint8Array> => {
    const ids = await keys(label);
    try {
      return await (await age()).decryptAge(data, ids);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new SecretError(label, `cannot be decrypted with the key in ${sources.ageKeyFile ?? '?'} (${why})`, 're-encrypt it to the public key of that identity (`capstan secret encrypt --recipient age1...`), or point CAPSTAN_AGE_KEY_FILE at the matching identity');
    }
  };
  return async (file) => {
    const src = file.source;
    switch (src.kind) {
      case 'content':
        return Buffer.from(src.content, 'utf8');
      case 'env': {
        const value = sources.env[src.variable];
        if (value === undefined) throw new SecretError(`$${src.variable}`, 'is not set in the operator environment', `set it and allow it with --allow-env, then apply again`);
        return Buffer.from(value, 'utf8');
      }
      case 'repo':
      case 'host': {
        if (src.kind === 'repo' && readBlob === undefined) throw new Error(`${src.path} needs the Git objects of the deployed commit`);
        const read = src.kind === 'repo' ? (readBlob as BlobReader)(file.digest) : readFile(src.path);
        const data = await read.catch((err: unknown) => {
          throw new SecretError(src.path, `cannot be read (${err instanceof Error && 'code' in err ? String(err.code) : 'unreadable'})`, src.kind === 'host' ? 'check the file under --secrets-dir' : 'check that the file is committed');
        });
        return src.encryption === 'age' ? decrypt(src.path, data) : data;
      }
    }
  };
}
