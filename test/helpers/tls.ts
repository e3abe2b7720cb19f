// Self-made certificates for TLS tests, with the openssl CLI: a CA and leaf
// certificates it signs for given DNS names (and IP addresses), in a
// temporary directory the test removes.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Pem {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir: string, name = 'capstan-test-ca'): Pem {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  return read(dir, name);
}

let serial = 0;

/** A leaf for `names` (DNS) and `ips`, signed by `ca`; `file` names its files in `dir`. */
export function makeLeaf(dir: string, ca: Pem, file: string, names: readonly string[], ips: readonly string[] = []): Pem {
  const san = [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  fs.writeFileSync(path.join(dir, `${file}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${names[0] ?? ips[0] ?? file}`], dir);
  openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(1000 + ++serial), '-out', `${file}.pem`, '-days', '2', '-extfile', `${file}.ext`], dir);
  return read(dir, file);
}

function read(dir: string, name: string): Pem {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), certFile, keyFile };
}
