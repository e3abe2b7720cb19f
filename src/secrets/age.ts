// age encryption (https://age-encryption.org, through typage): Capstan
// decrypts `*.age` secret files with the identities of CAPSTAN_AGE_KEY_FILE,
// and `capstan secret encrypt` / `keygen` help users make them. Files may be
// binary or ASCII-armored ("-----BEGIN AGE ENCRYPTED FILE-----").

import { armor, Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

/** `AGE-SECRET-KEY-1...` lines of an identity file (as `age-keygen` writes it: comments start with #). */
export function parseIdentities(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
}

/** `age1...` recipients of a recipients file (one per line, # comments). */
export function parseRecipients(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function isArmored(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, 64)).toString('latin1').trimStart().startsWith(ARMOR_BEGIN);
}

/** Throws typage's error when no identity matches or the file is damaged; callers name the file. */
export async function decryptAge(data: Uint8Array, identities: readonly string[]): Promise<Uint8Array> {
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  const binary = isArmored(data) ? armor.decode(Buffer.from(data).toString('utf8')) : data;
  return d.decrypt(binary);
}

export async function encryptAge(plain: Uint8Array, recipients: readonly string[], armored: boolean): Promise<Uint8Array> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  const binary = await e.encrypt(plain);
  return armored ? Buffer.from(armor.encode(binary), 'utf8') : binary;
}

/** A new identity file's text (as `age-keygen` prints it) and its public recipient. */
export async function generateIdentity(now: Date): Promise<{ text: string; recipient: string }> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  return { text: `# created: ${now.toISOString()}\n# public key: ${recipient}\n${identity}\n`, recipient };
}

export async function recipientOf(identity: string): Promise<string> {
  return identityToRecipient(identity);
}
