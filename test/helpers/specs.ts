// Hand-built desired and observed values for pure tests of the planner and
// the backends: a full, valid ServiceSpec with overrides, hashed for real.

import { LABEL, containerName } from '../../src/desired/labels.js';
import type { DesiredService, DesiredStack, DesiredState } from '../../src/desired/model.js';
import { encodeSpecLabel } from '../../src/desired/spec-label.js';
import { specHash } from '../../src/desired/spec-hash.js';
import type { ServiceSpec, StackSpec } from '../../src/manifests/model.js';
import { DEFAULT_UPDATE_CONFIG } from '../../src/manifests/normalize.js';
import type { ContainerState, ObservedContainer, ObservedNetwork } from '../../src/observed/model.js';

export const REV_A = 'a'.repeat(40);
export const REV_B = 'b'.repeat(40);

export function serviceSpec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    image: 'example/api:1.4.1',
    command: undefined,
    entrypoint: undefined,
    environment: {},
    ports: [],
    expose: [],
    volumes: [],
    networks: ['default'],
    labels: {},
    healthcheck: undefined,
    restart: 'no',
    user: undefined,
    workingDir: undefined,
    stopSignal: undefined,
    stopGracePeriodMs: undefined,
    dependsOn: {},
    replicas: 1,
    resources: { nanoCpus: undefined, memoryBytes: undefined, pids: undefined },
    deployLabels: {},
    capstan: { strategy: 'rolling', progressDeadlineMs: 60_000, probe: undefined, routes: [] },
    containerName: undefined,
    hostname: undefined,
    capAdd: [],
    capDrop: [],
    sysctls: {},
    ulimits: {},
    tmpfs: {},
    readOnly: false,
    shmSizeBytes: undefined,
    init: undefined,
    tty: false,
    stdinOpen: false,
    extraHosts: [],
    dns: [],
    logging: undefined,
    platform: undefined,
    runtime: undefined,
    securityOpt: [],
    devices: [],
    privileged: false,
    networkMode: undefined,
    pid: undefined,
    ipc: undefined,
    networkAliases: {},
    mode: 'replicated',
    update: { ...DEFAULT_UPDATE_CONFIG },
    rollback: { ...DEFAULT_UPDATE_CONFIG },
    ...overrides,
  };
}

export function desiredService(stack: string, name: string, overrides: Partial<ServiceSpec> = {}): DesiredService {
  const spec = serviceSpec(overrides);
  const named = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, `${stack}_${n}`]));
  const volumes = spec.volumes.filter((m) => m.type === 'volume').map((m) => m.source);
  return { stack, name, spec, specHash: specHash(spec), engineNames: { networks: named(spec.networks), volumes: named(volumes) } };
}

export function desiredStack(name: string, services: DesiredService[]): DesiredStack {
  const spec: StackSpec = {
    name,
    file: `stacks/${name}.yaml`,
    services: Object.fromEntries(services.map((s) => [s.name, s.spec])),
    networks: { default: { name: 'default', engineName: `${name}_default`, external: false, driver: undefined, labels: {} } },
    volumes: {},
  };
  return { name, file: spec.file, spec, services };
}

export function desiredState(revision: string, stacks: DesiredStack[]): DesiredState {
  return { revision, stacks };
}

let nextId = 0;
/** A container as the snapshot would show it, created from `service` (or from `fromSpec`, an older spec). */
export function observedReplica(service: DesiredService, number: number, opts: { state?: ContainerState; fromSpec?: ServiceSpec; revision?: string } = {}): ObservedContainer {
  const spec = opts.fromSpec ?? service.spec;
  const hash = specHash(spec);
  const name = containerName(service.stack, service.name, number);
  return {
    id: `c${String(++nextId).padStart(11, '0')}`,
    name,
    stack: service.stack,
    service: service.name,
    number,
    specHash: hash,
    revision: opts.revision ?? REV_A,
    state: opts.state ?? 'running',
    health: undefined,
    image: spec.image,
    ip: undefined,
    lastRun: undefined,
    healthcheck: undefined,
    labels: { [LABEL.instance]: 'test', [LABEL.stack]: service.stack, [LABEL.service]: service.name, [LABEL.specHash]: hash, [LABEL.spec]: encodeSpecLabel(spec) },
  };
}

export function observedNetwork(stack: string, name = `${stack}_default`): ObservedNetwork {
  return { id: `n-${name}`, name, stack, labels: { [LABEL.instance]: 'test', [LABEL.stack]: stack } };
}
