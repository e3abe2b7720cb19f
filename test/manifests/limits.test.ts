// Limits on what a commit may ask for, each with its exact error and the
// policy key that changes it; and the parser staying linear in the keys of a
// mapping (a 50,000-key mapping loads; its time is a bench figure, bench/validate.ts).
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { parseOperatorPolicy, type OperatorPolicy } from '../../src/manifests/policy.js';
import { errorsOf, svc } from './helpers.js';

function check(files: Record<string, string>, operator?: OperatorPolicy): string[] {
  return errorsOf(loadStacks(new Map(Object.entries(files)), { root: 'stacks', env: {}, operatorPolicy: operator }));
}
function operator(text: string): OperatorPolicy {
  const r = parseOperatorPolicy('policy.yaml', text);
  if (r.policy === undefined) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return r.policy;
}
const mapping = (n: number): string => Array.from({ length: n }, (_, i) => `      K${i}: v${i}`).join('\n');

describe('limits', () => {
  it('refuses a manifest over 1 MiB without parsing it', () => {
    const big = `${svc('environment:')}      PAD: "${'x'.repeat(1024 * 1024)}"\n`;
    expect(check({ 'stacks/web.yaml': big })).toEqual([`stacks/web.yaml:1:1 the file is ${Buffer.byteLength(big)} bytes; the limit is 1048576 (limits.file_bytes in the operator's --policy file)`]);
  });
  it('refuses an env file over the limit, the stack\'s .env and an env_file alike', () => {
    const big = `A=${'x'.repeat(2048)}\n`;
    expect(check({ 'stacks/web/compose.yaml': svc('env_file: [app.env]'), 'stacks/web/.env': big, 'stacks/web/app.env': big }, operator('limits: { file_bytes: 1024 }\n'))).toEqual([
      "stacks/web/.env:1:1 the file is 2051 bytes; the limit is 1024 (limits.file_bytes in the operator's --policy file)",
      "stacks/web/app.env:1:1 the file is 2051 bytes; the limit is 1024 (limits.file_bytes in the operator's --policy file)",
    ]);
  });
  it('refuses a mapping with more keys than the limit, and takes 50,000 when the operator allows them', () => {
    const body = `${svc('environment:')}${mapping(50_000)}\n`;
    expect(check({ 'stacks/web.yaml': body })).toEqual(["stacks/web.yaml:5:7 services.svc.environment: a mapping of 50000 keys; the limit is 10000 (limits.keys_per_mapping in the operator's --policy file)"]);
    const r = loadStacks(new Map([['stacks/web.yaml', body]]), { root: 'stacks', env: {}, operatorPolicy: operator('limits: { keys_per_mapping: 50000 }\n') });
    expect(errorsOf(r)).toEqual([]);
    expect(Object.keys(r.stacks[0]?.services['svc']?.environment ?? {})).toHaveLength(50_000);
  }, 60_000);
  it('still finds duplicate keys', () => {
    expect(check({ 'stacks/web.yaml': svc('environment:', '  A: 1', '  B: 2', '  A: 3') })).toEqual(['stacks/web.yaml:7:7 YAML syntax: Map keys must be unique']);
  });
  it('caps replicas, port ranges and services per stack', () => {
    expect(check({ 'stacks/web.yaml': svc('deploy: { replicas: 1000000 }', 'ports: ["1-65535:1-65535", "8000-8099:80-179", "9000:90"]') })).toEqual([
      "stacks/web.yaml:4:25 services.svc.deploy.replicas: 1000000 replicas; the limit is 100 (limits.replicas in the operator's --policy file)",
      "stacks/web.yaml:5:13 services.svc.ports[0]: a port range of 65535 ports; the limit is 100 (limits.ports_per_range in the operator's --policy file) (publish fewer ports, or ask the operator to raise the limit)",
    ]);
    const many = `services:\n${Array.from({ length: 4 }, (_, i) => `  s${i}: { image: x }`).join('\n')}\n`;
    expect(check({ 'stacks/web.yaml': many }, operator('limits: { services_per_stack: 3, replicas: 2 }\n'))).toEqual([
      "stacks/web.yaml:1:1 services: 4 services in one stack; the limit is 3 (limits.services_per_stack in the operator's --policy file) (split the stack into several files)",
    ]);
  });
  it('caps the length of stack, service, network and volume names', () => {
    const long = 'n'.repeat(100_000);
    expect(check({ 'stacks/web.yaml': `name: ${long}\n${svc().slice(0)}` })).toEqual([
      "stacks/web.yaml:1:1 name: stack name \"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...\" is 100000 characters; the limit is 63 (limits.name_length in the operator's --policy file) (use a shorter file, directory or `name:`)",
    ]);
    const s64 = 's'.repeat(64);
    expect(check({ 'stacks/web.yaml': `services:\n  ${s64}: { image: x, networks: [${s64}] }\nnetworks:\n  ${s64}: {}\n` })).toEqual([
      `stacks/web.yaml:2:3 services.${s64}: service name "${'s'.repeat(37)}..." is 64 characters; the limit is 63 (limits.name_length in the operator's --policy file) (use a shorter name)`,
      `stacks/web.yaml:4:3 networks.${s64}: network name "${'s'.repeat(37)}..." is 64 characters; the limit is 63 (limits.name_length in the operator's --policy file) (use a shorter name)`,
    ]);
  });
  it('refuses control characters and invalid UTF-8', () => {
    expect(check({ 'stacks/web.yaml': svc('hostname: "web\\0x"') })).toEqual(['stacks/web.yaml:4:15 services.svc.hostname: control character U+0000 in "web\\u0000x"']);
    expect(check({ 'stacks/web.yaml': svc('environment: { "A\\u001b[2J": x }') })).toEqual(['stacks/web.yaml:4:20 services.svc.environment.A\u001b[2J: control character U+001B in "A\\u001b[2J"']);
    expect(check({ 'stacks/web.yaml': svc('environment: { A: "caf\uFFFD" }') })).toEqual(['stacks/web.yaml:4:27 the file is not valid UTF-8 (or holds U+FFFD)']);
  });
});
