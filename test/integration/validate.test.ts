// `capstan validate` needs no Docker: it reads a directory (or the repository
// at a ref) and reports every problem with file:line:col, exit 1; 0 when valid.

import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { runGit } from '../helpers/git.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('capstan validate', () => {
  it('accepts the example repository', async () => {
    const result = await capstan(['validate', 'manifests-example/stacks']);
    expect(result).toMatchObject({ code: 0, stdout: 'manifests-example/stacks: 4 stacks, 8 services, valid.\n' });
  });

  it('reports every problem of every file at once, with positions and hints', async () => {
    mkdirSync(join(dir, 'stacks/db'), { recursive: true });
    writeFileSync(join(dir, 'stacks/web.yaml'), 'services:\n  api:\n    image: x\n    restart: sometimes\n    portz: ["80"]\n');
    writeFileSync(join(dir, 'stacks/db/compose.yaml'), 'services:\n  db:\n    build: .\n');
    const result = await capstan(['validate', join(dir, 'stacks')]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe('db/compose.yaml:3:12 services.db.build: Dockerfile not found at the commit (looked for db/Dockerfile) (add a Dockerfile to the context, or name it with `dockerfile:`)');
    expect(result.stderr).toContain('web.yaml:5:5 services.api.portz: unknown key (did you mean "ports"?)');
    expect(result.stderr).toMatch(/web\.yaml:4:14 services\.api\.restart: /);
    expect(result.stderr).toContain('capstan: 3 problems in manifests');
  });

  it('applies the baseline policy and the exceptions of the nearest capstan.yaml above the directory', async () => {
    const repo = join(dir, 'policy-repo');
    mkdirSync(join(repo, '.git'), { recursive: true });
    mkdirSync(join(repo, 'stacks'), { recursive: true });
    writeFileSync(join(repo, 'stacks/vpn.yaml'), 'services:\n  wg:\n    image: x\n    cap_add: [NET_ADMIN]\n    network_mode: host\n');
    const blocked = await capstan(['validate', join(repo, 'stacks')]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(
      'vpn.yaml:4:15 services.wg.cap_add[0]: breaks policy rule cap:NET_ADMIN: capability NET_ADMIN is beyond Docker\'s default set (to allow it, add to capstan.yaml: policy: { stacks: { vpn: { allow: ["cap:NET_ADMIN"] } } })',
    );
    expect(blocked.stderr).toContain('vpn.yaml:5:5 services.wg.network_mode: breaks policy rule host_network');

    writeFileSync(join(repo, 'capstan.yaml'), 'policy: { stacks: { vpn: { allow: ["cap:NET_ADMIN", host_network] } } }\n');
    expect(await capstan(['validate', join(repo, 'stacks')])).toMatchObject({ code: 0 });

    writeFileSync(join(repo, 'capstan.yaml'), 'policy: { stacks: { vpn: { allow: [host_net] } } }\n');
    const typo = await capstan(['validate', join(repo, 'stacks')]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('../capstan.yaml:1:36 policy.stacks.vpn.allow[0]: unknown policy rule "host_net"');
  });

  it("with --policy, counts only what the operator's file delegates of capstan.yaml, and refuses a broken policy file", async () => {
    const repo = join(dir, 'operator-repo');
    mkdirSync(join(repo, '.git'), { recursive: true });
    mkdirSync(join(repo, 'stacks'), { recursive: true });
    writeFileSync(join(repo, 'stacks/vpn.yaml'), 'services:\n  wg:\n    image: x\n    cap_add: [NET_ADMIN]\n    network_mode: host\n');
    writeFileSync(join(repo, 'capstan.yaml'), 'policy: { stacks: { vpn: { allow: ["cap:NET_ADMIN", host_network] } } }\n');
    const policy = join(dir, 'operator-policy.yaml');
    writeFileSync(policy, 'delegate:\n  vpn: ["cap:NET_ADMIN"]\n');
    const refused = await capstan(['validate', '--policy', policy, join(repo, 'stacks')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`../capstan.yaml:1:53 policy.stacks.vpn.allow[1]: stack vpn cannot grant itself host_network: the operator's policy ${policy} does not delegate it`);
    expect(refused.stderr).toContain(`vpn.yaml:5:5 services.wg.network_mode: breaks policy rule host_network: \`network_mode: host\` shares the host's network stack (to allow it, add to the operator's policy ${policy}: stacks: { vpn: { allow: [host_network] } })`);

    writeFileSync(policy, 'stacks:\n  vpn: { allow: [host_network] }\ndelegate:\n  vpn: ["cap:NET_ADMIN"]\n');
    writeFileSync(join(repo, 'capstan.yaml'), 'policy: { stacks: { vpn: { allow: ["cap:NET_ADMIN"] } } }\n');
    expect(await capstan(['validate', join(repo, 'stacks')], { CAPSTAN_POLICY: policy })).toMatchObject({ code: 0 });

    writeFileSync(policy, 'stacks:\n  vpn: { allow: [host_netwrk] }\n');
    const broken = await capstan(['validate', '--policy', policy, join(repo, 'stacks')]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`--policy ${policy} is invalid:\n  ${policy}:2:18 stacks.vpn.allow[0]: unknown policy rule "host_netwrk"`);
  });

  it('refuses a relative bind through a symbolic link of the directory', async () => {
    const stacks = join(dir, 'link-repo', 'stacks');
    mkdirSync(stacks, { recursive: true });
    symlinkSync('/etc', join(stacks, 'conf'));
    writeFileSync(join(stacks, 'web.yaml'), 'services:\n  web:\n    image: x\n    volumes: ["./conf/passwd:/p:ro"]\n');
    const result = await capstan(['validate', stacks]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('web.yaml:4:15 services.web.volumes[0]: bind source "./conf/passwd" crosses the symbolic link conf of the repository');

    // The same, committed: the Git tree lists the link, and validate --repo refuses the bind.
    const repo = join(dir, 'link-repo');
    await runGit(repo, 'init', '--quiet', '--initial-branch=main');
    await runGit(repo, 'add', '--all');
    await runGit(repo, 'commit', '--quiet', '-m', 'a link to /etc');
    const atCommit = await capstan(['validate', '--repo', repo, '--data-dir', join(dir, 'link-data')]);
    expect(atCommit.code).toBe(1);
    expect(atCommit.stderr).toContain('stacks/web.yaml:4:15 services.web.volumes[0]: bind source "./conf/passwd" crosses the symbolic link stacks/conf of the repository');
  });
});
