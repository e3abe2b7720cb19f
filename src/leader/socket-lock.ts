// The data-dir leader lock where no `flock` program exists (a minimal image
// whose BusyBox lacks the applet): a listening socket in Linux's abstract
// namespace, named after the lock file's path. The kernel frees the name
// when its holder dies, even by kill -9, and no file is left behind. Waiters
// stay connected to the holder and try again the moment that connection
// closes. The abstract namespace belongs to a network namespace, not to a
// filesystem: operators in containers with their own networks that share a
// data dir volume do not see each other this way (README, "Leader
// election"); the flock lock has no such limit.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { HeldLock, LeaderLock } from './lock.js';

export function socketLock(path: string): LeaderLock {
  const name = `\0capstan-leader-${createHash('sha256').update(resolve(path)).digest('hex').slice(0, 40)}`;
  return {
    name: `${path} (abstract socket)`,
    holder: () => new Promise((done) => {
      const socket = net.connect(name);
      socket.setEncoding('utf8');
      let said = '';
      socket.on('data', (chunk: string) => {
        said += chunk;
        if (said.includes('\n')) socket.destroy();
      });
      socket.once('close', () => done(said.trim() === '' ? 'another operator' : said.trim()));
      socket.once('error', () => done(undefined));
    }),
    async acquire(signal) {
      while (!signal.aborted) {
        const held = await tryListen(name);
        if (held !== undefined) return held;
        await untilHolderGoes(name, signal);
      }
      return undefined;
    },
  };
}

async function tryListen(name: string): Promise<HeldLock | undefined> {
  const me = `pid ${process.pid} on ${hostname()} since ${new Date().toISOString()}\n`;
  const clients = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    clients.add(socket);
    socket.once('close', () => clients.delete(socket));
    socket.on('error', () => undefined);
    socket.write(me);
  });
  const ok = await new Promise<boolean>((done) => {
    server.once('error', () => done(false));
    server.listen(name, () => done(true));
  });
  if (!ok) return undefined;
  server.unref();
  let releasing = false;
  return {
    lost: new Promise((resolveLost) => server.once('close', () => !releasing && resolveLost('its socket closed'))),
    async release() {
      releasing = true;
      for (const c of clients) c.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** Stays connected to the holder until that connection closes (the holder died or let go), or a moment passes. */
function untilHolderGoes(name: string, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) return done();
    const socket = net.connect(name);
    socket.resume();
    const end = (): void => {
      signal.removeEventListener('abort', end);
      socket.destroy();
      done();
    };
    socket.once('close', end);
    // Refused: the holder was just going; try again in a moment rather than spin.
    socket.once('error', () => setTimeout(end, 100));
    signal.addEventListener('abort', end, { once: true });
  });
}
