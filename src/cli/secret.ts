// `capstan secret keygen` and `capstan secret encrypt`: make the age identity
// the operator decrypts with (CAPSTAN_AGE_KEY_FILE) and the `*.age` files a
// repository may hold. Plain text is read from the file given and written
// only as ciphertext.

import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { encryptAge, generateIdentity, parseIdentities, parseRecipients, recipientOf } from '../secrets/age.js';

export interface EncryptOptions {
  recipients: readonly string[];
  recipientsFile: string | undefined;
  /** Output path; '-' is stdout; default FILE.age. */
  output: string | undefined;
  binary: boolean;
  /** CAPSTAN_AGE_KEY_FILE: without recipients, encrypt to its own public keys. */
  ageKeyFile: string | undefined;
}

async function readText(path: string, what: string): Promise<string> {
  return readFile(path, 'utf8').catch((err: unknown) => {
    throw new UsageError(`cannot read ${what} ${path} (${err instanceof Error && 'code' in err ? String(err.code) : 'unreadable'})`);
  });
}

async function recipientsOf(opts: EncryptOptions): Promise<string[]> {
  const out = [...opts.recipients];
  if (opts.recipientsFile !== undefined) out.push(...parseRecipients(await readText(opts.recipientsFile, 'the recipients file')));
  if (out.length === 0 && opts.ageKeyFile !== undefined) {
    for (const id of parseIdentities(await readText(opts.ageKeyFile, 'CAPSTAN_AGE_KEY_FILE'))) out.push(await recipientOf(id));
  }
  if (out.length === 0) throw new UsageError('no recipient to encrypt to', 'pass --recipient age1... (the public key of the operator\'s identity), --recipients-file FILE, or set CAPSTAN_AGE_KEY_FILE');
  const bad = out.find((r) => !/^age1[0-9a-z]+$/.test(r));
  if (bad !== undefined) throw new UsageError(`${JSON.stringify(bad)} is not an age recipient`, 'a recipient looks like age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p (see `capstan secret keygen`)');
  return out;
}

export async function encryptCommand(file: string, opts: EncryptOptions): Promise<number> {
  const recipients = await recipientsOf(opts);
  const plain = await readFile(file).catch((err: unknown) => {
    throw new UsageError(`cannot read ${file} (${err instanceof Error && 'code' in err ? String(err.code) : 'unreadable'})`);
  });
  let sealed: Uint8Array;
  try {
    sealed = await encryptAge(plain, recipients, !opts.binary);
  } catch (err) {
    throw new UsageError(`cannot encrypt to ${recipients.join(', ')}: ${err instanceof Error ? err.message : String(err)}`, 'check the recipients: each is the public key (age1...) of an age identity');
  }
  const output = opts.output ?? `${file}.age`;
  if (output === '-') {
    process.stdout.write(sealed);
    return 0;
  }
  await writeFile(output, sealed);
  process.stderr.write(`wrote ${output} (encrypted to ${recipients.length} recipient${recipients.length === 1 ? '' : 's'}); commit it and delete ${file}\n`);
  return 0;
}

export async function keygenCommand(output: string | undefined): Promise<number> {
  const { text, recipient } = await generateIdentity(new Date());
  if (output === undefined || output === '-') process.stdout.write(text);
  else {
    // 0600 and never overwritten: this file is the one thing that reads every secret.
    await writeFile(output, text, { mode: 0o600, flag: 'wx' }).catch((err: unknown) => {
      throw new UsageError(`cannot write ${output} (${err instanceof Error && 'code' in err ? String(err.code) : 'unwritable'})`, 'choose a path that does not exist yet');
    });
  }
  process.stderr.write(`public key: ${recipient}\n(encrypt with: capstan secret encrypt --recipient ${recipient} FILE; the operator decrypts with CAPSTAN_AGE_KEY_FILE=${output === undefined || output === '-' ? '<this file>' : output})\n`);
  return 0;
}
