// Certificates from an ACME directory (Let's Encrypt, or a test server such
// as pebble) for routes with `tls: { acme: true }`: HTTP-01, answered on the
// router's HTTP entry from `challenges`; the account key is kept in
// <data-dir>/router/acme/account.key (0600) and each certificate in the
// CertStore (0600) under `acme-<host>`. A certificate is renewed once two
// thirds of its lifetime have passed (Let's Encrypt's 90 days: 30 days
// before expiry), checked at start and every 12 hours; a failed order is
// tried again after a growing delay (1 min up to 1 h). acme-client is loaded
// only when a route asks for ACME.

import type { Client } from 'acme-client';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import type { CertStore } from './certs.js';

export interface AcmeSettings {
  /** The directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
  directory: string;
  /** Contact for the account (expiry notices). */
  email: string | undefined;
  /** A PEM CA file to trust for the directory itself (a test server's). */
  caFile: string | undefined;
}

export interface AcmeLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

const CHECK_MS = 12 * 3_600_000;
const RETRY_BASE_MS = 60_000;
const RETRY_MAX_MS = 3_600_000;

/** Whether a certificate valid from `notBefore` to `notAfter` is due for renewal at `now` (ms): past two thirds of its life. */
export function renewalDue(notBefore: number, notAfter: number, now: number): boolean {
  return now >= notBefore + ((notAfter - notBefore) * 2) / 3;
}

export function acmeCertificateId(host: string): string {
  return `acme-${host}`;
}

export class AcmeManager {
  /** token → key authorization, for GET /.well-known/acme-challenge/<token> on the HTTP entry. */
  readonly challenges = new Map<string, string>();
  private readonly settings: AcmeSettings;
  private readonly store: CertStore;
  private readonly dir: string;
  private readonly log: AcmeLog;
  private readonly onIssued: (id: string) => void;
  private wanted = new Set<string>();
  private readonly working = new Set<string>();
  private readonly failures = new Map<string, { count: number; retryAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private client: Promise<Client> | undefined;

  constructor(settings: AcmeSettings, store: CertStore, dir: string, log: AcmeLog, onIssued: (id: string) => void) {
    this.settings = settings;
    this.store = store;
    this.dir = dir;
    this.log = log;
    this.onIssued = onIssued;
  }

  /** The hosts that need an ACME certificate now; new ones are ordered at once, in the background. */
  want(hosts: readonly string[]): void {
    this.wanted = new Set(hosts.map((h) => h.toLowerCase()));
    if (this.wanted.size > 0 && this.timer === undefined) {
      this.timer = setInterval(() => this.check(), CHECK_MS).unref();
    }
    this.check();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Resolves once no order is in progress (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.working.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private check(): void {
    const now = Date.now();
    for (const host of this.wanted) {
      if (this.working.has(host)) continue;
      const failed = this.failures.get(host);
      if (failed !== undefined && failed.retryAt > now) continue;
      const held = this.store.get(acmeCertificateId(host));
      if (held !== undefined && !renewalDue(Date.parse(held.info.notBefore), Date.parse(held.info.notAfter), now)) continue;
      this.working.add(host);
      this.order(host, held === undefined ? 'new' : 'renewal')
        .catch((err: unknown) => {
          const count = (this.failures.get(host)?.count ?? 0) + 1;
          const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (count - 1));
          this.failures.set(host, { count, retryAt: Date.now() + delay });
          this.log.warn({ host, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, `cannot get a certificate for ${host} from ${this.settings.directory}; trying again in ${Math.round(delay / 1000)} s`);
          // The retry comes with the next check after the delay.
          setTimeout(() => this.check(), delay).unref();
        })
        .finally(() => this.working.delete(host));
    }
  }

  private async order(host: string, why: 'new' | 'renewal'): Promise<void> {
    const acme = await import('acme-client');
    const client = await (this.client ??= this.account());
    const [key, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] });
    const cert = await client.auto({
      csr,
      ...(this.settings.email === undefined ? {} : { email: this.settings.email }),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The directory checks it; the router cannot reach its own public name from inside.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        this.challenges.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        this.challenges.delete(challenge.token);
      },
    });
    const problem = await this.store.put(acmeCertificateId(host), cert, key.toString());
    if (problem !== undefined) throw new Error(`the directory's certificate is unusable: ${problem}`);
    this.failures.delete(host);
    this.log.info({ host, directory: this.settings.directory }, why === 'new' ? `certificate for ${host} issued` : `certificate for ${host} renewed`);
    this.onIssued(acmeCertificateId(host));
  }

  /** The ACME account: its key is made once and kept (0600), so renewals use the same account. */
  private async account(): Promise<Client> {
    const acme = await import('acme-client');
    if (this.settings.caFile !== undefined) {
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: await fs.readFile(this.settings.caFile, 'utf8') });
    }
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const keyFile = path.join(this.dir, 'account.key');
    let accountKey: Buffer;
    try {
      accountKey = await fs.readFile(keyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      accountKey = await acme.crypto.createPrivateEcdsaKey();
      await fs.writeFile(keyFile, accountKey, { mode: 0o600 });
    }
    return new acme.Client({ directoryUrl: this.settings.directory, accountKey });
  }
}
