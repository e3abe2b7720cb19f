// The operator's side of the policy (DESIGN §2): the --policy file, read once
// at start (outside the repository, so a push cannot change it), and host
// paths resolved as the engine will see them, so a link cannot smuggle a
// refused path past an exception.

import { readFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { parseOperatorPolicy, type OperatorPolicy } from '../manifests/policy.js';
import type { Logger } from '../logging/logger.js';

export async function readOperatorPolicy(file: string | undefined): Promise<OperatorPolicy | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--policy ${file}: cannot read it (${err instanceof Error && 'code' in err ? String(err.code) : String(err)})`, 'point --policy (CAPSTAN_POLICY) at a readable file, or drop it');
  }
  const { policy, errors } = parseOperatorPolicy(file, text);
  if (policy === undefined) throw new ConfigError(`--policy ${file} is invalid:\n${errors.map((e) => `  ${e.format()}`).join('\n')}`, 'fix the file; its shape is { stacks: { <stack>: { allow: [...] } }, limits: {...}, delegate: { <stack>: [rules] } }');
  return policy;
}

/** Without --policy the repository's capstan.yaml grants itself exceptions: say so once, at start. */
export function warnWithoutPolicy(policyFile: string | undefined, logger: Logger): void {
  if (policyFile !== undefined) return;
  logger.warn("no --policy file: the repository's capstan.yaml grants its own policy exceptions, so whoever can push to it can allow privileged containers and host mounts; give the operator's policy with --policy FILE (CAPSTAN_POLICY) and delegate what the repository may grant");
}

/** The path with every symbolic link of its longest existing prefix resolved; the rest as written. */
export function resolveHostPath(p: string): string {
  let existing = p;
  const rest: string[] = [];
  for (let i = 0; i < 256; i++) {
    try {
      return path.posix.join(realpathSync(existing), ...rest);
    } catch {
      const parent = path.posix.dirname(existing);
      if (parent === existing) return p;
      rest.unshift(path.posix.basename(existing));
      existing = parent;
    }
  }
  return p;
}
