import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appliedLines, printDaemonApply, quickApplyRequest } from '../../src/cli/daemon-apply.js';
import type { CapstanError} from '../../src/errors.js';
import { ApplyError, RolloutHeldError } from '../../src/errors.js';
import type { ApplyAnswer } from '../../src/server/apply-api.js';

const cwd = mkdtempSync(join(tmpdir(), 'capstan-quick-apply-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe("apply's quick path reads only what it knows", () => {
  it('takes the target from flags, then env, then the defaults; the token from env or the data dir', () => {
    const r = quickApplyRequest(['--repo', 'https://git.example/infra.git', '--instance=prod', '--listen', '127.0.0.1:9555'], { CAPSTAN_BRANCH: 'release', CAPSTAN_API_TOKEN: 't0k3n' }, cwd);
    expect(r).toEqual({ listen: '127.0.0.1:9555', token: 't0k3n', target: { instance: 'prod', repo: 'https://git.example/infra', branch: 'release', path: 'stacks', backend: 'docker' } });
    writeFileSync(join(cwd, 'api.token'), 'from-file\n', { mode: 0o600 });
    expect(quickApplyRequest(['--data-dir', cwd], { CAPSTAN_REPO: './infra' }, cwd)).toMatchObject({ listen: '127.0.0.1:9420', token: 'from-file', target: { repo: join(cwd, 'infra') } });
  });

  it('leaves to the full command line what it does not know: other flags, --force, --help, no repository, a settings file', () => {
    expect(quickApplyRequest(['--repo', 'r', '--force'], {}, cwd)).toBeUndefined();
    expect(quickApplyRequest(['--repo', 'r', '--policy', 'p.yaml'], {}, cwd)).toBeUndefined();
    expect(quickApplyRequest(['--help'], {}, cwd)).toBeUndefined();
    expect(quickApplyRequest(['--repo'], {}, cwd)).toBeUndefined();
    expect(quickApplyRequest([], {}, cwd)).toBeUndefined();
    writeFileSync(join(cwd, 'capstan.yaml'), 'listen: 127.0.0.1:9999\n');
    expect(quickApplyRequest(['--repo', 'r'], {}, cwd)).toBeUndefined();
    rmSync(join(cwd, 'capstan.yaml'));
  });
});

describe("the daemon's answer, printed as a one-shot apply prints", () => {
  const answer = (o: Partial<ApplyAnswer>): ApplyAnswer => ({ instance: 'prod', revision: 'abcdef0123', lines: [], applied: 0, failures: [], invalid: [], windowHeld: undefined, held: [], awaiting: [], unfinished: [], ...o });
  const print = (a: ApplyAnswer): { out: string[]; err: string[]; thrown: unknown } => {
    const out: string[] = [];
    const err: string[] = [];
    try {
      printDaemonApply(a, (l) => out.push(l), (l) => err.push(l));
      return { out, err, thrown: undefined };
    } catch (e) {
      return { out, err, thrown: e };
    }
  };

  it('plan lines and the summary; a canary waiting says who goes on', () => {
    expect(print(answer({})).out).toEqual(['No changes: instance prod matches abcdef0.']);
    const canary = print(answer({ lines: ['create web-app-3'], applied: 1, awaiting: [{ service: 'web/app', step: 'step 1/3 (10%)' }] }));
    expect(canary.out).toEqual([
      'create web-app-3',
      'Applied 1 operation; instance prod now runs abcdef0.',
      'web/app: canary step 1/3 (10%), waiting for `capstan promote web/app` (or `capstan abort`) to the daemon on --listen; the daemon goes on from this step once promoted.',
    ]);
    expect(appliedLines('prod', 'abcdef0123', [], 0, true, [], false)).toEqual([]);
  });

  it('a branch the daemon could not read, failures, invalid lines, a held revision and a daemon that stopped become the errors the command exits 1 with', () => {
    const failed = print(answer({ lines: ['create web-app-1'], failures: [{ stack: 'web', operation: 'create web-app-1', message: 'no such image', code: 'E_IMAGE_PULL', hint: 'log in' }], unfinished: ['api'] }));
    expect(failed.out).toEqual(['create web-app-1']);
    expect(failed.thrown).toBeInstanceOf(ApplyError);
    expect((failed.thrown as ApplyError).failures.map((f) => [f.operation, (f.error as CapstanError).code])).toEqual([['create web-app-1', 'E_IMAGE_PULL'], ['pass of api', 'E_APPLY']]);
    const invalid = print(answer({ invalid: ['stacks/web.yaml:3:5 services.app.bogus: unknown key'] }));
    expect(invalid.err).toEqual(['stacks/web.yaml:3:5 services.app.bogus: unknown key']);
    expect((invalid.thrown as CapstanError).code).toBe('E_MANIFESTS_INVALID');
    expect(print(answer({ held: ['web/app'] })).thrown).toBeInstanceOf(RolloutHeldError);
    expect((print(answer({ windowHeld: { changes: 2, windows: ['deny * * * * *'] } })).thrown as CapstanError).code).toBe('E_SYNC_WINDOW_CLOSED');
    const gitDown = print(answer({ error: { code: 'E_GIT_AUTH', message: 'Git at https://git.example refused the credentials', hint: 'check CAPSTAN_GIT_TOKEN' } }));
    expect(gitDown.out).toEqual([]);
    expect(gitDown.thrown).toMatchObject({ code: 'E_GIT_AUTH', message: 'Git at https://git.example refused the credentials', hint: 'check CAPSTAN_GIT_TOKEN' });
  });
});
