// Folds one validated stack into the StackSpec the rest of Capstan reads, and
// checks what needs the whole stack: declared volumes and networks,
// depends_on targets and cycles, bind paths inside the repository, env_file
// contents, the fixed-host-port vs replicas rule. A stack may be made of
// several files (top-level `include:`): each part keeps its own directory,
// variables and positions, and declarations are shared by all of them.

import { posix } from 'node:path';
import { normalizeBuild } from './build.js';
import { deliverySpecs } from './delivery.js';
import { resolveFileDef, serviceFiles, type FileKind, type HostFiles, type ResolvedDef } from './files.js';
import { routeTlsFiles } from './route-tls.js';
import type { CapstanExtension, IpamSpec, RouteSpec, MountSpec, NetworkSpec, PortSpec, ProbeSpec, ServiceSpec, StackSpec, SwarmSettings, UpdateConfig, VolumeSpec } from './model.js';
import { classifyBindSource } from './binds.js';
import { parseDotenv } from './dotenv.js';
import type { Lookup } from './interpolate.js';
import { oversized, type PathSegment } from './parse-yaml.js';
import { resolveInRepo } from './paths.js';
import type { FileProblems, Problems } from './problems.js';
import type { RepoTree } from './repo-tree.js';
import { engineRestart, type DeployInput, type IpamInput, type ResourceDef, type ServiceInput, type StackInput, type UpdateConfigInput } from './schema.js';
import type { RawMount } from './volumes.js';
import { setOwn } from './own.js';

export interface StackContext {
  name: string;
  file: string;
  /** Directory of the compose file, repo-relative ('' = repo root). */
  dir: string;
  files: ReadonlyMap<string, string>;
  lookup: Lookup;
  fp: FileProblems;
  all: Problems;
  /** Services left out because none of their profiles is active, with those profiles. */
  inactive?: ReadonlyMap<string, readonly string[]>;
  tree: RepoTree;
  host: HostFiles;
  /** The file size limit, for env files (YAML files are checked as they are parsed). */
  maxFileBytes?: number | undefined;
  /** The operator user's home, for `~` in bind sources; undefined: `~` is an error. */
  home?: string | undefined;
  /** `swarm`: a relative bind must be a file Git tracks (it becomes a Swarm config); nodes cannot see the operator's disk. */
  backend?: 'docker' | 'swarm' | undefined;
}

/** One file of a stack: the stack file itself, or a file it includes. */
export interface StackPart {
  ctx: StackContext;
  top: StackInput;
  /** Valid services of this file whose profiles are active. */
  services: ReadonlyMap<string, ServiceInput>;
  /** Every service of this file after `extends`, active or not, as plain data. */
  rawServices: Readonly<Record<string, unknown>>;
}

export const DEFAULT_PROGRESS_DEADLINE_MS = 60_000;
/** How often x-capstan.image_update lists a repository's tags when it sets no `interval`. */
export const DEFAULT_IMAGE_UPDATE_INTERVAL_MS = 300_000;



function engineName(stack: string, key: string, def: ResourceDef | undefined): { engineName: string; external: boolean } {
  const ext = def?.external;
  const external = ext === true || (typeof ext === 'object' && ext !== null);
  const extName = typeof ext === 'object' && ext !== null ? ext.name : undefined;
  if (external) return { engineName: extName ?? def?.name ?? key, external };
  return { engineName: def?.name ?? `${stack}_${key}`, external };
}

/** parts[0] is the stack file; included files follow. Declarations of every part are visible to all services. */
export function normalizeStack(parts: readonly StackPart[]): StackSpec {
  const main = parts[0];
  if (main === undefined) throw new Error('unreachable: a stack has at least its own file');
  const declaredNetworks: Record<string, ResourceDef | null> = {};
  const declaredVolumes: Record<string, ResourceDef | null> = {};
  const allServiceNames = new Set<string>();
  const fileDefs: Record<FileKind, Map<string, ResolvedDef | undefined>> = { secret: new Map(), config: new Map() };
  for (const part of parts) {
    for (const [k, v] of Object.entries(part.top.networks ?? {})) setOwn(declaredNetworks, k, v);
    for (const [k, v] of Object.entries(part.top.volumes ?? {})) setOwn(declaredVolumes, k, v);
    for (const n of Object.keys(part.rawServices)) allServiceNames.add(n);
    const env = { tree: part.ctx.tree, lookup: part.ctx.lookup, host: part.ctx.host };
    for (const [k, def] of Object.entries(part.top.secrets ?? {})) if (!fileDefs.secret.has(k)) fileDefs.secret.set(k, resolveFileDef('secret', k, def, part.ctx, env));
    for (const [k, def] of Object.entries(part.top.configs ?? {})) if (!fileDefs.config.has(k)) fileDefs.config.set(k, resolveFileDef('config', k, def, part.ctx, env));
  }
  const out: Record<string, ServiceSpec> = {};
  const fpOf = new Map<string, FileProblems>();
  for (const part of parts) {
    for (const name of [...part.services.keys()].sort()) {
      const s = part.services.get(name);
      if (s === undefined) continue;
      const raw = part.rawServices[name];
      fpOf.set(name, part.ctx.fp);
      setOwn(out, name, normalizeService(part.ctx, name, s, isRecord(raw) ? raw : {}, { networks: declaredNetworks, volumes: declaredVolumes, files: fileDefs }, allServiceNames));
    }
  }
  checkCycles((name) => fpOf.get(name) ?? main.ctx.fp, out);
  shareBuilds(out);

  const services: Record<string, ServiceSpec> = {};
  for (const name of Object.keys(out).sort()) setOwn(services, name, out[name] as ServiceSpec);
  const stackName = main.ctx.name;
  const networks: Record<string, NetworkSpec> = {};
  const usesDefault = Object.values(out).some((s) => s.networks.includes('default'));
  const networkKeys = new Set(Object.keys(declaredNetworks));
  if (usesDefault) networkKeys.add('default');
  for (const key of [...networkKeys].sort()) {
    const def = declaredNetworks[key] ?? undefined;
    setOwn(networks, key, {
      name: key, ...engineName(stackName, key, def), driver: def?.driver, labels: def?.labels ?? {},
      ...(def?.internal === true ? { internal: true } : {}),
      ...(def?.ipam === undefined ? {} : { ipam: ipamSpec(def.ipam) }),
      ...(def?.enable_ipv6 === true ? { enableIpv6: true } : {}),
    });
  }
  const volumes: Record<string, VolumeSpec> = {};
  for (const key of Object.keys(declaredVolumes).sort()) {
    const def = declaredVolumes[key] ?? undefined;
    setOwn(volumes, key, { name: key, ...engineName(stackName, key, def), driver: def?.driver, labels: def?.labels ?? {} });
  }
  return { name: stackName, file: main.ctx.file, services, networks, volumes };
}

const withTag = (ref: string): string => (/:[^/]+$/.test(ref) || ref.includes('@') ? ref : `${ref}:latest`);

/**
 * Compose's "build once, reuse the image" pattern: a service whose `image:`
 * names what another service builds (`image:` beside `build:`) runs that
 * build's content tag, so it rolls with it and waits for the same build.
 */
function shareBuilds(services: Record<string, ServiceSpec>): void {
  const built = new Map<string, ServiceSpec>();
  for (const s of Object.values(services)) if (s.build?.alsoTag !== undefined) built.set(withTag(s.build.alsoTag), s);
  if (built.size === 0) return;
  for (const [name, s] of Object.entries(services)) {
    const from = s.build === undefined ? built.get(withTag(s.image)) : undefined;
    if (from?.build !== undefined) setOwn(services, name, { ...s, image: from.image, build: from.build });
  }
}

/** What the top-level sections of all parts of a stack declare. */
interface Declared {
  networks: Readonly<Record<string, unknown>>;
  volumes: Readonly<Record<string, unknown>>;
  files: Readonly<Record<FileKind, ReadonlyMap<string, ResolvedDef | undefined>>>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function normalizeService(
  ctx: StackContext,
  name: string,
  s: ServiceInput,
  raw: Record<string, unknown>,
  declared: Declared,
  allServiceNames: ReadonlySet<string>,
): ServiceSpec {
  const base: PathSegment[] = ['services', name];
  const fp = ctx.fp;
  const declaredNetworks = declared.networks;
  const declaredVolumes = declared.volumes;
  const mode = s.deploy?.mode ?? 'replicated';
  if (mode === 'global' && s.deploy?.replicas !== undefined) {
    fp.error([...base, 'deploy', 'replicas'], '`deploy.replicas` cannot be used with `deploy.mode: global`', 'remove `replicas`: a global service runs one replica per node (on the docker backend: one)', 'key');
  }
  const x = s['x-capstan'] ?? undefined;
  const delivery = deliverySpecs({
    strategy: x?.strategy ?? 'rolling', canary: x?.canary, blueGreen: x?.blue_green, autoscale: x?.autoscale,
    hasRoute: x?.route !== undefined && x.route !== null, mode, replicas: s.deploy?.replicas,
  }, base, fp, (p) => probeSpec(p, [...base, 'x-capstan', 'blue_green', 'pre_switch'], fp));
  const replicas = mode === 'global' ? 1 : (delivery.replicas ?? 1);
  const containerName = s.container_name ?? undefined;
  if (containerName !== undefined && replicas > 1) {
    fp.error([...base, 'container_name'], `\`container_name\` ${JSON.stringify(containerName)} cannot be shared by ${replicas} replicas`, 'remove `container_name` or set `deploy.replicas: 1`', 'key');
  }

  // A fixed host port over several replicas is fine with the router; without it, applying refuses (PortSharedError).
  const ports: PortSpec[] = (s.ports ?? []).flat();

  const volumes: MountSpec[] = [];
  (s.volumes ?? []).forEach((m, i) => {
    const at: PathSegment[] = [...base, 'volumes', i];
    if (m.type === 'volume' && m.source === '') {
      // Anonymous: one volume per replica slot, named and labelled by the backend.
      volumes.push({ ...m, relative: false });
    } else if (m.type === 'volume') {
      if (!Object.hasOwn(declaredVolumes, m.source)) {
        fp.error(at, `volume ${JSON.stringify(m.source)} is not declared in the top-level \`volumes:\``, `add \`volumes: { ${m.source}: {} }\` at the top level of the file`);
      }
      volumes.push({ ...m, relative: false });
    } else if (m.type === 'bind' && m.source.startsWith('~')) {
      // The operator user's home: a host path like any other, so the policy checks the expanded path.
      if (ctx.home === undefined) fp.error(at, `bind source ${JSON.stringify(m.source)} names the operator's home, which is not known here`, 'use an absolute host path');
      volumes.push({ ...m, source: posix.normalize(posix.join(ctx.home ?? '/', m.source.slice(1))), relative: false });
    } else if (m.type === 'bind' && !m.source.startsWith('/')) {
      volumes.push(relativeBind(ctx, m, at));
    } else {
      volumes.push({ ...m, source: m.type === 'bind' ? posix.normalize(m.source) : m.source, relative: false });
    }
  });

  const rawNetworks = raw['networks'];
  const networkMode = s.network_mode ?? undefined;
  const listed = s.networks?.names ?? [];
  if (networkMode !== undefined && listed.length > 0) {
    fp.error([...base, 'network_mode'], '`network_mode` and `networks` cannot be used together', 'remove one of them', 'key');
  }
  const networks = networkMode !== undefined ? [] : listed.length === 0 ? ['default'] : listed;
  networks.forEach((n, i) => {
    if (n !== 'default' && !Object.hasOwn(declaredNetworks, n)) {
      const at: PathSegment[] = Array.isArray(rawNetworks) ? [...base, 'networks', i] : [...base, 'networks', n];
      fp.error(at, `network ${JSON.stringify(n)} is not declared in the top-level \`networks:\``, `add \`networks: { ${n}: {} }\` at the top level of the file`, Array.isArray(rawNetworks) ? 'value' : 'key');
    }
  });

  const addresses = s.networks?.addresses ?? {};
  for (const [n, address] of Object.entries(addresses)) {
    const at: PathSegment[] = [...base, 'networks', n];
    if (replicas > 1) fp.error(at, `fixed addresses on network ${JSON.stringify(n)} cannot be shared by ${replicas} replicas`, 'set `deploy.replicas: 1`, or drop ipv4_address / ipv6_address / mac_address', 'key');
    const def = declaredNetworks[n];
    const pools = isRecord(def) && isRecord(def['ipam']) && Array.isArray(def['ipam']['config']) ? (def['ipam']['config'] as unknown[]) : [];
    if ((address.ipv4 !== undefined || address.ipv6 !== undefined) && !pools.some((p) => isRecord(p) && typeof p['subnet'] === 'string')) {
      fp.error(at, `a fixed ip address on network ${JSON.stringify(n)} needs that network's own subnet`, `declare it: networks: { ${n}: { ipam: { config: [{ subnet: 172.28.0.0/16 }] } } } (Docker refuses fixed addresses on networks it addressed itself)`, 'key');
    }
  }

  const dependsOn = s.depends_on ?? {};
  const rawDeps = raw['depends_on'];
  Object.keys(dependsOn).forEach((dep, i) => {
    if (!allServiceNames.has(dep)) {
      const at: PathSegment[] = Array.isArray(rawDeps) ? [...base, 'depends_on', i] : [...base, 'depends_on', dep];
      const profiles = ctx.inactive?.get(dep);
      if (profiles !== undefined) {
        fp.error(at, `service ${JSON.stringify(dep)} is needed by ${JSON.stringify(name)} but none of its profiles (${profiles.join(', ')}) is active`, 'activate one with --profile or COMPOSE_PROFILES, or remove the dependency', Array.isArray(rawDeps) ? 'value' : 'key');
      } else {
        fp.error(at, `depends on unknown service ${JSON.stringify(dep)}`, `services in this stack: ${[...allServiceNames].sort().join(', ')}`, Array.isArray(rawDeps) ? 'value' : 'key');
      }
    }
  });

  const limits = s.deploy?.resources?.limits;
  const routes = x?.route === undefined ? [] : Array.isArray(x.route) ? x.route : [x.route];
  const firstPort = ports[0]?.target ?? (s.expose ?? []).flat()[0] ?? 80;
  const capstan: CapstanExtension = {
    strategy: x?.strategy ?? 'rolling',
    progressDeadlineMs: x?.progress_deadline ?? DEFAULT_PROGRESS_DEADLINE_MS,
    probe: x?.probe ? probeSpec(x.probe, [...base, 'x-capstan', 'probe'], fp) : undefined,
    routes: routes.map((r) => ({ host: r.host, pathPrefix: r.path ?? '/', port: r.port ?? firstPort, sticky: r.sticky ?? false, tls: routeTls(r.tls), redirectHttp: r.redirect_http === true })),
    ...(delivery.canary === undefined ? {} : { canary: delivery.canary }),
    ...(delivery.blueGreen === undefined ? {} : { blueGreen: delivery.blueGreen }),
    ...(delivery.autoscale === undefined ? {} : { autoscale: delivery.autoscale }),
    ...(x?.image_update ? { imageUpdate: { semver: x.image_update.semver, tagPattern: x.image_update.tag_pattern, intervalMs: x.image_update.interval ?? DEFAULT_IMAGE_UPDATE_INTERVAL_MS } } : {}),
  };

  const built = s.build === undefined || s.build === null ? undefined : normalizeBuild({ stack: ctx.name, dir: ctx.dir, tree: ctx.tree, lookup: ctx.lookup, fp }, name, s.build, s.image, base);
  if (s.image === undefined && (s.build === undefined || s.build === null)) fp.error(base, `service ${JSON.stringify(name)} has neither \`image\` nor \`build\``, 'add `image: <reference>` or `build: <context directory>`', 'key');
  const pullPolicy = s.pull_policy ?? undefined;
  if (pullPolicy?.kind === 'build' && built === undefined) {
    fp.error([...base, 'pull_policy'], '`pull_policy: build` needs a `build:` section', 'add `build: <context directory>`, or use another pull_policy (missing, always, never, daily, weekly, every_<duration>)');
  }
  if (x?.image_update && built !== undefined) {
    fp.error([...base, 'x-capstan', 'image_update'], '`image_update` follows a registry\'s tags, but this service is built from `build:`', 'remove `image_update`, or run an image from a registry instead of building it', 'key');
  }
  const taken = new Set<string>();
  const secrets = serviceFiles('secret', s.secrets ?? [], declared.files.secret, base, fp, taken);
  const configs = serviceFiles('config', s.configs ?? [], declared.files.config, base, fp, taken);
  const routeTlsSecrets = routeTlsFiles(x?.route, declared.files.secret, [...base, 'x-capstan', 'route'], fp);
  if (s.read_only === true && secrets.length + configs.length > 0) {
    fp.error([...base, 'read_only'], '`read_only: true` cannot be combined with secrets or configs yet', 'Capstan writes them into the container\'s file system before it starts, which a read-only root file system refuses; drop `read_only`, or mount the files with `volumes:`', 'key');
  }

  const swarm = swarmSettings(s.deploy ?? undefined);
  return {
    image: built?.image ?? s.image ?? '',
    ...(built === undefined ? {} : { build: built.build }),
    ...(swarm === undefined ? {} : { swarm }),
    ...(pullPolicy === undefined || pullPolicy.kind === 'missing' ? {} : { pullPolicy }),
    ...(Object.keys(addresses).length === 0 ? {} : { networkAddresses: addresses }),
    ...(secrets.length === 0 ? {} : { secrets }),
    ...(configs.length === 0 ? {} : { configs }),
    ...(routeTlsSecrets === undefined ? {} : { routeTls: routeTlsSecrets }),
    command: s.command ?? undefined,
    entrypoint: s.entrypoint ?? undefined,
    environment: buildEnvironment(ctx, base, s, raw),
    ports,
    expose: [...new Set((s.expose ?? []).flat())],
    volumes,
    networks: [...new Set(networks)].sort(),
    labels: s.labels ?? {},
    healthcheck: s.healthcheck ?? undefined,
    restart: s.restart ?? (s.deploy?.restart_policy ? engineRestart(s.deploy.restart_policy) : 'no'),
    user: s.user ?? undefined,
    workingDir: s.working_dir ?? undefined,
    stopSignal: s.stop_signal ?? undefined,
    stopGracePeriodMs: s.stop_grace_period ?? undefined,
    dependsOn,
    replicas,
    resources: { nanoCpus: limits?.cpus, memoryBytes: limits?.memory, pids: limits?.pids },
    deployLabels: s.deploy?.labels ?? {},
    capstan,
    containerName,
    hostname: s.hostname ?? undefined,
    capAdd: s.cap_add ?? [],
    capDrop: s.cap_drop ?? [],
    sysctls: s.sysctls ?? {},
    ulimits: s.ulimits ?? {},
    tmpfs: s.tmpfs ?? {},
    readOnly: s.read_only ?? false,
    shmSizeBytes: s.shm_size ?? undefined,
    init: s.init ?? undefined,
    tty: s.tty ?? false,
    stdinOpen: s.stdin_open ?? false,
    extraHosts: s.extra_hosts ?? [],
    dns: s.dns ?? [],
    logging: s.logging ?? undefined,
    platform: s.platform ?? undefined,
    runtime: s.runtime ?? undefined,
    securityOpt: s.security_opt ?? [],
    devices: s.devices ?? [],
    privileged: s.privileged ?? false,
    networkMode,
    pid: s.pid ?? undefined,
    ipc: s.ipc ?? undefined,
    networkAliases: s.networks?.aliases ?? {},
    mode,
    update: updateConfig(s.deploy?.update_config),
    rollback: updateConfig(s.deploy?.rollback_config),
  };
}

/** The swarm-only `deploy` keys, or undefined when none is set (so every other spec hash stays as it was). */
function swarmSettings(deploy: DeployInput | undefined): SwarmSettings | undefined {
  if (deploy === undefined) return undefined;
  const out: SwarmSettings = {};
  const p = deploy.placement;
  if (p !== undefined) {
    out.placement = { constraints: p.constraints ?? [], preferences: (p.preferences ?? []).map((x) => x.spread), maxReplicasPerNode: p.max_replicas_per_node };
  }
  if (deploy.endpoint_mode !== undefined) out.endpointMode = deploy.endpoint_mode;
  const r = deploy.restart_policy;
  if (r !== undefined) out.restartPolicy = { condition: r.condition ?? 'any', delayMs: r.delay, maxAttempts: r.max_attempts, windowMs: r.window };
  const res = deploy.resources?.reservations;
  if (res?.cpus !== undefined || res?.memory !== undefined) out.reservations = { nanoCpus: res.cpus, memoryBytes: res.memory };
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A relative bind: tracked configuration (read-only, by Git id) or a persistent data directory; never out of the repository or through a symlink. */
function relativeBind(ctx: StackContext, m: RawMount, at: PathSegment[]): MountSpec {
  const resolved = resolveInRepo(ctx.dir, m.source);
  if (resolved === undefined) {
    ctx.fp.error(at, `bind source ${JSON.stringify(m.source)} points outside the repository`, 'keep relative bind sources inside the repository, or use an absolute host path (allowed by policy)');
    return { ...m, relative: true };
  }
  const kind = classifyBindSource(ctx.tree, resolved);
  switch (kind.kind) {
    case 'symlink':
      ctx.fp.error(at, `bind source ${JSON.stringify(m.source)} crosses the symbolic link ${kind.at} of the repository`, 'a link may point anywhere on the host; bind the directory it points to by its own path inside the repository');
      return { ...m, source: resolved, relative: true };
    case 'tracked':
      if (ctx.backend === 'swarm' && ctx.tree.get(resolved)?.type === 'tree') {
        ctx.fp.error(at, `bind source ${JSON.stringify(m.source)} is a directory Git tracks; on Swarm a tracked bind becomes a Swarm config, and a config is one file`, 'bind each file of it on its own (each becomes a config), or list them under `configs:`');
      }
      if (!m.readOnly) ctx.fp.warn(at, `bind source ${JSON.stringify(m.source)} holds files Git tracks: it is mounted read-only from the deployed revision (a writable data directory holds no tracked files but .gitkeep or .gitignore)`);
      return { ...m, source: resolved, readOnly: true, relative: true, content: kind.id };
    case 'data':
      if (ctx.backend === 'swarm') {
        ctx.fp.error(at, `bind source ${JSON.stringify(m.source)} is a data directory (Git tracks no file in it), which lives in the operator's data dir: Swarm's nodes cannot see it`, 'use a named volume instead (e.g. `- data:' + m.target + '` with `volumes: { data: {} }` at the top level); Swarm makes it on each node a task runs on');
      }
      return { ...m, source: resolved, relative: true, persistent: true };
  }
}

function ipamSpec(i: IpamInput): IpamSpec {
  return {
    driver: i.driver,
    config: (i.config ?? []).map((c) => ({ subnet: c.subnet, ipRange: c.ip_range, gateway: c.gateway, auxAddresses: c.aux_addresses ?? {} })),
    options: i.options ?? {},
  };
}

/** DESIGN §4: zero downtime unless the manifest says otherwise. */
export const DEFAULT_UPDATE_CONFIG: UpdateConfig = { parallelism: 1, delayMs: 0, failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0, order: 'start-first' };

function updateConfig(u: UpdateConfigInput | undefined): UpdateConfig {
  const d = DEFAULT_UPDATE_CONFIG;
  return {
    parallelism: u?.parallelism ?? d.parallelism,
    delayMs: u?.delay ?? d.delayMs,
    failureAction: u?.failure_action ?? d.failureAction,
    monitorMs: u?.monitor ?? d.monitorMs,
    maxFailureRatio: u?.max_failure_ratio ?? d.maxFailureRatio,
    order: u?.order ?? d.order,
  };
}

/** env_file entries in order (later wins), then `environment` over them; a bare name takes its value from the operator env or .env. */
function buildEnvironment(ctx: StackContext, base: PathSegment[], s: ServiceInput, raw: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  const listForm = Array.isArray(raw['env_file']);
  (s.env_file ?? []).forEach((ref, i) => {
    const at: PathSegment[] = listForm ? [...base, 'env_file', i] : [...base, 'env_file'];
    const path = resolveInRepo(ctx.dir, ref.path);
    if (path === undefined) {
      ctx.fp.error(at, `env_file ${JSON.stringify(ref.path)} points outside the repository`, 'keep env files inside the repository');
      return;
    }
    const content = ctx.files.get(path);
    if (content === undefined) {
      if (ref.required) ctx.fp.error(at, `env_file ${JSON.stringify(ref.path)} not found (looked for ${path})`, 'add the file to the repository, or mark it `required: false`');
      return;
    }
    const tooBig = oversized(content, ctx.maxFileBytes);
    if (tooBig !== undefined) {
      ctx.all.errorAtPos(path, { line: 1, col: 1 }, '', tooBig);
      return;
    }
    const parsed = parseDotenv(content, ctx.lookup);
    for (const e of parsed.errors) ctx.all.errorAtPos(path, { line: e.line, col: e.col }, '', e.message);
    for (const [k, v] of Object.entries(parsed.vars)) setOwn(env, k, v);
  });
  for (const [k, v] of Object.entries(s.environment ?? {})) {
    if (v !== null) {
      setOwn(env, k, v);
      continue;
    }
    const fromEnv = ctx.lookup(k);
    if (fromEnv !== undefined) setOwn(env, k, fromEnv);
    // Compose leaves an unresolved bare name out of the container's environment entirely.
    else delete env[k];
  }
  return env;
}

/** Reports each dependency cycle once, at the depends_on of its alphabetically first service. */
function checkCycles(fpOf: (service: string) => FileProblems, services: Readonly<Record<string, ServiceSpec>>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const reported = new Set<string>();
  const visit = (name: string, stack: string[]): void => {
    const st = state.get(name);
    if (st === 'done') return;
    if (st === 'visiting') {
      const cycle = stack.slice(stack.indexOf(name));
      const key = [...cycle].sort().join('\0');
      if (!reported.has(key)) {
        reported.add(key);
        const first = [...cycle].sort()[0] ?? name;
        const start = cycle.indexOf(first);
        const ordered = [...cycle.slice(start), ...cycle.slice(0, start), first];
        fpOf(first).error(['services', first, 'depends_on'], `dependency cycle: ${ordered.join(' → ')}`, 'remove one of the depends_on entries', 'key');
      }
      return;
    }
    state.set(name, 'visiting');
    for (const dep of Object.keys(services[name]?.dependsOn ?? {}).sort()) if (Object.hasOwn(services, dep)) visit(dep, [...stack, name]);
    state.set(name, 'done');
  };
  for (const name of Object.keys(services).sort()) visit(name, []);
}

type ProbeInput = NonNullable<NonNullable<ServiceInput['x-capstan']>['probe']>;

/** Kubernetes-like defaults: every 10 s, 1 s timeout, ready at the first pass, replaced after 3 failures. */
function probeSpec(p: ProbeInput, at: PathSegment[], fp: FileProblems): ProbeSpec | undefined {
  const kinds = (['http', 'tcp', 'exec'] as const).filter((k) => p[k] !== undefined);
  if (kinds.length !== 1) {
    fp.error(at, kinds.length === 0 ? 'a probe needs one of http, tcp or exec' : `a probe has one check, not ${kinds.join(' and ')}`, 'e.g. probe: { http: { path: /healthz, port: 8080 } }');
    return undefined;
  }
  const exec = p.exec === undefined ? undefined : Array.isArray(p.exec) ? p.exec : p.exec.command;
  const check: ProbeSpec['check'] = p.http !== undefined
    ? { kind: 'http', path: p.http.path ?? '/', port: p.http.port, host: p.http.host }
    : p.tcp !== undefined ? { kind: 'tcp', port: p.tcp.port } : { kind: 'exec', command: exec ?? [] };
  return {
    check,
    intervalMs: p.interval ?? 10_000,
    timeoutMs: p.timeout ?? 1000,
    initialDelayMs: p.initial_delay ?? 0,
    successThreshold: p.success_threshold ?? 1,
    failureThreshold: p.failure_threshold ?? 3,
  };
}

/** A route's `tls`, once route-tls.ts has checked it: secrets by name, or ACME. */
function routeTls(tls: unknown): RouteSpec['tls'] {
  if (!isRecord(tls)) return undefined;
  if (tls['acme'] === true) return { acme: true };
  const certificate = tls['certificate'];
  const key = tls['key'];
  return typeof certificate === 'string' && typeof key === 'string' ? { certificate, key } : undefined;
}
