// HTTP/1.x message heads and body framing for the L7 fast path: just enough
// parsing to route a request, rewrite its hop-by-hop headers and know where
// each message ends, so sockets can be reused. Pure: strings and buffers in,
// plain values out; no sockets here.
//
// Heads are read with charCodeAt and indexOf, never regexes, sets or
// lowercased copies: per request this is most of the proxy's own work. What
// passes on is given as offsets into the head (`keep`), so the outgoing head
// is assembled by copying those bytes of the received buffer.

/** Longest request or response head accepted; beyond it a request gets 431. */
export const MAX_HEAD = 64 * 1024;

/** tchar of RFC 9110 §5.6.2, by char code. */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[c.charCodeAt(0)] = 1;

export interface RequestHead {
  method: string;
  target: string;
  /** The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  host: string | undefined;
  cookie: string | undefined;
  /** -1 without a Content-Length. */
  contentLength: number;
  chunked: boolean;
  /** The client wants the connection closed after this exchange. */
  close: boolean;
  /** The Upgrade header's value when Connection names upgrade. */
  upgrade: string | undefined;
  /** The request line and the header lines to pass on (hop-by-hop and X-Forwarded-* left out): [start, end) pairs of offsets into the head, each line with its CRLF. */
  keep: number[];
  /** Any X-Forwarded-For the client sent, joined. */
  forwardedFor: string | undefined;
}

/**
 * Parses a request head (without its final blank line); undefined when
 * malformed (400). The offsets in `keep` count the CRLF after each line, so
 * they are offsets into the received bytes, where the head's last line is
 * followed by CRLF CRLF.
 */
export function parseRequestHead(head: string): RequestHead | undefined {
  if (head.indexOf('\0') !== -1) return undefined;
  const eol = lineEnd(head, 0);
  if (eol === -1) return undefined;
  const sp1 = head.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : head.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || sp2 >= eol || !isToken(head, 0, sp1) || !isTarget(head, sp1 + 1, sp2)) return undefined;
  // "HTTP/1.1" or "HTTP/1.0" and nothing after it.
  if (eol - sp2 !== 9 || !head.startsWith('HTTP/1.', sp2 + 1)) return undefined;
  const minorCode = head.charCodeAt(eol - 1);
  if (minorCode !== 48 && minorCode !== 49) return undefined;
  const minor = minorCode - 48;
  const r: RequestHead = {
    method: head.slice(0, sp1), target: head.slice(sp1 + 1, sp2), minor, host: undefined, cookie: undefined, contentLength: -1, chunked: false,
    close: minor === 0, upgrade: undefined, keep: [], forwardedFor: undefined,
  };
  let connection = '';
  let upgrade: string | undefined;
  let te: string | undefined;
  // The request line passes on as it is: the tunnel keeps its version, and the fast path only takes HTTP/1.1.
  let run = 0;
  let pos = eol + 2;
  while (pos < head.length) {
    const end = lineEnd(head, pos);
    const colon = end === -1 ? -1 : head.indexOf(':', pos);
    if (colon === -1 || colon >= end || colon === pos || !isToken(head, pos, colon)) return undefined;
    const [vs, ve] = trimmed(head, colon + 1, end);
    let drop = false;
    switch (colon - pos) {
      case 4:
        if (named(head, pos, 'host')) {
          if (r.host !== undefined) return undefined;
          r.host = head.slice(vs, ve);
        }
        break;
      case 14:
        if (named(head, pos, 'content-length')) {
          const n = digits(head, vs, ve);
          if (n === -1 || (r.contentLength !== -1 && r.contentLength !== n)) return undefined;
          r.contentLength = n;
        }
        break;
      case 17:
        if (named(head, pos, 'transfer-encoding')) {
          const v = head.slice(vs, ve);
          te = te === undefined ? v : `${te}, ${v}`;
        } else drop = named(head, pos, 'x-forwarded-proto');
        break;
      case 10:
        if (named(head, pos, 'connection')) {
          const v = head.slice(vs, ve);
          connection = connection === '' ? v : `${connection}, ${v}`;
          drop = true;
        } else drop = named(head, pos, 'keep-alive');
        break;
      case 7:
        if (named(head, pos, 'upgrade')) {
          upgrade = head.slice(vs, ve);
          drop = true;
        } else drop = named(head, pos, 'trailer');
        break;
      case 6:
        if (named(head, pos, 'cookie')) {
          const v = head.slice(vs, ve);
          r.cookie = r.cookie === undefined ? v : `${r.cookie}; ${v}`;
        }
        break;
      case 15:
        if (named(head, pos, 'x-forwarded-for')) {
          const v = head.slice(vs, ve);
          r.forwardedFor = r.forwardedFor === undefined ? v : `${r.forwardedFor}, ${v}`;
          drop = true;
        }
        break;
      case 16:
        drop = named(head, pos, 'proxy-connection') || named(head, pos, 'x-forwarded-host');
        break;
      case 2:
        drop = named(head, pos, 'te');
        break;
      case 18:
        drop = named(head, pos, 'proxy-authenticate');
        break;
      case 19:
        drop = named(head, pos, 'proxy-authorization');
        break;
    }
    const next = end === -1 ? head.length + 2 : end + 2;
    if (drop) {
      if (pos > run) r.keep.push(run, pos);
      run = next;
    }
    pos = next;
  }
  if (pos > run) r.keep.push(run, pos);
  if (te !== undefined) {
    // Only "chunked" as the one coding is framed here; anything else, or a
    // Content-Length next to it, is how request smuggling starts.
    if (!equalsLower(te, 'chunked') || r.contentLength !== -1) return undefined;
    r.chunked = true;
  }
  if (connection !== '') {
    for (const token of connection.split(',')) {
      const t = token.trim();
      if (equalsLower(t, 'close')) r.close = true;
      else if (equalsLower(t, 'keep-alive') && r.minor === 0) r.close = false;
      else if (equalsLower(t, 'upgrade') && upgrade !== undefined) r.upgrade = upgrade;
    }
  }
  return r;
}

export interface ResponseHead {
  status: number;
  /** -1 without a Content-Length. */
  contentLength: number;
  chunked: boolean;
  /** Some Transfer-Encoding other than chunked: the body runs to the end of the connection. */
  otherEncoding: boolean;
  /** The backend will close this connection. */
  close: boolean;
  /** The status line and the header lines to pass on, as in RequestHead.keep. */
  keep: number[];
}

/** Parses a response head (without its final blank line); undefined when malformed (502). */
export function parseResponseHead(head: string): ResponseHead | undefined {
  if (head.indexOf('\0') !== -1) return undefined;
  const statusEnd = lineEnd(head, 0);
  if (statusEnd === -1) return undefined;
  // "HTTP/1.1 200 OK": version, a three-digit status, an optional reason.
  if (!head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 32 || statusEnd < 12 || (statusEnd > 12 && head.charCodeAt(12) !== 32)) return undefined;
  const status = digits(head, 9, 12);
  if (status < 100) return undefined;
  const r: ResponseHead = { status, contentLength: -1, chunked: false, otherEncoding: false, close: head.charCodeAt(7) === 48 /* 1.0 */, keep: [] };
  let run = 0;
  let pos = statusEnd + 2;
  while (pos < head.length) {
    const end = lineEnd(head, pos);
    const colon = end === -1 ? -1 : head.indexOf(':', pos);
    if (colon === -1 || colon >= end || colon === pos || !isToken(head, pos, colon)) return undefined;
    const [vs, ve] = trimmed(head, colon + 1, end);
    let drop = false;
    switch (colon - pos) {
      case 14:
        if (named(head, pos, 'content-length')) {
          r.contentLength = digits(head, vs, ve);
          if (r.contentLength === -1) return undefined;
        }
        break;
      case 17:
        if (named(head, pos, 'transfer-encoding')) {
          if (ve - vs >= 7 && equalsLower(head.slice(ve - 7, ve), 'chunked')) r.chunked = true;
          else r.otherEncoding = true;
        }
        break;
      case 10:
        if (named(head, pos, 'connection')) {
          const v = head.slice(vs, ve).toLowerCase();
          if (v.includes('close')) r.close = true;
          else if (v.includes('keep-alive')) r.close = false;
          drop = true;
        } else drop = named(head, pos, 'keep-alive');
        break;
      case 16:
        drop = named(head, pos, 'proxy-connection');
        break;
    }
    const next = end === -1 ? head.length + 2 : end + 2;
    if (drop) {
      if (pos > run) r.keep.push(run, pos);
      run = next;
    }
    pos = next;
  }
  if (pos > run) r.keep.push(run, pos);
  return r;
}

/** The number of bytes `keep` names. */
export function keptLength(keep: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < keep.length; i += 2) n += keep[i + 1]! - keep[i]!;
  return n;
}

/** Copies the kept ranges of `from` (offsets relative to `base`) into `to` at `at`; returns the offset after them. */
export function copyKept(from: Buffer, base: number, keep: readonly number[], to: Buffer, at: number): number {
  let o = at;
  for (let i = 0; i < keep.length; i += 2) o += from.copy(to, o, base + keep[i]!, base + keep[i + 1]!);
  return o;
}

/**
 * Where the line starting at `pos` ends (its CR), or head.length for the
 * last line; -1 when a CR or LF stands alone in it.
 */
function lineEnd(head: string, pos: number): number {
  const cr = head.indexOf('\r', pos);
  const lf = head.indexOf('\n', pos);
  if (cr === -1) return lf === -1 ? head.length : -1;
  return lf === cr + 1 ? cr : -1;
}

function isToken(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TOKEN_CHAR[c] === 0) return false;
  }
  return true;
}

/** Visible ASCII only, as a request target must be. */
function isTarget(s: string, from: number, to: number): boolean {
  if (from === to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Whether the token at `from` spells `lower` (already known to be as long), ignoring case: tokens only lowercase by setting 0x20. */
function named(s: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((s.charCodeAt(from + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

function equalsLower(s: string, lower: string): boolean {
  return s.length === lower.length && s.toLowerCase() === lower;
}

/** [start, end) of the value between `from` and `to` without the spaces and tabs around it. */
function trimmed(s: string, from: number, to: number): [number, number] {
  let a = from;
  let b = to;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return [a, b];
}

/** A decimal of 1 to 15 digits, or -1. */
function digits(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Whether a response to `method` with `status` carries no body whatever its headers say. */
export function bodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

const enum Chunk { Size, Ext, SizeLf, Data, DataCr, DataLf, TrailerStart, Trailer, TrailerLf, EndLf }

/**
 * Follows a chunked body as it streams past without changing it, to find
 * where the message ends (after the last chunk and its trailers).
 */
export class ChunkedScanner {
  private state = Chunk.Size;
  private size = 0;
  private digits = 0;
  private remaining = 0;

  /**
   * Scans `buf` from `start`: the index just past the message's end, -1 when
   * the message goes on beyond `buf`, -2 when the framing is malformed.
   */
  feed(buf: Uint8Array, start: number): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      const c = buf[i]!;
      switch (this.state) {
        case Chunk.Size: {
          const d = hexValue(c);
          if (d !== -1) {
            if (++this.digits > 12) return -2;
            this.size = this.size * 16 + d;
          } else if (this.digits === 0) return -2;
          else if (c === 13) this.state = Chunk.SizeLf;
          else if (c === 59 /* ; */ || c === 32 || c === 9) this.state = Chunk.Ext;
          else return -2;
          i++;
          break;
        }
        case Chunk.Ext:
          if (c === 13) this.state = Chunk.SizeLf;
          else if (c === 10) return -2;
          i++;
          break;
        case Chunk.SizeLf:
          if (c !== 10) return -2;
          i++;
          if (this.size === 0) this.state = Chunk.TrailerStart;
          else {
            this.remaining = this.size;
            this.state = Chunk.Data;
          }
          break;
        case Chunk.Data: {
          const take = Math.min(this.remaining, n - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = Chunk.DataCr;
          break;
        }
        case Chunk.DataCr:
          if (c !== 13) return -2;
          this.state = Chunk.DataLf;
          i++;
          break;
        case Chunk.DataLf:
          if (c !== 10) return -2;
          this.size = 0;
          this.digits = 0;
          this.state = Chunk.Size;
          i++;
          break;
        case Chunk.TrailerStart:
          this.state = c === 13 ? Chunk.EndLf : Chunk.Trailer;
          i++;
          break;
        case Chunk.Trailer:
          if (c === 13) this.state = Chunk.TrailerLf;
          i++;
          break;
        case Chunk.TrailerLf:
          if (c !== 10) return -2;
          this.state = Chunk.TrailerStart;
          i++;
          break;
        case Chunk.EndLf:
          if (c !== 10) return -2;
          return i + 1;
      }
    }
    return -1;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
