// `capstan ps [STACK]`: this instance's replicas as the engine has them, like
// `docker compose ps`: state, health, uptime, the revision and image digest
// each runs. Health adds what only the daemon knows (a failing x-capstan.probe,
// a crash loop) when its API on --listen answers; without it, Docker's own
// healthcheck is all there is, and the output says so.

import { z } from 'zod';
import type { Settings } from '../config/settings.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedState } from '../observed/model.js';
import type { ReplicaDetails } from '../backends/docker/replica-details.js';
import { askDaemon } from './daemon-client.js';
import { liveHealth, type LiveHealth } from './status.js';
import { humanDuration, renderTable } from './table.js';

export interface PsRow {
  name: string;
  stack: string;
  service: string;
  state: string;
  exitCode: number | null;
  /** `healthy`/`unhealthy`/`starting` (Docker), `unready` (the daemon's probe), `crash-loop`, or null when nothing checks it. */
  health: string | null;
  /** Why `unready`: the check and its last output. */
  failing: { probe: string; output: string } | null;
  startedAt: string | null;
  uptimeSeconds: number | null;
  revision: string;
  image: string;
  imageId: string | null;
  repoDigest: string | null;
}

export function psRows(observed: ObservedState, details: ReadonlyMap<string, ReplicaDetails>, health: readonly LiveHealth[] | undefined, nowMs: number): PsRow[] {
  return observed.containers.map((c) => {
    const d = details.get(c.id);
    const h = health?.find((x) => x.stack === c.stack && x.service === c.service);
    const failing = h?.unhealthy.find((u) => u.replica === c.name);
    const looping = h?.crashLoop?.replica === c.name;
    const running = c.state === 'running';
    return {
      name: c.name,
      stack: c.stack,
      service: c.service,
      state: c.state,
      exitCode: running ? null : d?.exitCode ?? c.lastRun?.exitCode ?? null,
      health: looping ? 'crash-loop' : failing !== undefined && c.health === undefined ? 'unready' : c.health ?? null,
      failing: failing === undefined ? null : { probe: failing.probe, output: failing.output },
      startedAt: d?.startedAt === undefined ? null : new Date(d.startedAt).toISOString(),
      uptimeSeconds: running && d?.startedAt !== undefined ? Math.max(0, Math.floor((nowMs - d.startedAt) / 1000)) : null,
      revision: c.revision,
      image: c.image,
      imageId: d?.imageId ?? null,
      repoDigest: d?.repoDigest ?? null,
    };
  });
}

export function renderPs(rows: readonly PsRow[], source: string): string {
  if (rows.length === 0) return `No replicas; health from ${source}.\n`;
  const table = [['NAME', 'SERVICE', 'STATE', 'HEALTH', 'UPTIME', 'REVISION', 'IMAGE', 'DIGEST']];
  for (const r of rows) {
    const digest = r.repoDigest?.split('@')[1] ?? r.imageId ?? '-';
    table.push([
      r.name,
      `${r.stack}/${r.service}`,
      r.exitCode === null ? r.state : `${r.state} (${r.exitCode})`,
      r.health ?? '-',
      r.uptimeSeconds === null ? '-' : humanDuration(r.uptimeSeconds * 1000),
      r.revision.slice(0, 7) || '-',
      r.image,
      digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]*$/, '$1'),
    ]);
  }
  const notes = rows.filter((r) => r.failing !== null).map((r) => `${r.name}: ${r.failing?.probe ?? ''}${r.failing?.output ? `: ${r.failing.output}` : ''}`);
  return `${[...renderTable(table), ...(notes.length > 0 ? ['', ...notes] : []), '', `Health from ${source}.`].join('\n')}\n`;
}

const apiHealth = z.object({ instance: z.string(), health: z.array(liveHealth).default([]) });

export async function psCommand(settings: Settings, logger: Logger, opts: { format: string; stack: string | undefined }): Promise<number> {
  if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--format ${opts.format} is not supported`, 'use --format text or --format json');
  const [{ connectDocker }, { takeSnapshot }, { replicaDetails }] = await Promise.all([
    import('../backends/docker/connect.js'),
    import('../observed/snapshot.js'),
    import('../backends/docker/replica-details.js'),
  ]);
  const { docker } = await connectDocker();
  const [snapshot, daemon] = await Promise.all([takeSnapshot(docker, settings.instance), askDaemon(settings, '/api/status')]);
  const observed = opts.stack === undefined ? snapshot : { ...snapshot, containers: snapshot.containers.filter((c) => c.stack === opts.stack) };
  let health: readonly LiveHealth[] | undefined;
  let source = "Docker's healthchecks only (no daemon answered; x-capstan.probe results need `capstan run`)";
  if (daemon.ok) {
    const parsed = apiHealth.safeParse(daemon.body);
    if (parsed.success && parsed.data.instance === settings.instance) {
      health = parsed.data.health;
      source = `Docker and the daemon at http://${settings.listen}`;
    }
  } else if (daemon.why.includes('answered 401')) {
    logger.warn(daemon.why);
  }
  const rows = psRows(observed, await replicaDetails(docker, observed.containers), health, Date.now());
  process.stdout.write(opts.format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : renderPs(rows, source));
  return 0;
}
