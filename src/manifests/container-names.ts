// Container names across every stack of one commit: two services whose names
// give the same container name (stack `a` + service `b-c` and stack `a-b` +
// service `c` both make `a-b-c-1`) would each remove the other's container as
// a leftover, pass after pass. Checked at validation, before anything runs,
// for every replica's name, the `-next` name its start-first update (or a
// blue-green switch) uses and the `-canary` name a canary step gives it.

import { canaryName, replicaName, ROUTER_NAME_PREFIX, twinName } from './names.js';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems } from './problems.js';
import type { StackSpec } from './model.js';

interface Holder {
  stack: string;
  service: string;
  fp: FileProblems;
  at: PathSegment[];
}

/** Reports each collision at both services; returns the names of the stacks involved (they must not run). */
export function checkContainerNames(stacks: readonly { spec: StackSpec; fpOf?: ((service: string) => FileProblems) | undefined }[]): Set<string> {
  const holders = new Map<string, Holder>();
  const broken = new Set<string>();
  const reported = new Set<string>();
  for (const { spec, fpOf } of stacks) {
    if (fpOf === undefined) continue;
    for (const [service, s] of Object.entries(spec.services)) {
      const me: Holder = { stack: spec.name, service, fp: fpOf(service), at: s.containerName === undefined ? ['services', service] : ['services', service, 'container_name'] };
      const anchor = s.containerName === undefined ? 'key' : 'value';
      const id = { stack: spec.name, name: service, spec: s };
      for (let n = 1; n <= s.replicas; n++) {
        for (const name of [replicaName(id, n), twinName(id, n), canaryName(id, n)]) {
          if (name.startsWith(ROUTER_NAME_PREFIX)) {
            if (!reported.has(`${spec.name}/${service}/router`)) me.fp.error(me.at, `container name ${name} is reserved for Capstan's router containers (${ROUTER_NAME_PREFIX}<instance>)`, 'rename the stack or the service, or set another `container_name`', anchor);
            reported.add(`${spec.name}/${service}/router`);
            broken.add(spec.name);
            continue;
          }
          const other = holders.get(name);
          if (other === undefined) {
            holders.set(name, me);
            continue;
          }
          if (other.stack === me.stack && other.service === me.service) continue;
          const pair = [`${other.stack}/${other.service}`, `${me.stack}/${me.service}`].sort().join(' ');
          if (reported.has(pair)) continue;
          reported.add(pair);
          broken.add(other.stack).add(me.stack);
          const clash = (who: Holder, with_: Holder): void =>
            who.fp.error(who.at, `container name ${name} is also the name of a container of stack ${with_.stack}, service ${with_.service} (${with_.fp.file})`, 'rename a stack or a service, or set `container_name`: two containers cannot share a name, and Capstan never removes another service\'s container', who.at.length === 2 ? 'key' : 'value');
          clash(me, other);
          clash(other, me);
        }
      }
    }
  }
  return broken;
}
