// .dockerignore as the Docker CLI reads it (moby's patternmatcher): one
// pattern per line, `#` comments, `!` re-includes, `*` and `?` within one
// path segment, `**` across segments; a pattern that matches a directory
// excludes everything below it; the last matching pattern wins. Pure.

interface Pattern {
  regex: RegExp;
  exclusion: boolean;
}

function compile(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` also matches no directory at all.
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i] ?? ''}`;
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\]\\/]/g, (m) => `\\${m}`);
  }
  return new RegExp(`^${re}$`);
}

/** Lexically clean a path as Go's filepath.Clean does, without a leading "/" or "./". */
function clean(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

export function parseDockerignore(text: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclusion = line.startsWith('!');
    const body = clean(exclusion ? line.slice(1).trim() : line);
    if (body === '') continue;
    patterns.push({ regex: compile(body), exclusion });
  }
  return patterns;
}

/** Is `path` (relative to the context, '/'-separated) left out of the context? */
export function isIgnored(patterns: readonly Pattern[], path: string): boolean {
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) {
    if (candidates.some((c) => p.regex.test(c))) ignored = !p.exclusion;
  }
  return ignored;
}
