// Which tag x-capstan.image_update moves a service to (DESIGN §2, §5): the
// highest version among the repository's tags that lies inside the semver
// range — after `tag_pattern` picked the tags that count and its `version`
// group what is compared — and only when it is higher than the running tag.
// Never a downgrade, never outside the range, pre-releases only when the
// range names one (npm semver's own rule). Pure.

import semver from 'semver';

export interface TagRule {
  semver: string;
  tagPattern: string | undefined;
}

export type TagPick =
  | { kind: 'newer'; tag: string; from: string; to: string }
  | { kind: 'current' }
  | { kind: 'unversioned'; reason: string };

/** The version a tag stands for under the rule; undefined when the tag does not count. */
export function tagVersion(tag: string, rule: TagRule): string | undefined {
  let text = tag;
  if (rule.tagPattern !== undefined) {
    const m = new RegExp(rule.tagPattern).exec(tag);
    if (m === null) return undefined;
    text = m.groups?.['version'] ?? m[0];
  }
  return semver.valid(text) ?? undefined;
}

export function pickTag(current: string, tags: readonly string[], rule: TagRule): TagPick {
  const now = tagVersion(current, rule);
  if (now === undefined) {
    return { kind: 'unversioned', reason: `the running tag ${JSON.stringify(current)} is not a semantic version${rule.tagPattern === undefined ? '' : ` under tag_pattern ${JSON.stringify(rule.tagPattern)}`}, so no other tag can be compared with it` };
  }
  let best: { tag: string; version: string } | undefined;
  for (const tag of [...tags].sort()) {
    const version = tagVersion(tag, rule);
    if (version === undefined || !semver.satisfies(version, rule.semver)) continue;
    if (best === undefined || semver.gt(version, best.version)) best = { tag, version };
  }
  if (best === undefined || !semver.gt(best.version, now)) return { kind: 'current' };
  return { kind: 'newer', tag: best.tag, from: current, to: best.tag };
}
