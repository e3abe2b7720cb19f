// Splits a `command:`/`entrypoint:` string into argv as Compose does
// (shellwords rules: quotes and backslashes group, no variable or glob
// expansion, no `sh -c`).

/** undefined when a quote is left open. */
export function shellSplit(input: string): string[] | undefined {
  const args: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < input.length) {
    const c = input[i] ?? '';
    if (/\s/.test(c)) {
      if (inWord) args.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) return undefined;
      cur += input.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < input.length) {
        const d = input[i] ?? '';
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        // Inside double quotes a backslash only escapes the characters the shell treats specially there.
        if (d === '\\' && i + 1 < input.length && '"\\$`'.includes(input[i + 1] ?? '')) {
          cur += input[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      if (!closed) return undefined;
    } else if (c === '\\' && i + 1 < input.length) {
      cur += input[i + 1];
      i += 2;
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) args.push(cur);
  return args;
}
