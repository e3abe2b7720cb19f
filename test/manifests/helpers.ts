// Builds file maps for loadStacks from inline manifests and renders results as
// the strings a user would see.

import { loadStacks } from '../../src/manifests/load.js';
import type { LoadResult } from '../../src/manifests/load.js';
import type { ServiceSpec } from '../../src/manifests/model.js';

/** `capstanYaml`: the repository's capstan.yaml, for stacks that need a policy exception. */
export function load(files: Record<string, string>, env: Record<string, string> = {}, root = 'stacks', capstanYaml?: string): LoadResult {
  return loadStacks(new Map(Object.entries(files)), { root, env, policyFile: capstanYaml === undefined ? undefined : { path: 'capstan.yaml', text: capstanYaml } });
}

export function errorsOf(r: LoadResult): string[] {
  return r.errors.map((e) => e.format());
}

/** Loads one stack file holding one service `svc` and returns its spec, failing loudly on any error. */
export function service(body: string, extra: Record<string, string> = {}, env: Record<string, string> = {}): ServiceSpec {
  const r = load({ 'stacks/web.yaml': body, ...extra }, env);
  if (r.errors.length > 0) throw new Error(errorsOf(r).join('\n'));
  const s = r.stacks[0]?.services['svc'];
  if (s === undefined) throw new Error('no service svc');
  return s;
}

/** YAML for a one-service stack: `lines` are the service's keys, indented by the helper. */
export function svc(...lines: string[]): string {
  return ['services:', '  svc:', '    image: nginx:1.25', ...lines.map((l) => `    ${l}`)].join('\n') + '\n';
}
