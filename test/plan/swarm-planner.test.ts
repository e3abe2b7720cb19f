// Golden plans of the swarm backend: the shared planner with Swarm's
// expansion. Services, not containers; secrets and configs as content-named
// objects created before their services and removed after nothing uses them.

import { describe, expect, it } from 'vitest';
import { swarmPort } from '../../src/apply/swarm-port.js';
import type { SwarmEngine } from '../../src/backends/swarm/swarm-engine.js';
import { LABEL } from '../../src/desired/labels.js';
import type { DesiredService } from '../../src/desired/model.js';
import { encodeSpecLabel } from '../../src/desired/spec-label.js';
import { swarmFileName } from '../../src/desired/swarm-names.js';
import { SwarmUnsupportedError } from '../../src/errors.js';
import type { MountedFile } from '../../src/manifests/model.js';
import type { ObservedNetwork, ObservedService, ObservedState, ObservedSwarmFile } from '../../src/observed/model.js';
import { renderText } from '../../src/plan/render.js';
import { REV_A, REV_B, desiredService, desiredStack, desiredState, observedNetwork } from '../helpers/specs.js';

// Planning is pure: the engine is never called.
const port = swarmPort({} as SwarmEngine);
const plan = (desired: ReturnType<typeof desiredState>, observed: ObservedState, held: Parameters<typeof port.plan>[2]['held'] = [], force = false) => port.plan(desired, observed, { held, force });

const NODES = ['n1', 'n2', 'n3'].map((id) => ({ id, hostname: `node-${id}`, role: 'worker' as const, state: 'ready', availability: 'active', addr: '10.0.0.1' }));

function observed(services: ObservedService[], networks: ObservedNetwork[] = [], files: ObservedSwarmFile[] = []): ObservedState {
  return { instance: 'test', containers: [], networks, volumes: [], swarm: { services, nodes: NODES, files } };
}

let nextId = 0;
function running(service: DesiredService, opts: { replicas?: number; fromSpec?: DesiredService } = {}): ObservedService {
  const made = opts.fromSpec ?? service;
  const replicas = opts.replicas ?? made.spec.replicas;
  return {
    id: `s${++nextId}`,
    name: `${service.stack}_${service.name}`,
    stack: service.stack,
    service: service.name,
    version: 10,
    specHash: made.specHash,
    revision: REV_A,
    spec: made.spec,
    mode: made.spec.mode,
    replicas: made.spec.mode === 'global' ? 0 : replicas,
    labels: { [LABEL.instance]: 'test', [LABEL.spec]: encodeSpecLabel(made.spec) },
    update: undefined,
    changedAt: 0,
    previous: undefined,
    tasks: Array.from({ length: made.spec.mode === 'global' ? 3 : replicas }, (_, i) => ({ id: `t${i}`, slot: i + 1, nodeId: `n${(i % 3) + 1}`, desiredState: 'running', state: 'running', specHash: made.specHash, error: '', at: 0 })),
  };
}

const token = (content: string): MountedFile => ({ name: 'token', target: '/run/secrets/token', uid: 0, gid: 0, mode: 0o444, source: { kind: 'env', variable: 'APP_TOKEN' }, digest: `sha256:${content.repeat(16).slice(0, 16)}` });
const file = (f: MountedFile, kind: 'secret' | 'config' = 'secret'): ObservedSwarmFile => ({ id: `f-${f.digest}`, kind, name: swarmFileName('web', f), stack: 'web', file: f.name, labels: {} });

const api = desiredService('web', 'api', { replicas: 3, secrets: [token('a')] });
const agent = desiredService('web', 'agent', { image: 'example/agent:1', mode: 'global' });
const web = desiredStack('web', [api, agent]);

describe('swarm plans, golden text', () => {
  it('creates the network, the secret, then the services', () => {
    const p = plan(desiredState(REV_A, [web]), observed([]));
    expect(renderText(p)).toBe(`Plan for aaaaaaa on instance test:
  web
    create network web_default: network web_default does not exist
    create secret web_token-aaaaaaaaaaaa: secret token is not in the swarm yet
    create service web_api: new service, 3 replicas
    create service web_agent: new global service, one replica per node
Summary: 2 to create, 1 network/volume changes, 1 secret/config changes.
`);
    expect(p.services.map((s) => [s.service, s.replicas.to])).toEqual([['api', 3], ['agent', 3]]);
  });

  it('plans nothing when the swarm matches', () => {
    const p = plan(desiredState(REV_B, [web]), observed([running(agent), running(api)], [observedNetwork('web')], [file(token('a'))]));
    expect(renderText(p)).toBe('No changes: instance test matches bbbbbbb.\n');
  });

  it('rotates a secret: a new object, the service updated by Swarm, the old object removed last', () => {
    const rotated = desiredService('web', 'api', { replicas: 3, secrets: [token('b')] });
    const p = plan(desiredState(REV_B, [desiredStack('web', [rotated, agent])]), observed([running(agent), running(rotated, { fromSpec: api })], [observedNetwork('web')], [file(token('a'))]));
    expect(renderText(p)).toBe(`Plan for bbbbbbb on instance test:
  web
    create secret web_token-bbbbbbbbbbbb: secret token has new content
    update service web_api: secret token content changed
    remove secret web_token-aaaaaaaaaaaa: no service uses this secret any more
Summary: 1 to update, 2 secret/config changes.
`);
    expect(p.operations.map((o) => o.phase)).toEqual([1, 2, 1000]);
  });

  it('scales without replacing tasks, and names an image change with its scale', () => {
    const more = desiredService('web', 'api', { ...api.spec, replicas: 5 });
    const bumped = desiredService('web', 'agent', { ...agent.spec, image: 'example/agent:2' });
    const p = plan(desiredState(REV_B, [desiredStack('web', [more, bumped])]), observed([running(agent), running(api)], [observedNetwork('web')], [file(token('a'))]));
    expect(renderText(p)).toBe(`Plan for bbbbbbb on instance test:
  web
    scale service web_api: scale 3 → 5
    update service web_agent: image example/agent:1 → 2
Summary: 1 to update, 1 to scale.
`);
  });

  it('removes a service and a stack that left Git, never what it does not own', () => {
    const old = desiredService('legacy', 'app');
    const p = plan(desiredState(REV_B, [desiredStack('web', [api])]), observed([running(agent), running(api), running(old)], [observedNetwork('web'), observedNetwork('legacy')], [file(token('a'))]));
    expect(renderText(p)).toBe(`Plan for bbbbbbb on instance test:
  legacy
    remove service legacy_app: stack legacy is no longer in Git
    remove network legacy_default: stack legacy is no longer in Git
  web
    remove service web_agent: service agent is no longer in stacks/web.yaml
Summary: 2 to remove, 1 network/volume changes.
`);
  });

  it('holds a service Swarm rolled back: the restored spec is what runs, nothing is retried', () => {
    const broken = desiredService('web', 'api', { ...api.spec, command: ['false'] });
    const held = { stack: 'web', service: 'api', revision: REV_B, specHash: broken.specHash, end: 'rolled-back' as const, reason: 'task: non-zero exit (1)', restored: { spec: api.spec, specHash: api.specHash }, at: 0 };
    const state = observed([running(agent), running(broken, { fromSpec: api })], [observedNetwork('web')], [file(token('a'))]);
    const p = plan(desiredState(REV_B, [desiredStack('web', [broken, agent])]), state, [held]);
    expect(p.operations).toEqual([]);
    expect(renderText(p)).toContain('Held: web/api: the rolling update to bbbbbbb failed (task: non-zero exit (1)); rolled back');
    // A new commit tries again.
    expect(renderText(plan(desiredState(REV_A, [desiredStack('web', [broken, agent])]), state, [held]))).toContain('update service web_api: command changed');
  });

  it('follows an update Swarm rolls, and reports one it rolled back once, then holds it', () => {
    const broken = desiredService('web', 'api', { ...api.spec, command: ['false'] });
    const desired = desiredState(REV_B, [desiredStack('web', [broken, agent])]);
    const rolling = { ...running(broken), update: { state: 'updating' as const, message: 'update in progress' }, previous: { specHash: api.specHash } };
    const p = plan(desired, observed([running(agent), rolling], [observedNetwork('web')], [file(token('a'))]));
    expect(p.operations).toEqual([]);
    expect(p.engineRollouts?.map((r) => [r.service, r.state])).toEqual([['api', 'rolling']]);
    // Swarm put the previous spec back (and forgot the failed one): its failed tasks tell which it was.
    const back = { ...running(broken, { fromSpec: api }), update: { state: 'rollback_completed' as const, message: 'rollback completed' }, changedAt: 10 };
    back.tasks = [...back.tasks, { id: 'tx', slot: 1, nodeId: 'n1', desiredState: 'shutdown', state: 'failed', specHash: broken.specHash, error: 'task: non-zero exit (1)', at: 5 }];
    const state = observed([running(agent), back], [observedNetwork('web')], [file(token('a'))]);
    const failed = plan(desired, state);
    expect(failed.operations).toEqual([]);
    expect(failed.engineRollouts).toEqual([expect.objectContaining({ service: 'api', state: 'rolled-back', specHash: broken.specHash, restored: { spec: api.spec, specHash: api.specHash }, reason: 'new tasks failed: task: non-zero exit (1) (Swarm: rollback completed)' })]);
    // Once held, the planner heals to the restored spec and reports nothing new; --force tries again.
    const held = { stack: 'web', service: 'api', revision: REV_B, specHash: broken.specHash, end: 'rolled-back' as const, reason: 'x', restored: { spec: api.spec, specHash: api.specHash }, at: 0 };
    expect(plan(desired, state, [held]).engineRollouts).toBeUndefined();
    expect(renderText(plan(desired, state, [], true))).toContain('update service web_api: command changed');
  });

  it('makes a tracked file bind a content-named config, rolled like any config change', () => {
    const bind = (blob: string) => desiredService('web', 'proxy', { volumes: [{ type: 'bind', source: 'stacks/conf/nginx.conf', target: '/etc/nginx.conf', readOnly: true, relative: true, content: blob.repeat(40) }] });
    const p = plan(desiredState(REV_A, [desiredStack('web', [bind('a')])]), observed([], [observedNetwork('web')]));
    expect(renderText(p)).toContain('create config web_bind.stacks_conf_nginx.conf-aaaaaaaaaaaa: config bind.stacks_conf_nginx.conf is not in the swarm yet');
    const before = { id: 'c1', kind: 'config' as const, name: 'web_bind.stacks_conf_nginx.conf-aaaaaaaaaaaa', stack: 'web', file: 'bind.stacks_conf_nginx.conf', labels: {} };
    const next = plan(desiredState(REV_B, [desiredStack('web', [bind('b')])]), observed([running(bind('b'), { fromSpec: bind('a') })], [observedNetwork('web')], [before]));
    expect(renderText(next)).toContain(`create config web_bind.stacks_conf_nginx.conf-bbbbbbbbbbbb: config bind.stacks_conf_nginx.conf has new content
    update service web_proxy: bind ./conf/nginx.conf content changed`);
    expect(renderText(next)).toContain('remove config web_bind.stacks_conf_nginx.conf-aaaaaaaaaaaa: no service uses this config any more');
  });

  it('refuses what Swarm cannot run, every problem at once, before planning anything', () => {
    const bad = desiredService('web', 'api', {
      privileged: true,
      volumes: [{ type: 'bind', source: 'conf/app.ini', target: '/etc/app.ini', readOnly: true, relative: true }],
    });
    const err = (() => {
      try {
        plan(desiredState(REV_A, [desiredStack('web', [bad])]), observed([]));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(SwarmUnsupportedError);
    expect((err as SwarmUnsupportedError).problems.map((p) => p.key)).toEqual(['volumes conf/app.ini:/etc/app.ini', 'privileged']);
  });
});
