// The certificates the HTTPS entry serves, by id: uploaded by the operator
// (PUT /certificates/<id>, from a route's `tls: { certificate, key }`
// secrets) or obtained from an ACME directory (acme.ts). Each is checked
// (the key matches, the chain parses) before it is kept, written to
// <data-dir>/router/certs/<id>.json with mode 0600 in a 0700 directory (so a
// restarted router serves TLS before the operator is back), and turned into
// a secure context once. Keys never leave this module: listings show names
// and expiry only.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';

export interface CertificateInfo {
  id: string;
  /** DNS names of the leaf (subjectAltName, else the common name). */
  names: string[];
  /** ISO time the leaf expires. */
  notAfter: string;
  notBefore: string;
}

interface Held {
  info: CertificateInfo;
  context: tls.SecureContext;
  /** The PEMs, for the entry's default context (clients that send no SNI). */
  pem: { cert: string; key: string };
}

export type CertCheck = { ok: true; info: Omit<CertificateInfo, 'id'> } | { ok: false; problem: string };

/** Whether `cert` (a PEM chain, leaf first) and `key` (PEM) make a usable pair; what the leaf says when they do. */
export function checkCertificate(cert: string, key: string): CertCheck {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    return { ok: false, problem: `the certificate is not PEM X.509 (${(err as Error).message})` };
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) return { ok: false, problem: 'the key does not belong to the certificate' };
    tls.createSecureContext({ cert, key });
  } catch (err) {
    return { ok: false, problem: `the key is not a usable PEM private key (${(err as Error).message})` };
  }
  const names = (leaf.subjectAltName ?? '').split(',').map((s) => s.trim()).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
    if (cn !== undefined) names.push(cn.toLowerCase());
  }
  return { ok: true, info: { names, notAfter: new Date(leaf.validTo).toISOString(), notBefore: new Date(leaf.validFrom).toISOString() } };
}

export class CertStore {
  private readonly dir: string;
  private readonly persist: boolean;
  private readonly held = new Map<string, Held>();

  /** `persist` false: in memory only (a router without a state dir). */
  constructor(dir: string, persist: boolean) {
    this.dir = dir;
    this.persist = persist;
  }

  /** Reads what earlier runs kept; a file that no longer checks out is skipped and named. */
  async load(): Promise<string[]> {
    if (!this.persist) return [];
    const problems: string[] = [];
    let files: string[];
    try {
      files = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    for (const f of files.filter((n) => n.endsWith('.json')).sort()) {
      try {
        const { cert, key } = JSON.parse(await fs.readFile(path.join(this.dir, f), 'utf8')) as { cert: string; key: string };
        const id = f.slice(0, -'.json'.length);
        const r = this.hold(id, cert, key);
        if (r !== undefined) problems.push(`${f}: ${r}`);
      } catch (err) {
        problems.push(`${f}: ${(err as Error).message}`);
      }
    }
    return problems;
  }

  /** Checks, keeps and persists; the problem in words when the pair is unusable (nothing changes then). */
  async put(id: string, cert: string, key: string): Promise<string | undefined> {
    const problem = this.hold(id, cert, key);
    if (problem !== undefined || !this.persist) return problem;
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `${id}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify({ cert, key }), { mode: 0o600 });
    await fs.rename(tmp, file);
    return undefined;
  }

  get(id: string): Held | undefined {
    return this.held.get(id);
  }

  list(): CertificateInfo[] {
    return [...this.held.values()].map((h) => h.info).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  private hold(id: string, cert: string, key: string): string | undefined {
    const checked = checkCertificate(cert, key);
    if (!checked.ok) return checked.problem;
    this.held.set(id, { info: { id, ...checked.info }, context: tls.createSecureContext({ cert, key }), pem: { cert, key } });
    return undefined;
  }
}
