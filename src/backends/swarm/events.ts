// The manager's node events, as "look again now" signals for the swarm
// daemon: a node going down or coming back changes what status says about
// nodes and the services Swarm reschedules. Reconnecting is the docker
// backend's (watchEngineEvents); only the stream and its parsing differ.

import { connectDocker, resolveEndpoint } from '../docker/connect.js';
import type { EngineEvent, EventStreamOpener } from '../docker/events.js';

export function swarmNodeEventsOpener(): EventStreamOpener {
  let client: Promise<Awaited<ReturnType<typeof connectDocker>>['docker']> | undefined;
  return async () => {
    client ??= connectDocker(resolveEndpoint()).then((c) => c.docker);
    return (await client).getEvents({ filters: { type: ['node'] } });
  };
}

/** `node capstan-swarm-3 down`: the node's name and its new state, when the event says. */
export function parseNodeEvent(line: string): EngineEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const e = raw as { Type?: unknown; Action?: unknown; Actor?: { ID?: unknown; Attributes?: Record<string, unknown> }; time?: unknown };
  if (e.Type !== 'node' || typeof e.Actor?.ID !== 'string') return undefined;
  const attrs = e.Actor.Attributes ?? {};
  const name = typeof attrs['name'] === 'string' ? attrs['name'] : e.Actor.ID;
  const state = typeof attrs['state.new'] === 'string' ? ` ${attrs['state.new']}` : '';
  return { action: `node${state}`, containerId: e.Actor.ID, name, stack: '', service: '', exitCode: undefined, time: typeof e.time === 'number' ? e.time * 1000 : 0 };
}
