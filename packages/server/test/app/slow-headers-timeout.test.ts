/**
 * Slowloris: a client that opens a connection and sends its request line and headers a few bytes at a
 * time, never finishing them, is disconnected within `timeouts.headersMs` (default 10 s), on HTTP and
 * on HTTPS (where a client that never even finishes the TLS handshake is cut off too), while normal
 * requests — also ones that are merely slow, within the limit — keep being answered. Real sockets.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { dialects } from '../support/databases.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { selfSignedCertificate, type TestCertificate } from '../support/tls.ts';
import { loadConfig } from '../../src/app/index.ts';

/** Slack for a loaded test machine; the point is "seconds, not a minute or never". */
const SLACK_MS = 1500;

interface SlowResult {
  /** From connect to the server closing the connection. */
  closedAfterMs: number;
  received: string;
}

/**
 * Connect, send `first` at once, then one piece of `drip` every `everyMs` until the server closes
 * the connection (or `giveUpMs` passes: then `closedAfterMs` is Infinity).
 */
function slowClient(open: () => Socket, first: string, drip: string[], everyMs: number, giveUpMs: number): Promise<SlowResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = open();
    let received = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const send = () => {
      if (socket.destroyed || !socket.writable) return;
      socket.write(i === 0 ? first : drip[(i - 1) % drip.length]);
      i++;
      timer = setTimeout(send, everyMs);
    };
    socket.once(socket.constructor.name === 'TLSSocket' ? 'secureConnect' : 'connect', send);
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('close', () => {
      clearTimeout(timer);
      const elapsed = performance.now() - started;
      clearTimeout(giveUp);
      resolve({ closedAfterMs: elapsed >= giveUpMs ? Infinity : elapsed, received });
    });
  });
}

const HEADER_DRIP = Array.from({ length: 1000 }, (_, n) => `X-Slow-${n}: y\r\n`);
/** The request line itself (still inside the path), one character at a time: never even reaches the headers. */
const LINE_DRIP = Array(1000).fill('a');

function assertCutOff(r: SlowResult, headersMs: number, what: string): void {
  assert.ok(r.closedAfterMs <= headersMs + SLACK_MS, `${what}: closed after ${Math.round(r.closedAfterMs)} ms, limit ${headersMs} ms`);
  // Not before most of the limit: it is the headers timeout that closed it, not something else.
  assert.ok(r.closedAfterMs >= headersMs * 0.8, `${what}: closed too early, after ${Math.round(r.closedAfterMs)} ms`);
}

describe('slow clients are disconnected (headers timeout)', () => {
  it('the default limit is at most 10 s', () => {
    assert.ok(loadConfig({}, {}).timeouts.headersMs <= 10_000);
  });

  describe('HTTP, default configuration', () => {
    let t: TestApp;
    let port: number;
    before(async () => {
      t = await startTestApp(dialects()[0]);
      port = Number(new URL(await t.app.listen()).port);
    });
    after(async () => t.dispose());

    it('a slowloris dripping headers is cut off within the default 10 s; health answers meanwhile', async () => {
      const headersMs = t.app.config.timeouts.headersMs;
      const slow = slowClient(() => tcpConnect(port, '127.0.0.1'), 'GET /api/health HTTP/1.1\r\nHost: x\r\n', HEADER_DRIP, 300, 60_000);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal((await fetch(`http://127.0.0.1:${port}/api/health`)).status, 200, 'normal requests keep working');
      }
      const r = await slow;
      assertCutOff(r, headersMs, 'default-config slowloris');
      assert.match(r.received, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout before closing');
    });
  });

  describe('HTTP, timeouts.headersMs = 2000', () => {
    const headersMs = 2000;
    let t: TestApp;
    let port: number;
    before(async () => {
      t = await startTestApp(dialects()[0], { timeouts: { ...loadConfig({}, {}).timeouts, headersMs } });
      port = Number(new URL(await t.app.listen()).port);
    });
    after(async () => t.dispose());

    const open = () => tcpConnect(port, '127.0.0.1');
    const cases: [string, () => Promise<SlowResult>][] = [
      ['half a request line, then one byte at a time', () => slowClient(open, 'GET /api/he', LINE_DRIP, 200, 30_000)],
      ['a request line, then headers that never end', () => slowClient(open, 'GET /api/health HTTP/1.1\r\nHost: x\r\n', HEADER_DRIP, 200, 30_000)],
      ['a connection that sends nothing', () => slowClient(open, '', [''], 10_000, 30_000)],
      [
        'a second request on a keep-alive connection that never ends its headers',
        () => slowClient(open, 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/health HTTP/1.1\r\n', HEADER_DRIP, 200, 30_000),
      ],
    ];
    for (const [name, run] of cases) {
      it(`${name}: disconnected within ${headersMs} ms`, async () => {
        const r = await run();
        assertCutOff(r, headersMs, name);
      });
    }

    it('many slow clients at once do not stop normal requests', async () => {
      const slow = Array.from({ length: 20 }, () => slowClient(open, 'GET / HTTP/1.1\r\n', HEADER_DRIP, 250, 30_000));
      await new Promise((r) => setTimeout(r, 300));
      const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`http://127.0.0.1:${port}/api/health`).then((res) => res.status)));
      assert.deepEqual(answers, Array(10).fill(200));
      for (const r of await Promise.all(slow)) assertCutOff(r, headersMs, 'one of 20 slow clients');
    });

    it('a client that is slow but finishes its headers within the limit is answered', async () => {
      const got = await new Promise<string>((resolve, reject) => {
        const s = open();
        let text = '';
        const parts = ['GET /api/health HTTP/1.1\r\n', 'Host: x\r\n', 'X-A: 1\r\n', 'Connection: close\r\n', '\r\n'];
        let i = 0;
        const next = () => {
          if (i < parts.length) {
            s.write(parts[i++]);
            setTimeout(next, 200);
          }
        };
        s.on('connect', next);
        s.on('data', (d) => (text += d));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
      assert.match(got, /^HTTP\/1\.1 200 /);
    });
  });

  describe('HTTPS, timeouts.headersMs = 2000', () => {
    const headersMs = 2000;
    let tls: TestCertificate;
    let t: TestApp;
    let port: number;
    let ca: Buffer;
    before(async () => {
      tls = selfSignedCertificate();
      ca = tls.cert;
      t = await startTestApp(dialects()[0], { tlsCert: tls.certFile, tlsKey: tls.keyFile, timeouts: { ...loadConfig({}, {}).timeouts, headersMs } });
      port = Number(new URL(await t.app.listen()).port);
    });
    after(async () => {
      await t.dispose();
      tls.cleanup();
    });

    const health = () => new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/api/health', ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });

    it('a slowloris after the TLS handshake is cut off within the limit; HTTPS requests answer meanwhile', async () => {
      const slow = slowClient(() => tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }), 'GET /api/health HTTP/1.1\r\nHost: x\r\n', HEADER_DRIP, 200, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await health(), 200);
      assertCutOff(await slow, headersMs, 'TLS slowloris');
    });

    it('a client that never finishes the TLS handshake is cut off within the limit', async () => {
      // Plain TCP that sends half a ClientHello-sized nothing: the handshake never completes.
      const r = await slowClient(() => tcpConnect(port, '127.0.0.1'), '\x16\x03\x01', [''], 10_000, 30_000);
      assertCutOff(r, headersMs, 'stalled TLS handshake');
    });
  });
});
