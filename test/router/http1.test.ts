// The L7 fast path's parsing units: request heads (what is refused, what is
// passed on), response heads and the chunked-body scanner fed in pieces.

import { describe, expect, it } from 'vitest';
import {
  bodiless, ChunkedScanner, INCOMPLETE, MAX_REQUEST_LINE, parseRequestHead as parseRequestBytes, parseResponseHead as parseResponseBytes, requestLineTooLong,
} from '../../src/router/http1.js';

// Heads as they arrive: followed by the blank line.
const received = (head: string): Buffer => Buffer.from(`${head}\r\n\r\n`, 'latin1');

function parseRequestHead(head: string): Exclude<ReturnType<typeof parseRequestBytes>, typeof INCOMPLETE> {
  const r = parseRequestBytes(received(head));
  if (r === INCOMPLETE) throw new Error(`incomplete: ${head}`);
  return r;
}

function parseResponseHead(head: string): Exclude<ReturnType<typeof parseResponseBytes>, typeof INCOMPLETE> {
  const r = parseResponseBytes(received(head));
  if (r === INCOMPLETE) throw new Error(`incomplete: ${head}`);
  return r;
}

/** What passes on of `head`, from the offsets a parser kept. */
function kept(head: string, keep: readonly number[]): string {
  const bytes = received(head);
  let out = '';
  for (let i = 0; i < keep.length; i += 2) out += bytes.toString('latin1', keep[i], keep[i + 1]);
  return out;
}

const CHUNKED = Buffer.from('5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-sum: 1\r\n\r\n');

describe('ChunkedScanner', () => {
  it('finds the end after the last chunk and its trailers, leaving what follows', () => {
    const buf = Buffer.concat([CHUNKED, Buffer.from('HTTP/1.1 200 OK\r\n')]);
    expect(new ChunkedScanner().feed(buf, 0)).toBe(CHUNKED.length);
  });

  it('finds the same end when the body arrives one byte at a time', () => {
    const s = new ChunkedScanner();
    const ends = [];
    for (let i = 0; i < CHUNKED.length; i++) ends.push(s.feed(CHUNKED.subarray(i, i + 1), 0));
    expect(ends.slice(0, -1).every((e) => e === -1)).toBe(true);
    expect(ends.at(-1)).toBe(1);
  });

  it('refuses framing that is not chunked', () => {
    for (const bad of ['zz\r\n', '5\r\nhelloXX', '\r\n', '5\nhello\r\n', '1234567890abc\r\n']) {
      expect(new ChunkedScanner().feed(Buffer.from(bad), 0), bad).toBe(-2);
    }
  });

  it('refuses control characters in chunk extensions and trailers, as in heads', () => {
    for (const bad of ['5;a=\u0000\r\n', '5;a=\u001b\r\n', '0\r\nx: a\u0000b\r\n\r\n', '0\r\nx: a\u007fb\r\n\r\n', '0\r\n x: a\r\n\r\n', '0\r\nx: a\nb\r\n\r\n']) {
      expect(new ChunkedScanner().feed(Buffer.from(bad, 'latin1'), 0), JSON.stringify(bad)).toBe(-2);
    }
    const tab = Buffer.from('1;a="b\tc"\r\nx\r\n0\r\n\r\n', 'latin1');
    expect(new ChunkedScanner().feed(tab, 0)).toBe(tab.length);
  });
});

describe('parseRequestHead', () => {
  it('reads what routing and framing need and passes on all but hop-by-hop headers', () => {
    const head = 'POST /api?q=1 HTTP/1.1\r\nHost: Shop.example:8000\r\nContent-Length: 5\r\nConnection: keep-alive, X-Drop\r\nKeep-Alive: 5\r\nCookie: a=1\r\nX-Forwarded-For: 10.0.0.1\r\nX-Trace: t1';
    const r = parseRequestHead(head);
    expect(r).toMatchObject({ method: 'POST', target: '/api?q=1', minor: 1, host: 'Shop.example:8000', contentLength: 5, chunked: false, close: false, cookie: 'a=1', forwardedFor: '10.0.0.1' });
    expect(kept(head, r!.keep)).toBe('POST /api?q=1 HTTP/1.1\r\nHost: Shop.example:8000\r\nContent-Length: 5\r\nCookie: a=1\r\nX-Trace: t1\r\n');
    // Names in any case; values trimmed of spaces and tabs; the last header dropped too.
    const mixed = 'GET / HTTP/1.1\r\nHOST:\t a.test \r\nx-forwarded-FOR: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nx-forwarded-host: b.test\r\nTE: trailers\r\nUpgrade: h2c';
    const m = parseRequestHead(mixed);
    expect(m).toMatchObject({ host: 'a.test', forwardedFor: '1.2.3.4', forwardedProto: 'https', forwardedHost: 'b.test', upgrade: undefined, lineLength: 14 });
    expect(kept(mixed, m!.keep)).toBe('GET / HTTP/1.1\r\nHOST:\t a.test \r\n');
  });

  it('refuses HTTP/1.1 without Host (400); HTTP/1.0 may omit it', () => {
    expect(parseRequestHead('GET / HTTP/1.1')).toBeUndefined();
    expect(parseRequestHead('GET / HTTP/1.1\r\nX-A: 1')).toBeUndefined();
    expect(parseRequestHead('GET / HTTP/1.0')).toMatchObject({ minor: 0, host: undefined });
  });

  it('knows when the client closes: Connection: close, or HTTP/1.0 without keep-alive', () => {
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost: a\r\nConnection: close')?.close).toBe(true);
    expect(parseRequestHead('GET / HTTP/1.0')?.close).toBe(true);
    expect(parseRequestHead('GET / HTTP/1.0\r\nConnection: Keep-Alive')?.close).toBe(false);
  });

  it('sees an upgrade only when Connection names it', () => {
    expect(parseRequestHead('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket')?.upgrade).toBe('websocket');
    expect(parseRequestHead('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket')?.upgrade).toBeUndefined();
  });

  it('refuses malformed and ambiguous heads', () => {
    // Each has a Host, so what is refused is the flaw named.
    const bad = [
      'GET /',
      'GET / HTTP/2.0',
      'GET  / HTTP/1.1',
      'G(T / HTTP/1.1',
      'GET / HTTP/1.1\r\nHost: a\r\nno colon here',
      'GET / HTTP/1.1\r\nHost: a\r\nBad Name: x',
      'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked',
      'GET / HTTP/1.1\r\nHost: a\r\nX: a\nb',
      'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb',
      'GET / HTTP/1.1\r\nHost: a\r\nX: a\u0000b',
      'GET /\u00e9 HTTP/1.1\r\nHost: a',
      'GET / HTTP/1.1 extra\r\nHost: a',
      'GET / HTTP/1.12\r\nHost: a',
    ];
    for (const h of bad) expect(parseRequestHead(h), h).toBeUndefined();
    expect(parseRequestHead('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked')?.chunked).toBe(true);
  });

  it('refuses every control character but HTAB in every field value', () => {
    for (let c = 0; c < 32; c++) {
      if (c === 9 || c === 10 || c === 13) continue;
      for (const field of ['Host', 'X-A', 'Cookie', 'Content-Length', 'Transfer-Encoding']) {
        expect(parseRequestHead(`GET / HTTP/1.1\r\n${field === 'Host' ? '' : 'Host: a\r\n'}${field}: a${String.fromCharCode(c)}b`), `${field} ${c}`).toBeUndefined();
      }
    }
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u007fb')).toBeUndefined();
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb')).toMatchObject({ host: 'a' });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-A: a\u0001b')).toBeUndefined();
  });

  it('knows a request line that is too long (414) before its end arrives', () => {
    const long = Buffer.from(`GET /${'a'.repeat(MAX_REQUEST_LINE)}`, 'latin1');
    expect(requestLineTooLong(long)).toBe(true);
    expect(requestLineTooLong(Buffer.from(`GET /${'a'.repeat(100)} HTTP/1.1\r\nX: ${'b'.repeat(MAX_REQUEST_LINE)}`, 'latin1'))).toBe(false);
    expect(parseRequestHead(`GET /${'a'.repeat(MAX_REQUEST_LINE)} HTTP/1.1\r\nHost: a`)?.lineLength).toBe(MAX_REQUEST_LINE + 14);
  });
});

describe('where a head ends', () => {
  it('says incomplete until the blank line is there, and how long the head is with what follows it', () => {
    const whole = Buffer.from('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b', 'latin1');
    for (const cut of [1, 5, 10, 16, 20, 26, 27]) expect(parseRequestBytes(whole.subarray(0, cut)), String(cut)).toBe(INCOMPLETE);
    expect(parseRequestBytes(whole)).toMatchObject({ target: '/a', length: 28 });
    const res = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'latin1');
    for (const cut of [3, 12, 17, 20, 36, 37]) expect(parseResponseBytes(res.subarray(0, cut)), String(cut)).toBe(INCOMPLETE);
    expect(parseResponseBytes(res)).toMatchObject({ status: 200, contentLength: 2, length: 38 });
  });

  it('refuses a broken head at once, without waiting for its end', () => {
    expect(parseRequestBytes(Buffer.from('G(T / HT', 'latin1'))).toBeUndefined();
    expect(parseRequestBytes(Buffer.from('GET / HTTP/1.1\r\nBad Name', 'latin1'))).toBeUndefined();
    expect(parseResponseBytes(Buffer.from('HTTX', 'latin1'))).toBeUndefined();
  });
});

describe('parseResponseHead', () => {
  it('reads status and framing and drops hop-by-hop headers', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: 1';
    const r = parseResponseHead(head);
    expect(r).toMatchObject({ status: 200, contentLength: 12, chunked: false, otherEncoding: false, close: false });
    expect(kept(head, r!.keep)).toBe('HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: 1\r\n');
    const last = 'HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close';
    expect(kept(last, parseResponseHead(last)!.keep)).toBe('HTTP/1.1 200 OK\r\nX-A: 1\r\n');
    expect(kept('HTTP/1.1 304', parseResponseHead('HTTP/1.1 304')!.keep)).toBe('HTTP/1.1 304\r\n');
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close')).toMatchObject({ chunked: true, close: true });
    expect(parseResponseHead('HTTP/1.0 200 OK')).toMatchObject({ close: true, contentLength: -1 });
    expect(parseResponseHead('HTTP/1.1 204')?.status).toBe(204);
  });

  it('refuses what is not an HTTP/1 response', () => {
    for (const h of ['HTTP/2 200 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 abc OK', 'hello', 'HTTP/1.1 200 OK\r\nbroken', 'HTTP/1.1 200 OK\nX: 1', 'HTTP/1.1 200 OK\r\nX: a\rb', 'HTTP/1.1 200 OK\r\nContent-Length: 1x']) {
      expect(parseResponseHead(h), h).toBeUndefined();
    }
  });
});

describe('bodiless', () => {
  it('is true for HEAD, 1xx, 204 and 304 whatever the headers say', () => {
    expect([bodiless('HEAD', 200), bodiless('GET', 204), bodiless('GET', 304), bodiless('GET', 100), bodiless('GET', 200)]).toEqual([true, true, true, true, false]);
  });
});
