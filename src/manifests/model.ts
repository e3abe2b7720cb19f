// The normalized form of a Compose stack: what the rest of Capstan reads.
// Every short/long syntax Compose allows is folded into one shape here, so the
// planner and the backends never see YAML variety. Values are plain data
// (frozen after parsing) so they hash and compare structurally.

import type { PullPolicy } from './pull-policy.js';

export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface PortSpec {
  /** Host IP to bind, '' for all interfaces. */
  hostIp: string;
  /** Host port; undefined means "container port only" (ephemeral host port or not published). */
  published: number | undefined;
  target: number;
  protocol: 'tcp' | 'udp';
  /** `mode: host` in the long syntax: on Swarm, published on the node of each task instead of the routing mesh. */
  mode?: 'host';
}

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Bind: absolute host path, or a path relative to the repository root (`relative: true`). Volume: stack-local volume name. */
  source: string;
  target: string;
  readOnly: boolean;
  /** A bind whose source was relative in the manifest (`source` is then repository-relative). */
  relative: boolean;
  /**
   * Relative binds of a source Git tracks: its Git id (blob or tree) at the
   * commit. Mounted read-only from the checkout of that commit; the id is in
   * the spec hash, so changed content rolls the service.
   */
  content?: string;
  /**
   * Relative binds of anything else (a data directory): kept writable at
   * `<data-dir>/binds/<stack>/<source>`, the same for every revision, never
   * deleted. A relative bind with neither field was made before this split
   * (it pointed into a per-revision checkout).
   */
  persistent?: true;
}

export interface HealthcheckSpec {
  /** Docker's form: ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]. */
  test: string[];
  intervalMs: number | undefined;
  timeoutMs: number | undefined;
  retries: number | undefined;
  startPeriodMs: number | undefined;
  startIntervalMs: number | undefined;
}

export type DependsOnCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface ResourceLimits {
  /** deploy.resources.limits.cpus as nano-CPUs. */
  nanoCpus: number | undefined;
  memoryBytes: number | undefined;
  pids: number | undefined;
}

export interface UlimitSpec {
  soft: number;
  hard: number;
}

export interface LoggingSpec {
  /** undefined: the engine's default driver. */
  driver: string | undefined;
  options: Readonly<Record<string, string>>;
}

export interface DeviceSpec {
  source: string;
  target: string;
  /** cgroup permissions, e.g. "rwm". */
  permissions: string;
}

/** deploy.update_config / rollback_config with DESIGN §4 defaults filled in. */
export interface UpdateConfig {
  parallelism: number;
  delayMs: number;
  failureAction: 'rollback' | 'pause' | 'continue';
  monitorMs: number;
  maxFailureRatio: number;
  order: 'start-first' | 'stop-first';
}

export type ProbeCheck =
  | { kind: 'http'; path: string; port: number; host: string | undefined }
  | { kind: 'tcp'; port: number }
  | { kind: 'exec'; command: string[] };

/** `x-capstan.probe`: run by Capstan against each running replica (DESIGN §6). */
export interface ProbeSpec {
  check: ProbeCheck;
  intervalMs: number;
  timeoutMs: number;
  initialDelayMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** One step of a canary: the share of requests the new version gets, then how long to wait (analysis runs meanwhile). */
export interface CanaryStep {
  /** Percent, 1-100; the last step is 100. */
  weight: number;
  /** ms, `manual` (until \`capstan promote\`), or undefined: go on at once. */
  pause: number | 'manual' | undefined;
}

/** Thresholds judged on the router's per-version counters during each pause (DESIGN §2). */
export interface AnalysisSpec {
  intervalMs: number;
  /** Errors (5xx answers and refused connects) over requests; undefined: not judged. */
  maxErrorRate: number | undefined;
  maxP95Ms: number | undefined;
  /** Fewer requests than this in an evaluation judge nothing (the pause is extended up to the progress deadline). */
  minRequests: number;
  prometheus: { url: string; query: string; max: number } | undefined;
}

export interface CanarySpec {
  steps: readonly CanaryStep[];
  analysis: AnalysisSpec | undefined;
}

export interface BlueGreenSpec {
  /** How long the old set keeps running, drained, after the switch: switching back is instant meanwhile. */
  scaleDownDelayMs: number;
  /** After the switch, a new replica failing within this window switches back. */
  monitorMs: number;
  /** Checked against every new replica before the switch; one failure keeps the old set live. */
  preSwitch: ProbeSpec | undefined;
}

export interface AutoscaleSpec {
  min: number;
  max: number;
  target: { kind: 'rps'; perReplica: number } | { kind: 'cpu'; percent: number };
  /** Scale-down stabilization window, and how long a bound may be hit before status says so. */
  cooldownMs: number;
}

/** `x-capstan.image_update`: newer tags inside `semver` are committed into the Compose file (DESIGN §5). */
export interface ImageUpdateSpec {
  /** A semver range (npm's syntax), e.g. `^1.4`. */
  semver: string;
  /** Only tags matching count; its named group `version` (else the whole tag) is what is compared. */
  tagPattern: string | undefined;
  /** How often the registry's tags are listed. */
  intervalMs: number;
}


/** `x-capstan.route`: an L7 route on the shared HTTP entry (--http-port). */
export interface RouteSpec {
  host: string | undefined;
  pathPrefix: string;
  /** The container port requests go to (the route's, else the first published target, else the first exposed, else 80). */
  port: number;
  sticky: boolean;
  /** HTTPS on --https-port: a certificate and key from the stack's secrets (names in `ServiceSpec.routeTls`), or one from ACME. */
  tls: { certificate: string; key: string } | { acme: true } | undefined;
  /** Plain HTTP requests for the host are redirected to HTTPS. */
  redirectHttp: boolean;
}

export type Strategy = 'rolling' | 'blue-green' | 'canary';

/**
 * Capstan's own settings from `x-capstan` (DESIGN §2), parsed at the boundary.
 * None of it reaches the container, so none of it is in the spec hash: a new
 * probe or route is taken up by the prober and the router, no replica is
 * recreated.
 */
export interface CapstanExtension {
  strategy: Strategy;
  progressDeadlineMs: number;
  probe: ProbeSpec | undefined;
  routes: readonly RouteSpec[];
  /** Set with `strategy: canary` (required then). */
  canary?: CanarySpec;
  /** Set with `strategy: blue-green` (defaults filled in). */
  blueGreen?: BlueGreenSpec;
  autoscale?: AutoscaleSpec;
  /** Left out when absent (it changes what Capstan commits, not what runs). */
  imageUpdate?: ImageUpdateSpec;
}

export interface ServiceSpec {
  /** The secrets `x-capstan.route.tls` names (certificate and key), by name: the router gets their content; not part of the spec hash (a new certificate rolls nothing). */
  routeTls?: Readonly<Record<string, MountedFile>>;
  image: string;
  command: string[] | undefined;
  entrypoint: string[] | undefined;
  /** Sorted by key when hashed; values after interpolation. */
  environment: Readonly<Record<string, string>>;
  ports: readonly PortSpec[];
  expose: readonly number[];
  volumes: readonly MountSpec[];
  /** Stack-local network names this service joins (at least the stack's `default`). */
  networks: readonly string[];
  labels: Readonly<Record<string, string>>;
  healthcheck: HealthcheckSpec | undefined;
  restart: RestartPolicy;
  user: string | undefined;
  workingDir: string | undefined;
  stopSignal: string | undefined;
  stopGracePeriodMs: number | undefined;
  dependsOn: Readonly<Record<string, DependsOnCondition>>;
  replicas: number;
  resources: ResourceLimits;
  deployLabels: Readonly<Record<string, string>>;
  capstan: CapstanExtension;
  /** `container_name`: the one replica's name instead of `<stack>-<service>-1`. */
  containerName: string | undefined;
  hostname: string | undefined;
  /** Capability names upper-cased without the `CAP_` prefix (`ALL` stays `ALL`). */
  capAdd: readonly string[];
  capDrop: readonly string[];
  sysctls: Readonly<Record<string, string>>;
  ulimits: Readonly<Record<string, UlimitSpec>>;
  /** Container path → mount options ('' for none), as Docker's HostConfig.Tmpfs. */
  tmpfs: Readonly<Record<string, string>>;
  readOnly: boolean;
  shmSizeBytes: number | undefined;
  init: boolean | undefined;
  tty: boolean;
  stdinOpen: boolean;
  /** "host:ip" entries, as Docker's ExtraHosts. */
  extraHosts: readonly string[];
  dns: readonly string[];
  logging: LoggingSpec | undefined;
  /** Recorded, not enforced: the engine runs the image's platform. */
  platform: string | undefined;
  runtime: string | undefined;
  securityOpt: readonly string[];
  devices: readonly DeviceSpec[];
  privileged: boolean;
  /** 'host' | 'none' | 'bridge'; when set, `networks` is empty (Compose forbids both). */
  networkMode: string | undefined;
  pid: string | undefined;
  ipc: string | undefined;
  /** Extra DNS aliases per stack-local network (the service name is always one). */
  networkAliases: Readonly<Record<string, readonly string[]>>;
  /** `global` runs one replica per node; the docker backend has one node, so `replicas` is 1. */
  mode: 'replicated' | 'global';
  update: UpdateConfig;
  rollback: UpdateConfig;
  /** Compose's `pull_policy`; left out for the default `missing`, and never part of the spec hash (it says when to pull, not what runs). */
  pullPolicy?: PullPolicy;
  /** Fixed addresses per stack-local network (`ipv4_address`, `ipv6_address`, `mac_address`); left out when none. */
  networkAddresses?: Readonly<Record<string, NetworkAddress>>;
  // The three below are left out (not empty) when a service uses none of them, so the spec
  // hash of every other service stays what earlier versions computed: upgrading Capstan must
  // not roll services whose manifests did not change.
  /** `build:`: `image` is then the tag Capstan builds, `<stack>-<service>:<content id>`. */
  build?: BuildSpec;
  secrets?: readonly MountedFile[];
  configs?: readonly MountedFile[];
  /** What only Swarm schedules by; left out when a service sets none of it, ignored by the docker backend (as by `docker compose up`). */
  swarm?: SwarmSettings;
}

/** `deploy` keys only the swarm backend uses. Each is left out when not set. */
export interface SwarmSettings {
  placement?: { constraints: readonly string[]; preferences: readonly string[]; maxReplicasPerNode: number | undefined };
  endpointMode?: 'vip' | 'dnsrr';
  restartPolicy?: { condition: 'none' | 'on-failure' | 'any'; delayMs: number | undefined; maxAttempts: number | undefined; windowMs: number | undefined };
  reservations?: { nanoCpus: number | undefined; memoryBytes: number | undefined };
}

/** `build:` resolved against the repository at the commit. */
export interface BuildSpec {
  /** Repository-relative directory sent to the engine as the build context ('.' = repository root). */
  context: string;
  /** Repository-relative path of the Dockerfile; undefined with `dockerfileInline`. */
  dockerfile: string | undefined;
  dockerfileInline: string | undefined;
  /** Build arguments after interpolation; a bare name without a value in the environment is left out, as in Compose. */
  args: Readonly<Record<string, string>>;
  target: string | undefined;
  labels: Readonly<Record<string, string>>;
  /** Git tree id of the context directory at the commit (with .dockerignore'd files: a change there rebuilds too). */
  contextId: string;
  /** Git blob id of the Dockerfile; undefined with `dockerfileInline`. */
  dockerfileId: string | undefined;
  /** `image:` given beside `build:`: an extra tag on the built image, as Compose names it. */
  alsoTag: string | undefined;
}

/** Where a secret's or config's content comes from. Never the content of a secret. */
export type FileSource =
  /** A file of the repository at the commit (repository-relative); `age` ones are decrypted at apply time. */
  | { kind: 'repo'; path: string; encryption: 'age' | undefined }
  /** A file on the operator's host, under --secrets-dir (absolute path). */
  | { kind: 'host'; path: string; encryption: 'age' | undefined }
  /** An operator environment variable allowed by --allow-env. */
  | { kind: 'env'; variable: string }
  /** A config's inline `content:` (configs are not secret; the text is in Git anyway). */
  | { kind: 'content'; content: string };

/** A secret or config as the service sees it: a file at `target`, written into the container before it starts. */
export interface MountedFile {
  /** The top-level `secrets:` / `configs:` key. */
  name: string;
  /** Absolute path in the container. */
  target: string;
  uid: number;
  gid: number;
  /** Permission bits, e.g. 0o444. */
  mode: number;
  source: FileSource;
  /** Identifies the content so a change rolls the service: a Git blob id, or a sha256 prefix. Never the content. */
  digest: string;
}

export interface NetworkAddress {
  ipv4: string | undefined;
  ipv6: string | undefined;
  mac: string | undefined;
}

/** A network's own address management (Compose `ipam:`), passed to the engine as given. */
export interface IpamSpec {
  driver: string | undefined;
  config: readonly { subnet: string | undefined; ipRange: string | undefined; gateway: string | undefined; auxAddresses: Readonly<Record<string, string>> }[];
  options: Readonly<Record<string, string>>;
}

export interface NetworkSpec {
  /** Name inside the stack (`default`, or a key of top-level `networks`). */
  name: string;
  /** Engine-level name: `<stack>_<name>`, as Compose names them; or the given `name:` for external networks. */
  engineName: string;
  external: boolean;
  driver: string | undefined;
  labels: Readonly<Record<string, string>>;
  /** `internal: true`: no route out of the network. Optional so older hand-built specs stay valid. */
  internal?: boolean;
  /** `ipam:`, when the manifest gives one. */
  ipam?: IpamSpec;
  enableIpv6?: boolean;
}

export interface VolumeSpec {
  name: string;
  /** `<stack>_<name>` unless external or given a `name:`. */
  engineName: string;
  external: boolean;
  driver: string | undefined;
  labels: Readonly<Record<string, string>>;
}

export interface StackSpec {
  /** Normalized project name (lowercase, [a-z0-9_-]). */
  name: string;
  /** Manifest path relative to the repository root, e.g. `stacks/web.yaml`. */
  file: string;
  services: Readonly<Record<string, ServiceSpec>>;
  networks: Readonly<Record<string, NetworkSpec>>;
  volumes: Readonly<Record<string, VolumeSpec>>;
}

/** A non-fatal remark about a manifest (e.g. `version` is obsolete). */
export interface ManifestWarning {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}
