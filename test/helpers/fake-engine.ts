// A fake Backend for unit tests of lane passes, the executor and rollouts:
// containers, networks and volumes in memory, labelled as the docker backend
// labels them, so the real planner, executor and step machines run against
// it. A test decides what becomes of a replica (it starts, gets ready, dies)
// by editing it; nothing here sleeps or reads a clock.

import type { Backend, DeployContext, ReplicaState } from '../../src/backends/backend.js';
import { LABEL, replicaName } from '../../src/desired/labels.js';
import type { DesiredService } from '../../src/desired/model.js';
import { encodeSpecLabel } from '../../src/desired/spec-label.js';
import type { NetworkSpec, VolumeSpec } from '../../src/manifests/model.js';
import type { ObservedContainer, ObservedState } from '../../src/observed/model.js';

export class FakeEngine implements Backend {
  readonly endpoint = 'fake://engine';
  readonly containers = new Map<string, ObservedContainer>();
  readonly networks = new Map<string, { id: string; name: string; stack: string }>();
  /** Every call, in order (`create web-api-1-next`, `remove web-api-1`, …). */
  readonly calls: string[] = [];
  /** Names whose create fails (the next call only). */
  readonly failCreate = new Set<string>();
  private seq = 0;

  constructor(private readonly instance = 'test') {}

  async ping(): Promise<void> {}

  async observe(instance: string, scope: { stack?: string } = {}): Promise<ObservedState> {
    const mine = (stack: string): boolean => instance === this.instance && (scope.stack === undefined || scope.stack === stack);
    return {
      instance,
      containers: [...this.containers.values()].filter((c) => mine(c.stack)).map((c) => ({ ...c })).sort((a, b) => (a.name < b.name ? -1 : 1)),
      networks: [...this.networks.values()].filter((n) => mine(n.stack)).map((n) => ({ ...n, labels: {} })),
      volumes: [],
    };
  }

  async createNetwork(stack: string, network: NetworkSpec): Promise<void> {
    this.calls.push(`create-network ${network.engineName}`);
    this.networks.set(network.engineName, { id: `n-${network.engineName}`, name: network.engineName, stack });
  }

  async createVolume(_stack: string, volume: VolumeSpec): Promise<void> {
    this.calls.push(`create-volume ${volume.engineName}`);
  }

  async prepare(): Promise<void> {}

  async createContainer(service: DesiredService, number: number, ctx: DeployContext, name = replicaName(service, number), slot = 'stable'): Promise<string> {
    this.calls.push(`create ${name}`);
    if (this.failCreate.delete(name)) throw new Error(`name ${name} is taken`);
    const id = `c${String(++this.seq).padStart(11, '0')}`;
    this.containers.set(id, {
      id, name, stack: service.stack, service: service.name, number, specHash: service.specHash, revision: ctx.revision,
      // Started by create, as the docker backend does; a test makes it healthy, exit, …
      state: 'running', health: service.spec.healthcheck === undefined ? undefined : 'starting',
      labels: { [LABEL.instance]: this.instance, [LABEL.stack]: service.stack, [LABEL.service]: service.name, [LABEL.specHash]: service.specHash, [LABEL.slot]: slot, [LABEL.spec]: encodeSpecLabel(service.spec) },
      image: service.spec.image, ip: `10.0.0.${this.seq}`, lastRun: undefined, healthcheck: undefined,
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.calls.push(`start ${this.nameOf(id)}`);
    this.edit(id, { state: 'running' });
  }

  async removeContainer(id: string): Promise<void> {
    this.calls.push(`remove ${this.nameOf(id)}`);
    this.containers.delete(id);
  }

  async removeNetwork(id: string): Promise<void> {
    this.calls.push(`remove-network ${id}`);
    for (const [name, n] of this.networks) if (n.id === id) this.networks.delete(name);
  }

  async renameContainer(id: string, name: string): Promise<void> {
    this.calls.push(`rename ${this.nameOf(id)} → ${name}`);
    this.edit(id, { name });
  }

  async inspectReplica(id: string): Promise<ReplicaState | undefined> {
    const c = this.containers.get(id);
    return c === undefined ? undefined : { state: c.state, health: c.health, ip: c.ip, startedAt: 0, exitCode: c.lastRun?.exitCode ?? 0 };
  }

  /** The containers of a service by name, e.g. `{ 'web-api-1': 'h1', 'web-api-1-next': 'h2' }` (spec hashes shortened to what the test passes). */
  byName(stack: string, service?: string): Record<string, ObservedContainer> {
    return Object.fromEntries([...this.containers.values()].filter((c) => c.stack === stack && (service === undefined || c.service === service)).map((c) => [c.name, c]));
  }

  find(name: string): ObservedContainer | undefined {
    return [...this.containers.values()].find((c) => c.name === name);
  }

  edit(id: string, change: Partial<ObservedContainer>): void {
    const c = this.containers.get(id);
    if (c !== undefined) this.containers.set(id, { ...c, ...change });
  }

  private nameOf(id: string): string {
    return this.containers.get(id)?.name ?? id;
  }
}
