// Parses a registry's `WWW-Authenticate` answer (RFC 7235 challenges) into
// what the registry client needs: Basic, or Bearer with the token realm,
// service and scope. Quoted values may hold commas and escaped quotes. Pure.

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Readonly<Record<string, string>>;
}

/** The first Basic or Bearer challenge of the header; undefined when none can be read. */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (header === null || header === undefined) return undefined;
  let i = 0;
  const s = header;
  const skipSpace = (): void => {
    while (i < s.length && /[\s,]/.test(s[i] ?? '')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i] ?? '')) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipSpace();
    const scheme = token().toLowerCase();
    if (scheme === '') return undefined;
    const params: Record<string, string> = {};
    for (;;) {
      while (i < s.length && s[i] === ' ') i++;
      const save = i;
      const name = token().toLowerCase();
      while (i < s.length && s[i] === ' ') i++;
      if (name === '' || s[i] !== '=') {
        // Not a parameter: the next challenge's scheme starts here.
        i = save;
        break;
      }
      i++;
      while (i < s.length && s[i] === ' ') i++;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        value = token();
      }
      Object.defineProperty(params, name, { value, enumerable: true, writable: true, configurable: true });
      while (i < s.length && s[i] === ' ') i++;
      if (s[i] === ',') i++;
      else break;
    }
    if (scheme === 'basic' || scheme === 'bearer') return { scheme, params };
  }
  return undefined;
}

/** `<https://r.example/v2/app/tags/list?last=1.4&n=100>; rel="next"` → the URL of the next page, resolved against `base`. */
export function nextLink(header: string | null | undefined, base: string): string | undefined {
  if (header === null || header === undefined) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m?.[1] !== undefined) return new URL(m[1], base).toString();
  }
  return undefined;
}
