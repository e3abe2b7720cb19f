// HTTP/1.x message heads and body framing for the L7 fast path: just enough
// parsing to route a request, rewrite its hop-by-hop headers and know where
// each message ends, so sockets can be reused. Pure: buffers in, plain
// values out; no sockets here.
//
// Heads are read byte by byte from the received buffer in one pass that also
// finds their end: no string of the whole head, no regexes, sets or
// lowercased copies (per request this is most of the proxy's own work).
// What passes on is given as offsets into that buffer (`keep`), so the
// outgoing head is assembled by copying those bytes.

/** Longest request or response head accepted; beyond it a request gets 431. */
export const MAX_HEAD = 64 * 1024;

/** Longest request line accepted; beyond it a request gets 414 (nginx's large_client_header_buffers is 8 KB). */
export const MAX_REQUEST_LINE = 16 * 1024;

/** The buffer ends before the head does: wait for more bytes. */
export const INCOMPLETE = 'incomplete';

/** tchar of RFC 9110 §5.6.2, by byte. */
const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[c.charCodeAt(0)] = 1;

/** Control characters, refused in every field value and chunk extension (RFC 9110 §5.5): all below 0x20 but HTAB, and DEL. */
const CTL = new Uint8Array(256);
for (let c = 0; c < 32; c++) if (c !== 9) CTL[c] = 1;
CTL[127] = 1;

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
const N = {
  host: bytes('host'), contentLength: bytes('content-length'), transferEncoding: bytes('transfer-encoding'), connection: bytes('connection'),
  keepAlive: bytes('keep-alive'), proxyConnection: bytes('proxy-connection'), te: bytes('te'), trailer: bytes('trailer'), upgrade: bytes('upgrade'),
  proxyAuthorization: bytes('proxy-authorization'), proxyAuthenticate: bytes('proxy-authenticate'), cookie: bytes('cookie'),
  forwardedFor: bytes('x-forwarded-for'), forwardedProto: bytes('x-forwarded-proto'), forwardedHost: bytes('x-forwarded-host'), chunked: bytes('chunked'),
  version: bytes('HTTP/1.'),
};

interface Head {
  /** Bytes from the head's start to just past its blank line. */
  length: number;
  /** The first line and the header lines to pass on: [start, end) pairs of offsets into the buffer, each line with its CRLF. */
  keep: number[];
}

export interface RequestHead extends Head {
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
  /** Any X-Forwarded-For the client sent, joined: passed on only from a trusted proxy. */
  forwardedFor: string | undefined;
  /** The client's X-Forwarded-Proto and -Host, likewise. */
  forwardedProto: string | undefined;
  forwardedHost: string | undefined;
  /** Bytes of the request line without its CRLF. */
  lineLength: number;
}

/**
 * Parses the request head at the start of `buf`; undefined when malformed
 * (400), which includes HTTP/1.1 without Host. Hop-by-hop and X-Forwarded-*
 * headers are left out of `keep`; the request line passes on as it is.
 */
export function parseRequestHead(buf: Buffer): RequestHead | typeof INCOMPLETE | undefined {
  // "METHOD TARGET HTTP/1.x": a token, visible ASCII, and nothing after the version.
  const n = buf.length;
  let i = 0;
  while (i < n && TOKEN_CHAR[buf[i]!] === 1) i++;
  const sp1 = i;
  if (sp1 === n) return INCOMPLETE;
  if (sp1 === 0 || buf[sp1] !== 32) return undefined;
  for (i = sp1 + 1; i < n; i++) {
    const c = buf[i]!;
    if (c < 0x21 || c > 0x7e) break;
  }
  const sp2 = i;
  if (sp2 === n) return INCOMPLETE;
  if (sp2 === sp1 + 1 || buf[sp2] !== 32) return undefined;
  const eol = sp2 + 9;
  if (eol + 1 >= n) return startsLike(buf, sp2 + 1, N.version) ? INCOMPLETE : undefined;
  const minor = buf[eol - 1]! - 48;
  if (!startsLike(buf, sp2 + 1, N.version) || (minor !== 0 && minor !== 1) || buf[eol] !== 13 || buf[eol + 1] !== 10) return undefined;
  const r: RequestHead = {
    length: 0, keep: [], method: methodOf(buf, sp1), target: buf.toString('latin1', sp1 + 1, sp2), minor, host: undefined, cookie: undefined,
    contentLength: -1, chunked: false, close: minor === 0, upgrade: undefined, forwardedFor: undefined, forwardedProto: undefined, forwardedHost: undefined,
    lineLength: eol,
  };
  let connection = '';
  let upgrade: string | undefined;
  let te: string | undefined;
  const end = walkHeaders(buf, eol + 2, r.keep, (pos) => {
    switch (line.colon - pos) {
      case 4:
        if (named(buf, pos, N.host)) {
          if (r.host !== undefined) return MALFORMED;
          r.host = value(buf);
        }
        return KEEP;
      case 14:
        if (named(buf, pos, N.contentLength)) {
          const len = digits(buf, line.valueStart, line.valueEnd);
          if (len === -1 || (r.contentLength !== -1 && r.contentLength !== len)) return MALFORMED;
          r.contentLength = len;
        }
        return KEEP;
      case 17:
        if (named(buf, pos, N.transferEncoding)) {
          te = te === undefined ? value(buf) : `${te}, ${value(buf)}`;
          return KEEP;
        }
        if (!named(buf, pos, N.forwardedProto)) return KEEP;
        r.forwardedProto = value(buf);
        return DROP;
      case 10:
        if (named(buf, pos, N.connection)) {
          connection = connection === '' ? value(buf) : `${connection}, ${value(buf)}`;
          return DROP;
        }
        return named(buf, pos, N.keepAlive) ? DROP : KEEP;
      case 7:
        if (named(buf, pos, N.upgrade)) {
          upgrade = value(buf);
          return DROP;
        }
        return named(buf, pos, N.trailer) ? DROP : KEEP;
      case 6:
        if (named(buf, pos, N.cookie)) r.cookie = r.cookie === undefined ? value(buf) : `${r.cookie}; ${value(buf)}`;
        return KEEP;
      case 15:
        if (!named(buf, pos, N.forwardedFor)) return KEEP;
        r.forwardedFor = r.forwardedFor === undefined ? value(buf) : `${r.forwardedFor}, ${value(buf)}`;
        return DROP;
      case 16:
        if (named(buf, pos, N.forwardedHost)) {
          r.forwardedHost = value(buf);
          return DROP;
        }
        return named(buf, pos, N.proxyConnection) ? DROP : KEEP;
      case 2:
        return named(buf, pos, N.te) ? DROP : KEEP;
      case 18:
        return named(buf, pos, N.proxyAuthenticate) ? DROP : KEEP;
      case 19:
        return named(buf, pos, N.proxyAuthorization) ? DROP : KEEP;
      default:
        return KEEP;
    }
  });
  if (end < 0) return end === WALK_INCOMPLETE ? INCOMPLETE : undefined;
  r.length = end;
  // RFC 9112 §3.2: a 1.1 request without Host is answered 400.
  if (minor === 1 && r.host === undefined) return undefined;
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

export interface ResponseHead extends Head {
  status: number;
  /** -1 without a Content-Length. */
  contentLength: number;
  chunked: boolean;
  /** Some Transfer-Encoding other than chunked: the body runs to the end of the connection. */
  otherEncoding: boolean;
  /** The backend will close this connection. */
  close: boolean;
}

/** Parses the response head at the start of `buf`; undefined when malformed (502). */
export function parseResponseHead(buf: Buffer): ResponseHead | typeof INCOMPLETE | undefined {
  // "HTTP/1.1 200 OK": version, a three-digit status, an optional reason.
  const n = buf.length;
  if (n < 13) return startsLike(buf, 0, N.version) ? INCOMPLETE : undefined;
  if (!startsLike(buf, 0, N.version) || buf[8] !== 32 || (buf[12] !== 32 && buf[12] !== 13)) return undefined;
  const status = digits(buf, 9, 12);
  if (status < 100) return undefined;
  let eol = 12;
  for (; eol < n; eol++) {
    const c = buf[eol]!;
    if (c === 13) break;
    if (c === 10 || c === 0) return undefined;
  }
  if (eol + 1 >= n) return INCOMPLETE;
  if (buf[eol + 1] !== 10) return undefined;
  const r: ResponseHead = { length: 0, keep: [], status, contentLength: -1, chunked: false, otherEncoding: false, close: buf[7] === 48 /* 1.0 */ };
  const end = walkHeaders(buf, eol + 2, r.keep, (pos) => {
    switch (line.colon - pos) {
      case 14:
        if (named(buf, pos, N.contentLength)) {
          r.contentLength = digits(buf, line.valueStart, line.valueEnd);
          if (r.contentLength === -1) return MALFORMED;
        }
        return KEEP;
      case 17:
        if (named(buf, pos, N.transferEncoding)) {
          if (line.valueEnd - line.valueStart >= 7 && named(buf, line.valueEnd - 7, N.chunked)) r.chunked = true;
          else r.otherEncoding = true;
        }
        return KEEP;
      case 10:
        if (named(buf, pos, N.connection)) {
          // Mostly exactly "keep-alive": no lowercased copy for that.
          if (line.valueEnd - line.valueStart === 10 && named(buf, line.valueStart, N.keepAlive)) r.close = false;
          else {
            const v = value(buf).toLowerCase();
            if (v.includes('close')) r.close = true;
            else if (v.includes('keep-alive')) r.close = false;
          }
          return DROP;
        }
        return named(buf, pos, N.keepAlive) ? DROP : KEEP;
      case 16:
        return named(buf, pos, N.proxyConnection) ? DROP : KEEP;
      default:
        return KEEP;
    }
  });
  if (end < 0) return end === WALK_INCOMPLETE ? INCOMPLETE : undefined;
  r.length = end;
  return r;
}

/** The number of bytes `keep` names. */
export function keptLength(keep: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < keep.length; i += 2) n += keep[i + 1]! - keep[i]!;
  return n;
}

/** Copies the kept ranges of `from` into `to` at `at`; returns the offset after them. */
export function copyKept(from: Buffer, keep: readonly number[], to: Buffer, at: number): number {
  let o = at;
  for (let i = 0; i < keep.length; i += 2) o += from.copy(to, o, keep[i]!, keep[i + 1]!);
  return o;
}

// The header line walkHeaders is at, filled by readHeader: no object per line.
const line = { colon: 0, valueStart: 0, valueEnd: 0, next: 0 };

const KEEP = 0;
const DROP = 1;
const MALFORMED = 2;
const WALK_INCOMPLETE = -1;
const WALK_MALFORMED = -2;

/**
 * Reads the header lines from `pos` up to the blank line, asks `visit`
 * (given the line's start; name, colon and value are in `line`) whether each
 * passes on, and adds the runs that do to `keep`, from the first line on.
 * Returns the offset just past the blank line, WALK_INCOMPLETE when `buf`
 * ends first, or WALK_MALFORMED.
 */
function walkHeaders(buf: Buffer, pos: number, keep: number[], visit: (pos: number) => number): number {
  let run = 0;
  for (;;) {
    if (pos + 1 >= buf.length) return WALK_INCOMPLETE;
    if (buf[pos] === 13) {
      if (buf[pos + 1] !== 10) return WALK_MALFORMED;
      if (pos > run) keep.push(run, pos);
      return pos + 2;
    }
    const read = readHeader(buf, pos);
    if (read !== 0) return read;
    const verdict = visit(pos);
    if (verdict === MALFORMED) return WALK_MALFORMED;
    if (verdict === DROP) {
      if (pos > run) keep.push(run, pos);
      run = line.next;
    }
    pos = line.next;
  }
}

/**
 * One pass over "name: value" CRLF at `pos`: the name must be a token, the
 * value may hold no control character but HTAB, and the CRLF ends the line.
 * 0 when read (into `line`), else WALK_INCOMPLETE or WALK_MALFORMED.
 */
function readHeader(buf: Buffer, pos: number): number {
  const n = buf.length;
  let colon = -1;
  let i = pos;
  for (; i < n; i++) {
    const c = buf[i]!;
    if (c === 13) break;
    if (colon !== -1) {
      if (CTL[c] === 1) return WALK_MALFORMED;
    } else if (c === 58) colon = i;
    else if (TOKEN_CHAR[c] === 0) return WALK_MALFORMED;
  }
  if (i + 1 >= n) return WALK_INCOMPLETE;
  if (colon <= pos || buf[i + 1] !== 10) return WALK_MALFORMED;
  let a = colon + 1;
  let b = i;
  while (a < b && (buf[a] === 32 || buf[a] === 9)) a++;
  while (b > a && (buf[b - 1] === 32 || buf[b - 1] === 9)) b--;
  line.colon = colon;
  line.valueStart = a;
  line.valueEnd = b;
  line.next = i + 2;
  return 0;
}

/** The common methods as constant strings; others sliced from the buffer. Methods are case-sensitive. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'].map((m) => ({ name: m, bytes: bytes(m) }));

function methodOf(buf: Buffer, length: number): string {
  for (const m of METHODS) if (m.bytes.length === length && startsLike(buf, 0, m.bytes)) return m.name;
  return buf.toString('latin1', 0, length);
}

function value(buf: Buffer): string {
  return buf.toString('latin1', line.valueStart, line.valueEnd);
}

/** Whether the bytes at `from` spell `lower` ignoring ASCII case (setting 0x20 lowercases letters and leaves the other bytes these names hold). */
function named(buf: Buffer, from: number, lower: Uint8Array): boolean {
  for (let i = 0; i < lower.length; i++) if ((buf[from + i]! | 0x20) !== lower[i]) return false;
  return true;
}

/** `prefix` as far as `buf` goes (exact case). */
function startsLike(buf: Buffer, from: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length && from + i < buf.length; i++) if (buf[from + i] !== prefix[i]) return false;
  return true;
}

function equalsLower(s: string, lower: string): boolean {
  return s.length === lower.length && s.toLowerCase() === lower;
}

/** A decimal of 1 to 15 digits, or -1. */
function digits(buf: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Whether `buf`, the start of a head still incomplete, already has a request line longer than MAX_REQUEST_LINE (414). */
export function requestLineTooLong(buf: Buffer): boolean {
  if (buf.length <= MAX_REQUEST_LINE) return false;
  const lf = buf.indexOf(10);
  return lf === -1 || lf > MAX_REQUEST_LINE + 1;
}

/** Whether a response to `method` with `status` carries no body whatever its headers say. */
export function bodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

const enum Chunk { Size, Ext, SizeLf, Data, DataCr, DataLf, TrailerStart, Trailer, TrailerLf, EndLf }

/**
 * Follows a chunked body as it streams past without changing it, to find
 * where the message ends (after the last chunk and its trailers). Control
 * characters in extensions and trailers are malformed, as in heads.
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
          else if (CTL[c] === 1) return -2;
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
          if (c === 13) this.state = Chunk.EndLf;
          else if (TOKEN_CHAR[c] === 1) this.state = Chunk.Trailer;
          else return -2;
          i++;
          break;
        case Chunk.Trailer:
          if (c === 13) this.state = Chunk.TrailerLf;
          else if (CTL[c] === 1) return -2;
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
