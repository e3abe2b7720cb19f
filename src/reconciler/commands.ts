// `capstan promote|abort <stack>/<service>` in the daemon: the API hands the
// command here and wakes the stack's lane; the lane takes it at its next
// pass, gives it to that service's rollout step (the only writer of the
// record) and answers. The caller waits for that answer, bounded.

import { RolloutCommandError } from '../errors.js';
import type { RolloutCommand } from '../strategies/canary.js';
import type { CommandDesk } from './stack-pass.js';

export interface CommandAnswer {
  done: boolean;
  message: string;
}

interface Waiting {
  command: RolloutCommand;
  resolve: (answer: CommandAnswer) => void;
}

export class RolloutCommands implements CommandDesk {
  private readonly waiting = new Map<string, Map<string, Waiting[]>>();

  constructor(private readonly wake: (stack: string, reason: string) => void, private readonly timeoutMs = 30_000) {}

  /** Resolves with the lane's answer; a lane that does not answer in time is an error. */
  request(stack: string, service: string, command: RolloutCommand): Promise<CommandAnswer> {
    return new Promise<CommandAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RolloutCommandError(stack, service, command, `the ${stack} lane did not take it within ${this.timeoutMs / 1000} s`)), this.timeoutMs);
      const entry: Waiting = { command, resolve: (a) => { clearTimeout(timer); resolve(a); } };
      const services = this.waiting.get(stack) ?? new Map<string, Waiting[]>();
      services.set(service, [...(services.get(service) ?? []), entry]);
      this.waiting.set(stack, services);
      this.wake(stack, `${command} ${stack}/${service}`);
    });
  }

  take(stack: string): Map<string, RolloutCommand> {
    const services = this.waiting.get(stack);
    const out = new Map<string, RolloutCommand>();
    // One command per service and pass: the oldest; the others wait for the next pass.
    for (const [service, list] of services ?? []) if (list[0] !== undefined) out.set(service, list[0].command);
    return out;
  }

  answer(stack: string, service: string, answer: CommandAnswer): void {
    const services = this.waiting.get(stack);
    const list = services?.get(service);
    const first = list?.shift();
    if (list !== undefined && list.length === 0) services?.delete(service);
    if (services !== undefined && services.size === 0) this.waiting.delete(stack);
    else if (list !== undefined && list.length > 0) this.wake(stack, `${list[0]?.command ?? 'command'} ${stack}/${service}`);
    first?.resolve(answer);
  }
}
