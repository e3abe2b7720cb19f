// HTTP/1.x message heads and body framing for the L7 fast path: just enough
// parsing to route a request, rewrite its hop-by-hop headers and know where
// each message ends, so sockets can be reused. Pure: strings and buffers in,
// plain values out; no sockets here.

/** Longest request or response head accepted; beyond it a request gets 431. */
export const MAX_HEAD = 64 * 1024;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
const REQUEST_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
const RESPONSE_HOP = new Set(['connection', 'keep-alive', 'proxy-connection']);

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
  /** The header lines to pass on (hop-by-hop and X-Forwarded-* left out), each ending in CRLF. */
  passOn: string;
  /** Any X-Forwarded-For the client sent, joined. */
  forwardedFor: string | undefined;
}

/** Parses a request head (without its final blank line); undefined when malformed (400). */
export function parseRequestHead(head: string): RequestHead | undefined {
  let eol = head.indexOf('\r\n');
  if (eol === -1) eol = head.length;
  const line = head.slice(0, eol);
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || line.indexOf(' ', sp2 + 1) !== -1) return undefined;
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method) || !TARGET.test(target)) return undefined;
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return undefined;
  const r: RequestHead = {
    method, target, minor: version === 'HTTP/1.1' ? 1 : 0, host: undefined, cookie: undefined, contentLength: -1, chunked: false,
    close: version !== 'HTTP/1.1', upgrade: undefined, passOn: '', forwardedFor: undefined,
  };
  let connection = '';
  let upgrade: string | undefined;
  let te: string | undefined;
  let pos = eol + 2;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end === -1) end = head.length;
    const h = parseHeaderLine(head, pos, end);
    if (h === undefined) return undefined;
    const [name, value] = h;
    pos = end + 2;
    switch (name) {
      case 'host':
        if (r.host !== undefined) return undefined;
        r.host = value;
        break;
      case 'content-length': {
        if (!/^\d{1,15}$/.test(value)) return undefined;
        const n = Number(value);
        if (r.contentLength !== -1 && r.contentLength !== n) return undefined;
        r.contentLength = n;
        break;
      }
      case 'transfer-encoding':
        te = te === undefined ? value : `${te}, ${value}`;
        break;
      case 'connection':
        connection = connection === '' ? value : `${connection}, ${value}`;
        break;
      case 'upgrade':
        upgrade = value;
        break;
      case 'cookie':
        r.cookie = r.cookie === undefined ? value : `${r.cookie}; ${value}`;
        break;
      case 'x-forwarded-for':
        r.forwardedFor = r.forwardedFor === undefined ? value : `${r.forwardedFor}, ${value}`;
        break;
    }
    if (!REQUEST_HOP.has(name)) r.passOn += `${head.slice(h[2], end)}\r\n`;
  }
  if (te !== undefined) {
    // Only "chunked" as the one coding is framed here; anything else, or a
    // Content-Length next to it, is how request smuggling starts.
    if (te.toLowerCase() !== 'chunked' || r.contentLength !== -1) return undefined;
    r.chunked = true;
  }
  if (connection !== '') {
    for (const token of connection.toLowerCase().split(',')) {
      const t = token.trim();
      if (t === 'close') r.close = true;
      else if (t === 'keep-alive' && r.minor === 0) r.close = false;
      else if (t === 'upgrade' && upgrade !== undefined) r.upgrade = upgrade;
    }
  }
  return r;
}

/**
 * [lowercased name, trimmed value, start of the line] for "name: value"
 * between `from` and `to`; undefined for a malformed or folded line.
 */
function parseHeaderLine(head: string, from: number, to: number): [string, string, number] | undefined {
  const colon = head.indexOf(':', from);
  if (colon === -1 || colon >= to || colon === from) return undefined;
  const rawName = head.slice(from, colon);
  if (!TOKEN.test(rawName)) return undefined;
  const value = head.slice(colon + 1, to);
  if (value.includes('\n') || value.includes('\r') || value.includes('\0')) return undefined;
  return [rawName.toLowerCase(), value.trim(), from];
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
  /** Status line and the header lines to pass on, each ending in CRLF, without the blank line. */
  passOn: string;
}

/** Parses a response head (without its final blank line); undefined when malformed (502). */
export function parseResponseHead(head: string): ResponseHead | undefined {
  let eol = head.indexOf('\r\n');
  if (eol === -1) eol = head.length;
  // "HTTP/1.1 200 OK": version, a three-digit status, an optional reason.
  if (!head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 32 || (eol > 12 && head.charCodeAt(12) !== 32)) return undefined;
  const status = Number(head.slice(9, 12));
  if (!Number.isInteger(status) || status < 100 || eol < 12) return undefined;
  const r: ResponseHead = { status, contentLength: -1, chunked: false, otherEncoding: false, close: head.charCodeAt(7) === 48 /* 1.0 */, passOn: `${head.slice(0, eol)}\r\n` };
  let pos = eol + 2;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end === -1) end = head.length;
    const h = parseHeaderLine(head, pos, end);
    if (h === undefined) return undefined;
    const [name, value] = h;
    pos = end + 2;
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return undefined;
      r.contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      if (value.toLowerCase().endsWith('chunked')) r.chunked = true;
      else r.otherEncoding = true;
    } else if (name === 'connection') {
      const v = value.toLowerCase();
      if (v.includes('close')) r.close = true;
      else if (v.includes('keep-alive')) r.close = false;
    }
    if (!RESPONSE_HOP.has(name)) r.passOn += `${head.slice(h[2], end)}\r\n`;
  }
  return r;
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
