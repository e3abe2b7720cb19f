// Secrets compared in constant time: webhook secrets and the API token (the
// control plane) and the router's admin token (the data plane) alike. A leaf
// module, so the router needs nothing of the server to use it.

import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Equal-length comparison in constant time. Both sides are hashed first, so
 * the lengths always match and not even the length of the secret leaks.
 */
export function safeEqual(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
