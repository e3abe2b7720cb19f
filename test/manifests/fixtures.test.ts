// Real-world-shaped Compose files (test/fixtures/compose/): each one is either
// accepted as it is or rejected with exactly the messages a user would see.
// A fixture is a top-level file or a directory stack; each loads on its own.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { errorsOf } from './helpers.js';

const DIR = join(import.meta.dirname, '../fixtures/compose');

/** Exceptions some fixtures come with, as their repository's capstan.yaml would grant them. */
const POLICIES: Readonly<Record<string, string>> = {
  'traefik-allowed': 'policy:\n  stacks:\n    traefik-allowed: { allow: [docker_socket] }\n',
  // A host directory is refused unless the stack is allowed it (by whole path segments).
  'syncthing.yaml': 'policy:\n  stacks:\n    syncthing: { allow: ["host_path:/srv/syncthing"] }\n',
};

function loadFixture(entry: string): string[] {
  const files = new Map<string, string>();
  const full = join(DIR, entry);
  if (statSync(full).isDirectory()) {
    for (const f of readdirSync(full)) files.set(`stacks/${entry}/${f}`, readFileSync(join(full, f), 'utf8'));
  } else {
    files.set(`stacks/${entry}`, readFileSync(full, 'utf8'));
  }
  const policy = POLICIES[entry];
  return errorsOf(loadStacks(files, { root: 'stacks', env: {}, policyFile: policy === undefined ? undefined : { path: 'capstan.yaml', text: policy } }));
}

const EXPECTED: Readonly<Record<string, 'accepted' | readonly string[]>> = {
  'adguard.yaml': 'accepted',
  'app-extends': 'accepted',
  'ci-runner-dev.yaml': [
    'stacks/ci-runner-dev.yaml:6:5 services.runner.develop: `develop` is not supported yet (it is planned; remove it for now)',
  ],
  'django-app': 'accepted',
  'elastic-kibana.yaml': 'accepted',
  'gitea.yaml': 'accepted',
  'home-assistant.yaml': [
    'stacks/home-assistant.yaml:8:9 services.homeassistant.volumes[2]: breaks policy rule host_path:/run/dbus: bind-mounting the host path /run/dbus gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { home-assistant: { allow: ["host_path:/run/dbus"] } } })',
    'stacks/home-assistant.yaml:10:5 services.homeassistant.privileged: breaks policy rule privileged: `privileged: true` gives the container every capability and all host devices (to allow it, add to capstan.yaml: policy: { stacks: { home-assistant: { allow: [privileged] } } })',
    'stacks/home-assistant.yaml:11:5 services.homeassistant.network_mode: breaks policy rule host_network: `network_mode: host` shares the host\'s network stack (to allow it, add to capstan.yaml: policy: { stacks: { home-assistant: { allow: [host_network] } } })',
  ],
  'homelab-include': 'accepted',
  'homepage-include.yaml': [
    'stacks/homepage-include.yaml:2:5 include[0]: included file "./monitoring.yaml" not found (looked for stacks/monitoring.yaml) (keep included files inside the stacks directory)',
  ],
  'immich': 'accepted',
  'jellyfin.yaml': [
    'stacks/jellyfin.yaml:9:9 services.jellyfin.volumes[2]: breaks policy rule host_path:/srv/media: bind-mounting the host path /srv/media gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { jellyfin: { allow: ["host_path:/srv/media"] } } })',
    'stacks/jellyfin.yaml:11:9 services.jellyfin.devices[0]: breaks policy rule device:/dev/dri: host device /dev/dri is passed into the container (to allow it, add to capstan.yaml: policy: { stacks: { jellyfin: { allow: ["device:/dev/dri"] } } })',
  ],
  'keycloak.yaml': 'accepted',
  'legacy-version.yaml': 'accepted',
  'loki-promtail.yaml': [
    'stacks/loki-promtail.yaml:10:9 services.promtail.volumes[0]: breaks policy rule host_path:/var/log: bind-mounting the host path /var/log gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { loki-promtail: { allow: ["host_path:/var/log"] } } })',
    'stacks/loki-promtail.yaml:11:9 services.promtail.volumes[1]: breaks policy rule host_path:/var/lib/docker/containers: bind-mounting the host path /var/lib/docker/containers gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { loki-promtail: { allow: ["host_path:/var/lib/docker/containers"] } } })',
  ],
  'mastodon.yaml': 'accepted',
  'minio.yaml': 'accepted',
  'mongo-express.yaml': 'accepted',
  'nextcloud.yaml': 'accepted',
  'nginx-proxy-manager.yaml': 'accepted',
  'node-build': 'accepted',
  'node-exporter.yaml': [
    'stacks/node-exporter.yaml:5:5 services.node-exporter.network_mode: breaks policy rule host_network: `network_mode: host` shares the host\'s network stack (to allow it, add to capstan.yaml: policy: { stacks: { node-exporter: { allow: [host_network] } } })',
    'stacks/node-exporter.yaml:6:5 services.node-exporter.pid: breaks policy rule host_pid: `pid: host` lets the container see and signal the host\'s processes (to allow it, add to capstan.yaml: policy: { stacks: { node-exporter: { allow: [host_pid] } } })',
    'stacks/node-exporter.yaml:9:9 services.node-exporter.volumes[0]: breaks policy rule host_path:/proc: bind-mounting the host path /proc gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { node-exporter: { allow: ["host_path:/proc"] } } })',
    'stacks/node-exporter.yaml:10:9 services.node-exporter.volumes[1]: breaks policy rule host_path:/sys: bind-mounting the host path /sys gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { node-exporter: { allow: ["host_path:/sys"] } } })',
    'stacks/node-exporter.yaml:11:9 services.node-exporter.volumes[2]: breaks policy rule host_path:/: bind-mounting the host path / gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { node-exporter: { allow: ["host_path:/"] } } })',
  ],
  'pihole.yaml': [
    'stacks/pihole.yaml:16:9 services.pihole.cap_add[0]: breaks policy rule cap:NET_ADMIN: capability NET_ADMIN is beyond Docker\'s default set (to allow it, add to capstan.yaml: policy: { stacks: { pihole: { allow: ["cap:NET_ADMIN"] } } })',
  ],
  'plex.yaml': [
    'stacks/plex.yaml:4:5 services.plex.network_mode: breaks policy rule host_network: `network_mode: host` shares the host\'s network stack (to allow it, add to capstan.yaml: policy: { stacks: { plex: { allow: [host_network] } } })',
    'stacks/plex.yaml:8:9 services.plex.volumes[1]: breaks policy rule host_path:/srv/tv: bind-mounting the host path /srv/tv gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { plex: { allow: ["host_path:/srv/tv"] } } })',
  ],
  'portainer.yaml': [
    'stacks/portainer.yaml:7:9 services.portainer.volumes[0]: breaks policy rule docker_socket: bind-mounting /var/run/docker.sock gives the container control of the engine (root on the host) (to allow it, add to capstan.yaml: policy: { stacks: { portainer: { allow: [docker_socket] } } })',
  ],
  'prometheus-grafana': 'accepted',
  'rabbitmq.yaml': 'accepted',
  // A Rails master.key is usually git-ignored: the secret's file is then missing at the commit.
  'rails-secrets.yaml': [
    'stacks/rails-secrets.yaml:9:11 secrets.master_key.file: secret file "./master.key" not found at the commit (looked for stacks/master.key) (commit the file, or fix the path (it is relative to the stack file))',
  ],
  'redis-sentinel-global.yaml': 'accepted',
  'replicas-fixed-port.yaml': 'accepted',
  'scaled-named.yaml': [
    'stacks/scaled-named.yaml:4:5 services.worker.container_name: `container_name` "worker" cannot be shared by 3 replicas (remove `container_name` or set `deploy.replicas: 1`)',
  ],
  'syncthing.yaml': 'accepted',
  'traefik-allowed': 'accepted',
  'traefik.yaml': [
    'stacks/traefik.yaml:9:9 services.traefik.volumes[0]: breaks policy rule docker_socket: bind-mounting /var/run/docker.sock gives the container control of the engine (root on the host) (to allow it, add to capstan.yaml: policy: { stacks: { traefik: { allow: [docker_socket] } } })',
  ],
  'typo.yaml': [
    'stacks/typo.yaml:4:5 services.api.enviroment: unknown key (did you mean "environment"?)',
    'stacks/typo.yaml:6:14 services.api.restart: restart must be one of "no", "always", "on-failure[:N]", "unless-stopped", got "unless-stoped"',
  ],
  'uptime-kuma.yaml': [
    'stacks/uptime-kuma.yaml:6:9 services.uptime-kuma.volumes[1]: breaks policy rule docker_socket: bind-mounting /var/run/docker.sock gives the container control of the engine (root on the host) (to allow it, add to capstan.yaml: policy: { stacks: { uptime-kuma: { allow: [docker_socket] } } })',
  ],
  'vaultwarden.yaml': 'accepted',
  'watchtower.yaml': [
    'stacks/watchtower.yaml:5:9 services.watchtower.volumes[0]: breaks policy rule docker_socket: bind-mounting /var/run/docker.sock gives the container control of the engine (root on the host) (to allow it, add to capstan.yaml: policy: { stacks: { watchtower: { allow: [docker_socket] } } })',
  ],
  'wireguard.yaml': [
    'stacks/wireguard.yaml:4:15 services.wireguard.cap_add[0]: breaks policy rule cap:NET_ADMIN: capability NET_ADMIN is beyond Docker\'s default set (to allow it, add to capstan.yaml: policy: { stacks: { wireguard: { allow: ["cap:NET_ADMIN"] } } })',
    'stacks/wireguard.yaml:4:26 services.wireguard.cap_add[1]: breaks policy rule cap:SYS_MODULE: capability SYS_MODULE is beyond Docker\'s default set (to allow it, add to capstan.yaml: policy: { stacks: { wireguard: { allow: ["cap:SYS_MODULE"] } } })',
    'stacks/wireguard.yaml:8:9 services.wireguard.volumes[1]: breaks policy rule host_path:/lib/modules: bind-mounting the host path /lib/modules gives the container the host\'s files (only /etc/localtime and /etc/timezone are allowed read-only without an exception) (to allow it, add to capstan.yaml: policy: { stacks: { wireguard: { allow: ["host_path:/lib/modules"] } } })',
    'stacks/wireguard.yaml:11:7 services.wireguard.sysctls.net.ipv4.conf.all.src_valid_mark: breaks policy rule sysctl:net.ipv4.conf.all.src_valid_mark: sysctl net.ipv4.conf.all.src_valid_mark is not in the namespaced safe set (Kubernetes\' baseline) (to allow it, add to capstan.yaml: policy: { stacks: { wireguard: { allow: ["sysctl:net.ipv4.conf.all.src_valid_mark"] } } })',
  ],
  'wordpress-mariadb.yaml': 'accepted',
};

describe('real-world Compose files', () => {
  it('has an expectation for every fixture, and at least 30 of them', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(readdirSync(DIR).sort());
    expect(Object.keys(EXPECTED).length).toBeGreaterThanOrEqual(30);
  });
  for (const [entry, expected] of Object.entries(EXPECTED)) {
    it(`${entry}: ${expected === 'accepted' ? 'accepted' : 'rejected'}`, () => {
      expect(loadFixture(entry)).toEqual(expected === 'accepted' ? [] : expected);
    });
  }
});
