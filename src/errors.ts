// The error catalogue. Every failure a user can meet is a CapstanError with a
// stable `code` and structured `data`; only src/main.ts turns them into words
// on stderr and exit codes. Messages never carry credentials.

export type ErrorCode =
  | 'E_VALIDATION'
  | 'E_MANIFESTS_INVALID'
  | 'E_CONFIG'
  | 'E_USAGE'
  | 'E_GIT_AUTH'
  | 'E_GIT_FETCH'
  | 'E_GIT_REF_NOT_FOUND'
  | 'E_DOCKER_UNAVAILABLE'
  | 'E_DOCKER_API'
  | 'E_NAME_CONFLICT'
  | 'E_APPLY'
  | 'E_GIT_PUSH'
  | 'E_ROLLBACK'
  | 'E_SYNC_WINDOW_CLOSED'
  | 'E_ROUTER_LISTEN'
  | 'E_ROUTER_UNAVAILABLE'
  | 'E_ROUTER_REJECTED'
  | 'E_ROUTER_IMAGE'

  | 'E_DEPENDENCY_TIMEOUT'
  | 'E_PORT_SHARED'
  | 'E_ROLLOUT_FAILED'
  | 'E_ROLLOUT_HELD'
  | 'E_ROLLOUT_COMMAND'
  | 'E_BUILD'
  | 'E_SECRET'
  | 'E_NOT_OWNED'
  | 'E_BIND_SOURCE'
  | 'E_SUBNET_POOL_EXHAUSTED'
  | 'E_LEADERSHIP'
  | 'E_IMAGE_PULL'
  | 'E_IMAGE_UPDATE'
  | 'E_SWARM_UNSUPPORTED'
  | 'E_SWARM_NOT_MANAGER'
  | 'E_DATA_DIR_WRITE';

export class CapstanError extends Error {
  readonly code: ErrorCode;
  readonly data: Readonly<Record<string, unknown>>;
  /** What the user can do about it, one sentence. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { data?: Record<string, unknown>; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.data = opts.data ?? {};
    this.hint = opts.hint;
  }
}

/** Where in a manifest something is wrong. `file` is relative to the repository root (or to the validated directory). */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** One problem in one manifest. Collected, never thrown alone: a commit reports all of its problems at once. */
export class ValidationError extends CapstanError {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted key path, e.g. `services.api.ports[0]`. Empty for file-level problems. */
  readonly path: string;

  constructor(pos: SourcePosition, path: string, message: string, hint?: string) {
    super('E_VALIDATION', message, { data: { ...pos, path }, ...(hint === undefined ? {} : { hint }) });
    this.file = pos.file;
    this.line = pos.line;
    this.col = pos.col;
    this.path = path;
  }

  /** `stacks/shop.yaml:12:5 services.api.imagee: unknown key (did you mean "image"?)` */
  format(): string {
    const where = `${this.file}:${this.line}:${this.col}`;
    const key = this.path === '' ? '' : ` ${this.path}:`;
    const hint = this.hint === undefined ? '' : ` (${this.hint})`;
    return `${where}${key} ${this.message}${hint}`;
  }
}

/** A whole commit (or directory) failed validation; carries every problem found. */
export class ManifestsInvalidError extends CapstanError {
  readonly errors: readonly ValidationError[];
  constructor(errors: readonly ValidationError[], revision?: string) {
    super('E_MANIFESTS_INVALID', `${errors.length} problem${errors.length === 1 ? '' : 's'} in manifests${revision ? ` at ${revision.slice(0, 7)}` : ''}`, {
      data: { revision, count: errors.length },
      hint: 'fix the lines above and commit again; what runs now keeps running',
    });
    this.errors = errors;
  }
}

export class ConfigError extends CapstanError {
  constructor(message: string, hint?: string) {
    super('E_CONFIG', message, hint === undefined ? {} : { hint });
  }
}

export class UsageError extends CapstanError {
  constructor(message: string, hint?: string) {
    super('E_USAGE', message, hint === undefined ? {} : { hint });
  }
}

export class GitAuthError extends CapstanError {
  constructor(repo: string, cause?: unknown) {
    super('E_GIT_AUTH', `authentication to ${repo} failed`, {
      data: { repo },
      hint: 'set CAPSTAN_GIT_TOKEN, or CAPSTAN_GIT_USERNAME and CAPSTAN_GIT_PASSWORD, to credentials that can read the repository',
      cause,
    });
  }
}

export class GitFetchError extends CapstanError {
  constructor(repo: string, reason: string, cause?: unknown) {
    super('E_GIT_FETCH', `cannot fetch ${repo}: ${reason}`, {
      data: { repo, reason },
      hint: 'check --repo and that the server answers; what runs now keeps running',
      cause,
    });
  }
}

export class GitRefNotFoundError extends CapstanError {
  constructor(repo: string, ref: string) {
    super('E_GIT_REF_NOT_FOUND', `${ref} not found in ${repo}`, {
      data: { repo, ref },
      hint: 'check --branch (or --ref): the branch, tag or commit must exist in the repository',
    });
  }
}

export class DockerUnavailableError extends CapstanError {
  constructor(endpoint: string, cause?: unknown) {
    super('E_DOCKER_UNAVAILABLE', `Docker engine at ${endpoint} does not answer`, {
      data: { endpoint },
      hint: 'start dockerd (or set DOCKER_HOST) and make sure this user may use its socket',
      cause,
    });
  }
}

export class DockerApiError extends CapstanError {
  constructor(operation: string, message: string, cause?: unknown) {
    super('E_DOCKER_API', `${operation}: ${message}`, { data: { operation }, cause });
  }
}

/**
 * A container name Capstan wants is held by an object that is not this
 * service's replica: one it does not own, or one whose labels name another
 * instance, stack or service (`owner` says whose). Never resolved by deleting.
 */
export class NameConflictError extends CapstanError {
  constructor(name: string, holderId: string, owner?: string) {
    super('E_NAME_CONFLICT', `container name ${name} is taken by ${holderId.slice(0, 12)}, ${owner === undefined ? 'which Capstan does not own' : `which belongs to ${owner}`}`, {
      data: { name, holderId },
      hint: owner === undefined
        ? `rename or remove that container yourself (docker rm -f ${name}); Capstan never deletes objects without its labels`
        : 'give one of the two services another name (container_name, or rename the stack or service); Capstan removes a container only when its own labels name this stack and service',
    });
  }
}

/** A network or volume of the name a stack needs exists but is not this instance's: it is never joined or mounted implicitly. */
export class NotOwnedError extends CapstanError {
  constructor(kind: 'network' | 'volume', name: string, owner: string) {
    super('E_NOT_OWNED', `${kind} ${name} exists and belongs to ${owner}, not to this instance`, {
      data: { kind, name, owner },
      hint: `to share it on purpose, declare it \`external: true\` (allowed by policy for volumes); otherwise give the ${kind} another \`name:\` or remove the other one yourself`,
    });
  }
}

/** A bind source on the host is not what the manifest names: a symbolic link appeared in its path (a container could have planted it). */
export class BindSourceError extends CapstanError {
  constructor(stack: string, service: string, path: string, reason: string) {
    super('E_BIND_SOURCE', `${stack}/${service}: bind source ${path} ${reason}`, {
      data: { stack, service, path },
      hint: 'the container is not created; remove the link (a container that could write there may have planted it) and Capstan creates the directory again',
    });
  }
}

/** One or more operations of a pass failed; the others were applied. */
export class ApplyError extends CapstanError {
  readonly failures: readonly { operation: string; error: Error; stack?: string }[];
  /** The revision the pass was applying, when known (status and auto-revert need it). */
  readonly revision: string | undefined;
  constructor(failures: readonly { operation: string; error: Error; stack?: string }[], revision?: string) {
    super('E_APPLY', `${failures.length} operation${failures.length === 1 ? '' : 's'} failed`, { data: { count: failures.length, revision } });
    this.failures = failures;
    this.revision = revision;
  }
}

/** A commit could not be pushed (status, rollback, auto-revert). Never force-pushed. */
export class GitPushError extends CapstanError {
  constructor(repo: string, reason: string, cause?: unknown) {
    super('E_GIT_PUSH', `cannot push to ${repo}: ${reason}`, {
      data: { repo, reason },
      hint: 'check that the credentials may push to the branch and that no branch protection refuses it',
      cause,
    });
  }
}

/** `capstan rollback` found nothing it can safely commit. */
export class RollbackError extends CapstanError {
  constructor(message: string, hint: string) {
    super('E_ROLLBACK', message, { hint });
  }
}

/** Changes are waiting for a sync window to open; `apply --force` overrides. */
export class SyncWindowClosedError extends CapstanError {
  constructor(revision: string, changes: number, windows: readonly string[]) {
    super('E_SYNC_WINDOW_CLOSED', `a sync window is closed: ${changes} change${changes === 1 ? '' : 's'} for ${revision.slice(0, 7)} wait`, {
      data: { revision, changes, windows },
      hint: `windows: ${windows.join('; ')}; run \`capstan apply --force\` to apply now`,
    });
  }
}

/** The router could not bind a listener a routing table asks for; the previous table keeps serving. */
export class RouterListenError extends CapstanError {
  constructor(address: string, cause?: unknown) {
    super('E_ROUTER_LISTEN', `router cannot listen on ${address}${cause instanceof Error ? `: ${cause.message}` : ''}`, {
      data: { address },
      hint: 'another process holds it: stop that process, or use another port (or another --data-dir for the admin socket)',
      cause,
    });
  }
}

/** The router's admin API (its unix socket or loopback port) does not answer. */
export class RouterUnavailableError extends CapstanError {
  constructor(address: string, cause?: unknown) {
    super('E_ROUTER_UNAVAILABLE', `router admin API ${address} does not answer${cause instanceof Error ? `: ${cause.message}` : ''}`, {
      data: { address },
      hint: 'start it with `capstan router --data-dir DIR` (capstan run starts it unless --router none)',
      cause,
    });
  }
}

/** The router refused a request (a bad table, a port it cannot bind, a wrong admin token). */
export class RouterRejectedError extends CapstanError {
  constructor(status: number, message: string) {
    super('E_ROUTER_REJECTED', `router refused: ${message}`, {
      data: { status },
      ...(status === 401 ? { hint: 'give operator and router the same CAPSTAN_ROUTER_TOKEN, or let the operator read <data-dir>/router/admin.token' } : {}),
    });
  }
}

/** `--router container` names an image the engine does not have; nothing is started. */
export class RouterImageMissingError extends CapstanError {
  constructor(image: string, cause?: unknown) {
    super('E_ROUTER_IMAGE', `the router image ${image} is not on the engine`, {
      data: { image },
      hint: `build it from a checkout of Capstan: \`docker build -t ${image} .\` (add --build-arg BASE=... without a registry), or pass --router-image / CAPSTAN_ROUTER_IMAGE`,
      cause,
    });
  }
}

/** Without the router, replicas would each bind the same fixed host port; nothing of the service is created. */
export class PortSharedError extends CapstanError {
  constructor(stack: string, service: string, port: number, replicas: number) {
    super('E_PORT_SHARED', `${stack}/${service}: host port ${port} cannot be published by ${replicas} replicas without the router`, {
      data: { stack, service, port, replicas },
      hint: 'run with --router process (the router balances the port over the replicas), set `deploy.replicas: 1`, or drop the host port (e.g. "80" instead of "8080:80")',
    });
  }
}

/** A depends_on condition (service_healthy, service_completed_successfully) was not met in time; the dependent was not started. */
export class DependencyTimeoutError extends CapstanError {
  constructor(stack: string, service: string, dependency: string, condition: string, timeoutMs: number, seen: string) {
    super('E_DEPENDENCY_TIMEOUT', `${stack}/${service} waits for ${dependency} to be ${condition === 'service_healthy' ? 'healthy' : 'completed successfully'}, which did not happen within ${timeoutMs / 1000} s (${seen})`, {
      data: { stack, service, dependency, condition, timeoutMs },
      hint: condition === 'service_healthy'
        ? `check ${dependency}'s healthcheck (docker inspect --format '{{json .State.Health}}' ${stack}-${dependency}-1); ${service} is created on a later pass once it passes`
        : `check why ${dependency} did not exit 0 (docker logs ${stack}-${dependency}-1)`,
    });
  }
}

/** How a failed rolling update of one service ended (DESIGN §4, deploy.update_config.failure_action). */
export type RolloutEnd = 'rolled-back' | 'paused' | 'rollback-failed';

/**
 * New replicas of a service failed within the update's progress deadline or
 * monitor window more often than max_failure_ratio allows. `end` says what
 * Capstan did about it; what ran before keeps serving unless it is
 * `rollback-failed`.
 */
export class RolloutFailedError extends CapstanError {
  constructor(
    readonly stackName: string, readonly service: string, readonly revision: string, readonly end: RolloutEnd, readonly reason: string,
    /** How the release was delivered: a failed canary or blue-green switch reads as such in status (reason CanaryFailed, BlueGreenFailed). */
    readonly strategy: 'rolling' | 'canary' | 'blue-green' = 'rolling',
  ) {
    const stack = stackName;
    const what = strategy === 'canary' && end === 'rolled-back' ? 'aborted: all traffic is back on the stable version'
      : strategy === 'blue-green' && end === 'rolled-back' ? 'the live set keeps serving'
      : end === 'rolled-back' ? 'rolled back to the previous spec'
      : end === 'paused' ? 'paused (failure_action: pause)'
      : 'and rolling back failed too';
    const kind = strategy === 'rolling' ? 'rolling update' : `${strategy} release`;
    super('E_ROLLOUT_FAILED', `${kind} of ${stack}/${service} to ${revision.slice(0, 7)} failed: ${reason}; ${what}`, {
      data: { stack, service, revision, end, reason, strategy },
      hint: end === 'rollback-failed'
        ? 'the service runs a mix of old and new replicas; fix the manifest and push a new commit'
        : `${revision.slice(0, 7)} is not retried: push a fix (or git revert it), or run \`capstan apply --force\` to try it again`,
    });
  }
}

/** The newest revision's rollout failed earlier and is held back; nothing was retried. */
export class RolloutHeldError extends CapstanError {
  constructor(revision: string, services: readonly string[]) {
    super('E_ROLLOUT_HELD', `${revision.slice(0, 7)} is held: its rolling update of ${services.join(', ')} failed before and was not retried`, {
      data: { revision, services },
      hint: 'push a new commit (a fix, or git revert), or run `capstan apply --force` to try this revision again',
    });
  }
}

/** `capstan promote|abort` could not act: no canary step paused there, no daemon to ask, or the lane did not answer. */
export class RolloutCommandError extends CapstanError {
  constructor(stack: string, service: string, command: string, reason: string) {
    super('E_ROLLOUT_COMMAND', `cannot ${command} ${stack}/${service}: ${reason}`, {
      data: { stack, service, command, reason },
      hint: '`capstan status` shows the rollouts in progress and their steps; promote and abort act on a canary release the daemon (`capstan run`) is stepping',
    });
  }
}

/** An image of a service's `build:` could not be built; that service keeps running its previous version. */
export class BuildError extends CapstanError {
  constructor(stack: string, service: string, image: string, reason: string, lastLines: readonly string[] = []) {
    super('E_BUILD', `${stack}/${service}: building image ${image} failed: ${reason}`, {
      data: { stack, service, image, lastLines },
      hint: `the running version of ${service} stays; fix the Dockerfile or the context and commit again${lastLines.length > 0 ? ` (last build output: ${lastLines.join(' | ')})` : ''}`,
    });
  }
}

/** A secret or config could not be read or decrypted; the service using it is not (re)created. The message never holds the content. */
export class SecretError extends CapstanError {
  constructor(file: string, message: string, hint: string) {
    super('E_SECRET', `${file}: ${message}`, { data: { file }, hint });
  }
}

/** A stack uses what the swarm backend cannot run; nothing was changed. */
export class SwarmUnsupportedError extends CapstanError {
  constructor(readonly problems: readonly { stack: string; service: string; key: string; why: string }[]) {
    const lines = problems.map((p) => `${p.stack}/${p.service}: ${p.key}: ${p.why}`);
    super('E_SWARM_UNSUPPORTED', `${problems.length} setting${problems.length === 1 ? '' : 's'} the swarm backend cannot run: ${lines.join('; ')}`, {
      data: { problems: problems.map((p) => ({ ...p })) },
      hint: 'change the stack as each message says, or deploy it with --backend docker',
    });
  }
}

/** Every subnet of Capstan's pool for stack networks is taken (by its own networks, anyone else's, or the host's routes). */
export class SubnetPoolExhaustedError extends CapstanError {
  constructor(network: string, pool: string, size: number, subnets: number) {
    super('E_SUBNET_POOL_EXHAUSTED', `cannot create network ${network}: the subnet pool ${pool} is exhausted (all ${subnets} /${size} subnets overlap networks of the engine or routes of the host)`, {
      data: { network, pool, size, subnets },
      hint: 'widen --subnet-pool (CAPSTAN_SUBNET_POOL) or make --subnet-size smaller subnets, remove networks nobody uses (docker network ls), or give the stack\'s network its own ipam',
    });
  }
}

/** `--backend swarm` needs the engine it talks to to be a manager of an active swarm. */
export class SwarmNotManagerError extends CapstanError {
  constructor(endpoint: string, state: string) {
    super('E_SWARM_NOT_MANAGER', `the engine at ${endpoint} is not a swarm manager (swarm state: ${state})`, {
      data: { endpoint, state },
      hint: 'point DOCKER_HOST at a manager node (`docker node ls` works there), or run `docker swarm init` first',
    });
  }
}

/** One leader per instance (DESIGN §4): the lock could not be taken, or was lost while leading. */
export class LeadershipError extends CapstanError {
  constructor(message: string, hint: string) {
    super('E_LEADERSHIP', message, { hint });
  }
}

/** Why a pull failed, as a user acts on it. */
export type PullFailure = 'not-found' | 'unauthorized' | 'unreachable' | 'timeout' | 'never' | 'other';

const PULL_HINTS: Record<PullFailure, (registry: string) => string> = {
  'not-found': () => 'check the image name and tag in the manifest (and that it was pushed)',
  unauthorized: (registry) => `give the operator credentials for ${registry}: \`docker login ${registry}\` as the user Capstan runs as, or set DOCKER_CONFIG to a directory whose config.json has them (auths, credsStore or credHelpers)`,
  unreachable: (registry) => `check that ${registry} answers from the operator's host; Capstan retries with backoff`,
  timeout: (registry) => `${registry} is slow or stalled; Capstan retries with backoff`,
  never: () => 'pull it yourself (docker pull), or change pull_policy',
  other: () => 'Capstan retries with backoff',
};

/**
 * An image could not be pulled: the services using it are not (re)created
 * and what runs keeps running. Names the image, the registry and the reason;
 * never a credential.
 */
export class ImagePullError extends CapstanError {
  readonly image: string;
  readonly registry: string;
  readonly reason: string;
  readonly failure: PullFailure;
  constructor(image: string, registry: string, failure: PullFailure, reason: string, where?: { stack: string; service: string }) {
    const prefix = where === undefined ? '' : `${where.stack}/${where.service}: `;
    super('E_IMAGE_PULL', `${prefix}cannot pull image ${image} from ${registry}: ${reason}`, {
      data: { image, registry, failure, reason, ...(where ?? {}) },
      hint: `${PULL_HINTS[failure](registry)}; what runs keeps running`,
    });
    this.image = image;
    this.registry = registry;
    this.reason = reason;
    this.failure = failure;
  }

  /** The same failure, said of one service that needs the image. */
  forService(stack: string, service: string): ImagePullError {
    return new ImagePullError(this.image, this.registry, this.failure, this.reason, { stack, service });
  }
}

/** x-capstan.image_update could not look at tags or write the new one into Git. The scan is retried at its next interval. */
export class ImageUpdateError extends CapstanError {
  constructor(stack: string, service: string, message: string, hint: string) {
    super('E_IMAGE_UPDATE', `${stack}/${service}: ${message}`, { data: { stack, service }, hint });
  }
}

/** Why the data dir refused a write, by errno, and what fixes it. */
const DATA_DIR_REFUSALS: Readonly<Record<string, { why: string; hint: string }>> = {
  ENOSPC: { why: 'no space left on its filesystem', hint: 'free space on the data dir\'s filesystem (or point --data-dir at a larger one); Capstan retries by itself, and what runs keeps running' },
  EDQUOT: { why: 'the disk quota is used up', hint: 'raise the quota of the operator\'s user or free space in the data dir; Capstan retries by itself, and what runs keeps running' },
  EROFS: { why: 'its filesystem is read-only', hint: 'mount the data dir read-write (or point --data-dir elsewhere); what runs keeps running' },
  EACCES: { why: 'permission denied', hint: 'let the operator\'s user write the data dir (chown or chmod it, or point --data-dir elsewhere); what runs keeps running' },
  EPERM: { why: 'operation not permitted', hint: 'let the operator\'s user write the data dir (chown or chmod it, or point --data-dir elsewhere); what runs keeps running' },
};

/**
 * The data dir refused a write (a rollout record, a checkout, the Git cache,
 * the status repository): the disk full, read-only or not ours. What was
 * being written is left as it was (writes go to a temp name, then are renamed).
 */
export class DataDirWriteError extends CapstanError {
  constructor(path: string, errno: string, cause?: unknown) {
    const refusal = DATA_DIR_REFUSALS[errno];
    super('E_DATA_DIR_WRITE', `cannot write ${path}: ${refusal?.why ?? errno}`, { data: { path, errno }, hint: refusal?.hint, cause });
  }

  /** `err` as a DataDirWriteError naming `path` when the filesystem refused the write; any other error as it is. */
  static from(err: unknown, path: string): unknown {
    const errno = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    return typeof errno === 'string' && errno in DATA_DIR_REFUSALS ? new DataDirWriteError(path, errno, err) : err;
  }
}
