// Compose short volume syntax "source:target[:mode]" → a raw mount whose
// source is classified (absolute bind, relative bind, named volume). Paths
// are resolved against the repository later, in normalize.ts.

export interface RawMount {
  type: 'bind' | 'volume' | 'tmpfs';
  source: string;
  target: string;
  readOnly: boolean;
}

const MODES = new Set(['ro', 'rw', 'z', 'Z', 'cached', 'delegated', 'consistent', 'nocopy', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
export const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function classifySource(source: string): 'bind' | 'volume' | 'home' {
  if (source.startsWith('/') || source.startsWith('.')) return 'bind';
  if (source.startsWith('~')) return 'home';
  return 'volume';
}

export function parseVolumeShort(input: string): RawMount | string {
  const parts = input.split(':');
  if (parts.length === 1) {
    // `- /app/node_modules`: an anonymous volume, one per replica slot (normalize and the backend name it).
    if (!input.startsWith('/')) return `invalid volume ${JSON.stringify(input)}; expected source:target[:mode], or an absolute container path for an anonymous volume`;
    return { type: 'volume', source: '', target: input, readOnly: false };
  }
  if (parts.length > 3) return `invalid volume ${JSON.stringify(input)}; expected source:target[:mode]`;
  const [source = '', target = '', mode = ''] = parts;
  if (source === '') return `invalid volume ${JSON.stringify(input)}: empty source`;
  if (!target.startsWith('/')) return `invalid volume ${JSON.stringify(input)}: the container path ${JSON.stringify(target)} must be absolute`;
  const flags = mode === '' ? [] : mode.split(',');
  for (const f of flags) if (!MODES.has(f)) return `unknown volume mode ${JSON.stringify(f)} in ${JSON.stringify(input)}`;
  const kind = classifySource(source);
  if (kind === 'home') return homeBind(source, target, flags.includes('ro'), input);
  if (kind === 'volume' && !VOLUME_NAME.test(source)) return `invalid volume name ${JSON.stringify(source)}`;
  return { type: kind, source, target, readOnly: flags.includes('ro') };
}

/** `~/data` (the operator user's home, expanded in normalize.ts); `~other/…` names another user's home, which is refused. */
export function homeBind(source: string, target: string, readOnly: boolean, input: string): RawMount | string {
  if (source !== '~' && !source.startsWith('~/')) return `${JSON.stringify(input)}: only "~" and "~/…" (the operator user's home) are supported, not another user's home`;
  return { type: 'bind', source, target, readOnly };
}
