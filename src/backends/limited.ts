// Engine calls bounded globally (DESIGN §4 "Lanes"): every lane talks to the
// engine through one of these, so 25 stacks converging at once put at most
// `limit` calls in flight, and a call waits its turn in arrival order. Works
// for any Backend (docker, swarm): each method's call is one engine step.

import type { Backend } from './backend.js';

export class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }

  /** Calls in flight and waiting, for metrics. */
  load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.queue.length };
  }
}

export function limitBackend(backend: Backend, semaphore: Semaphore): Backend {
  return new Proxy(backend, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => semaphore.run(() => Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args)));
    },
  });
}
