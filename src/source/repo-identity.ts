// Which repository a --repo names, in a form two processes can compare (a
// `capstan apply` asking the daemon whether it follows the same one): a URL
// without credentials, trailing slash or `.git`; a local path made absolute.
// Light on purpose: `capstan apply`'s quick path imports it before anything else.

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function isRemoteRepo(repo: string): boolean {
  return /^https?:\/\//i.test(repo);
}

export function repoIdentity(repo: string, cwd: string): string {
  if (isRemoteRepo(repo)) {
    const url = new URL(repo);
    url.username = '';
    url.password = '';
    return url.href.replace(/\/+$/, '').replace(/\.git$/, '');
  }
  return /^file:\/\//i.test(repo) ? fileURLToPath(repo) : resolve(cwd, repo);
}
