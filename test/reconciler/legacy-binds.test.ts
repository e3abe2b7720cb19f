// Data written into per-revision checkouts before data directories had a home
// is moved to <data-dir>/binds/<stack>/<path> once, never overwriting what is
// there, and only for sources Git now calls data directories.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDesired } from '../../src/desired/build.js';
import { LABEL } from '../../src/desired/labels.js';
import { encodeSpecLabel } from '../../src/desired/spec-label.js';
import { createLogger } from '../../src/logging/logger.js';
import type { ObservedContainer } from '../../src/observed/model.js';
import { legacyMoves, migrateLegacyBinds } from '../../src/reconciler/legacy-binds.js';
import { load } from '../manifests/helpers.js';

const REV = 'c'.repeat(40);
const r = load({ 'stacks/web.yaml': 'services:\n  db:\n    image: x\n    volumes: ["./data:/data", "./conf:/conf:ro"]\n', 'stacks/conf/a.ini': 'a\n' });
const desired = buildDesired('d'.repeat(40), r.stacks);
const spec = desired.stacks[0]?.services[0]?.spec;
if (spec === undefined) throw new Error('no spec');
// What a container made by an earlier Capstan carries: relative binds without the tracked/data split.
const legacySpec = { ...spec, volumes: spec.volumes.map((m) => ({ type: m.type, source: m.source, target: m.target, readOnly: m.readOnly, relative: m.relative })) };
const container = (name: string, labels: Record<string, string>): ObservedContainer => ({
  id: name, name, stack: 'web', service: 'db', number: 1, specHash: 'h', revision: REV, state: 'running', health: undefined, labels: { [LABEL.revision]: REV, ...labels }, image: 'x', ip: undefined, lastRun: undefined, healthcheck: undefined,
});
const root = mkdtempSync(join(tmpdir(), 'capstan-legacy-'));
const dirs = { checkoutsDir: join(root, 'checkouts'), bindsDir: join(root, 'binds') };
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('legacy bind migration', () => {
  it('moves only data directories of containers made before the split', () => {
    const observed = { instance: 'i', networks: [], volumes: [], containers: [container('web-db-1', { [LABEL.spec]: encodeSpecLabel(legacySpec) }), container('web-db-2', { [LABEL.spec]: encodeSpecLabel(spec) })] };
    expect(legacyMoves(observed, desired, dirs)).toEqual([
      { stack: 'web', service: 'db', container: 'web-db-1', path: 'stacks/data', from: join(dirs.checkoutsDir, REV, 'stacks/data'), to: join(dirs.bindsDir, 'web', 'stacks/data') },
    ]);
  });

  it('moves the directory once and never overwrites data already in place', async () => {
    const observed = { instance: 'i', networks: [], volumes: [], containers: [container('web-db-1', { [LABEL.spec]: encodeSpecLabel(legacySpec) })] };
    const from = join(dirs.checkoutsDir, REV, 'stacks/data');
    mkdirSync(from, { recursive: true });
    writeFileSync(join(from, 'db.sqlite'), 'rows');
    const logger = createLogger({ level: 'silent', format: 'json' });
    await migrateLegacyBinds(observed, desired, dirs, logger);
    expect(readFileSync(join(dirs.bindsDir, 'web/stacks/data/db.sqlite'), 'utf8')).toBe('rows');
    mkdirSync(from, { recursive: true });
    writeFileSync(join(from, 'db.sqlite'), 'older');
    await migrateLegacyBinds(observed, desired, dirs, logger);
    expect(readFileSync(join(dirs.bindsDir, 'web/stacks/data/db.sqlite'), 'utf8')).toBe('rows');
    expect(readFileSync(join(from, 'db.sqlite'), 'utf8')).toBe('older');
  });
});
