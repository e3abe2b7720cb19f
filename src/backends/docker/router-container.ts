// The router as a container (`--router container`): Capstan's own image on
// the host network, `<data-dir>/router` bind-mounted (table.json and the admin
// socket are shared with the operator), restart policy unless-stopped, owned
// by this instance's label and marked with the router role so no pass plans
// or prunes it. `ensureRouterContainer` brings the engine to that state and
// says what it did; a container with the same spec hash (image id, command,
// mounts, user) is left running, so operator restarts keep traffic flowing.

import type Docker from 'dockerode';
import type { ContainerCreateOptions, ContainerInfo } from 'dockerode';
import { createHash } from 'node:crypto';
import { LABEL, ROUTER_ROLE } from '../../desired/labels.js';
import { canonicalJson } from '../../desired/spec-hash.js';
import { RouterImageMissingError } from '../../errors.js';
import { formatAdminAddress, type TcpAdminAddress } from '../../router/address.js';
import { statusCodeOf, toCapstanError } from './errors.js';

/** Where the image keeps its state (its CAPSTAN_DATA_DIR); the host's <data-dir>/router is mounted below it. */
const DATA_DIR_IN_IMAGE = '/var/lib/capstan';
/** The router finishes in-flight work for --grace on SIGTERM; the engine waits a little longer before SIGKILL. */
const GRACE_MS = 10_000;

export interface RouterContainerSpec {
  instance: string;
  image: string;
  /** Absolute host path of <data-dir>/router. */
  hostDir: string;
  httpPort: number;
  admin: TcpAdminAddress | undefined;
  /** CAPSTAN_ROUTER_TOKEN, handed on when the operator has one. */
  token: string | undefined;
  /** `uid:gid` of the operator, so both can use the files in hostDir (the image's own user is node, uid 1000). */
  user: string | undefined;
  /** More `capstan router` flags (the edge limits that differ from the defaults). */
  args: readonly string[];
}

export interface EnsureResult {
  action: 'reused' | 'started' | 'created' | 'replaced';
  /** Why, in words, when something was done. */
  cause: string;
  name: string;
  id: string;
}

export function routerContainerName(instance: string): string {
  return `capstan-router-${instance}`;
}

/** The engine's create options, labelled with a hash of themselves and the image id. */
export function routerCreateOptions(spec: RouterContainerSpec, imageId: string): ContainerCreateOptions {
  const options: ContainerCreateOptions = {
    name: routerContainerName(spec.instance),
    Image: spec.image,
    Cmd: ['router', '--data-dir', DATA_DIR_IN_IMAGE, '--http-port', String(spec.httpPort), '--grace', String(GRACE_MS),
      ...(spec.admin === undefined ? [] : ['--admin', formatAdminAddress(spec.admin)]), ...spec.args],
    Env: spec.token === undefined ? [] : [`CAPSTAN_ROUTER_TOKEN=${spec.token}`],
    ...(spec.user === undefined ? {} : { User: spec.user }),
    Labels: { [LABEL.instance]: spec.instance, [LABEL.role]: ROUTER_ROLE },
    StopTimeout: Math.ceil(GRACE_MS / 1000) + 5,
    HostConfig: {
      NetworkMode: 'host',
      Binds: [`${spec.hostDir}:${DATA_DIR_IN_IMAGE}/router`],
      RestartPolicy: { Name: 'unless-stopped' },
      // It faces the network: nothing to write but its state dir, no privilege beyond binding low ports.
      ReadonlyRootfs: true,
      // A tmpfs over the image's VOLUME: otherwise every router container would leave an anonymous volume behind.
      Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=16m', [DATA_DIR_IN_IMAGE]: 'rw,noexec,nosuid,size=64k' },
      CapDrop: ['ALL'],
      CapAdd: ['NET_BIND_SERVICE'],
      SecurityOpt: ['no-new-privileges'],
    },
  };
  const hash = createHash('sha256').update(canonicalJson({ options, imageId })).digest('hex');
  return { ...options, Labels: { ...options.Labels, [LABEL.specHash]: hash } };
}

/** Creates, starts, replaces or keeps the router container so that one runs `spec`. */
export async function ensureRouterContainer(docker: Docker, endpoint: string, spec: RouterContainerSpec): Promise<EnsureResult> {
  const call = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toCapstanError(err, operation, endpoint);
    }
  };
  let imageId: string;
  try {
    imageId = (await docker.getImage(spec.image).inspect()).Id;
  } catch (err) {
    if (statusCodeOf(err) === 404) throw new RouterImageMissingError(spec.image, err);
    throw toCapstanError(err, `inspect image ${spec.image}`, endpoint);
  }
  const options = routerCreateOptions(spec, imageId);
  const hash = options.Labels![LABEL.specHash]!;
  const name = options.name!;
  const found = await call('list the router container', () => docker.listContainers({
    all: true,
    filters: { label: [`${LABEL.instance}=${spec.instance}`, `${LABEL.role}=${ROUTER_ROLE}`] },
  }));
  const keep = found.find((c) => c.Labels[LABEL.specHash] === hash);
  let cause = '';
  for (const old of found) {
    if (old === keep) continue;
    cause = old.ImageID === imageId ? 'its settings changed' : `image ${old.Image} (${short(old.ImageID)}) → ${spec.image} (${short(imageId)})`;
    // SIGTERM first: the old router finishes its in-flight requests before it goes.
    await docker.getContainer(old.Id).stop({ t: Math.ceil(GRACE_MS / 1000) + 5 }).catch((err: unknown) => {
      // 304: it was not running.
      if (statusCodeOf(err) !== 304) throw toCapstanError(err, `stop ${nameOf(old)}`, endpoint);
    });
    await call(`remove ${nameOf(old)}`, () => docker.getContainer(old.Id).remove({ force: true, v: true }));
  }
  if (keep !== undefined) {
    if (keep.State === 'running' || keep.State === 'restarting') return { action: 'reused', cause: '', name, id: keep.Id };
    await call(`start ${name}`, () => docker.getContainer(keep.Id).start());
    return { action: 'started', cause: `it was ${keep.State}`, name, id: keep.Id };
  }
  const created = await call(`create ${name}`, () => docker.createContainer(options));
  await call(`start ${name}`, () => created.start());
  return found.length > 0 ? { action: 'replaced', cause, name, id: created.id } : { action: 'created', cause: 'none was running', name, id: created.id };
}

function nameOf(c: ContainerInfo): string {
  return (c.Names[0] ?? c.Id).replace(/^\//, '');
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
