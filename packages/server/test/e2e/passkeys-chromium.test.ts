/**
 * Passkeys in a real browser: Debian's Chromium (through playwright-core) with the Chrome DevTools
 * Protocol's virtual authenticator (`WebAuthn.addVirtualAuthenticator`: CTAP2, internal transport,
 * resident keys, user verification). A page served by this test on http://localhost:<port> fetches
 * options from a listening Basalt, calls `navigator.credentials.create()` / `.get()` and posts the
 * answers back: registration and passwordless sign-in must succeed.
 *
 * Chromium is required: when it cannot start, the test fails with a message saying so (no skip).
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, type TestApp } from '../support/app.ts';

/** Debian's Chromium (this machine, `.ci/run` installs it), or `BASALT_TEST_CHROMIUM` (e.g. Chrome on GitHub's runners). */
const CHROMIUM = process.env.BASALT_TEST_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const password = 'correct horse 1';

/** The page: two functions the test calls, written against the WebAuthn JSON helpers of the browser. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Basalt passkeys</title></head>
<body><p>Basalt passkey test page</p>
<script>
async function call(api, path, body, token) {
  const res = await fetch(api + path, {
    method: 'POST',
    headers: Object.assign({ 'content-type': 'application/json' }, token ? { authorization: token } : {}),
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
window.basaltRegister = async (api, token) => {
  const options = await call(api, '/api/collections/users/passkeys/options', {}, token);
  if (options.status !== 200) return { step: 'options', ...options };
  const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body) });
  return call(api, '/api/collections/users/passkeys', { credential: credential.toJSON(), name: 'Chromium' }, token);
};
window.basaltSignIn = async (api) => {
  const options = await call(api, '/api/collections/users/auth-with-passkey/options', {});
  if (options.status !== 200) return { step: 'options', ...options };
  const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.body) });
  return call(api, '/api/collections/users/auth-with-passkey', { credential: credential.toJSON() });
};
</script></body></html>`;

function amrOf(token: string): string[] {
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { amr?: string[] };
  return [...(claims.amr ?? [])].sort();
}

async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) assert.fail(`Chromium is required for this test and ${CHROMIUM} is missing: install it with \`apt-get install -y chromium\`.`);
  try {
    return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (e) {
    assert.fail(`Chromium (${CHROMIUM}) could not start: ${(e as Error).message}`);
  }
}

for (const dialect of dialects()) {
  describe(`passkeys in Chromium with a virtual authenticator (${dialect})`, () => {
    let t: TestApp;
    let api: string;
    let pageServer: Server;
    let pageOrigin: string;
    let browser: Browser | undefined;
    let page: Page;

    before(async () => {
      pageServer = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      });
      await new Promise<void>((resolve) => pageServer.listen(0, 'localhost', resolve));
      pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
      t = await startTestApp(dialect, { corsOrigins: [pageOrigin] });
      api = (await t.app.listen()).replace('localhost', '127.0.0.1');
      await createCollection(t, {
        name: 'users', type: 'auth', createRule: '', fields: [],
        passkeys: { enabled: true, rpName: 'Basalt e2e', rpId: 'localhost', origins: [pageOrigin] },
      });
      browser = await launchChromium();
      page = await browser.newPage();
      // The virtual authenticator lives in the page's target: a platform authenticator that always
      // verifies the user and holds discoverable credentials.
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.enable', { enableUI: false });
      await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await page.goto(`${pageOrigin}/`);
    });
    after(async () => {
      await browser?.close();
      await new Promise((resolve) => pageServer?.close(resolve));
      await t?.dispose();
    });

    it('registers a passkey and signs in with it, passwordless', async () => {
      const created = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email: 'web@example.com', password, passwordConfirm: password } });
      assert.equal(created.statusCode, 200, created.body);
      const id = (created.json() as { id: string }).id;
      const signedIn = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'web@example.com', password } });
      const token = (signedIn.json() as { token: string }).token;

      const registered = await page.evaluate(([a, tk]) => (globalThis as unknown as { basaltRegister(a: string, t: string): Promise<unknown> }).basaltRegister(a, tk), [api, token] as const) as { status: number; body: Record<string, unknown> };
      assert.equal(registered.status, 200, JSON.stringify(registered));
      assert.equal(registered.body.name, 'Chromium');

      const signIn = await page.evaluate((a) => (globalThis as unknown as { basaltSignIn(a: string): Promise<unknown> }).basaltSignIn(a), api) as { status: number; body: { token: string; record: { id: string } } };
      assert.equal(signIn.status, 200, JSON.stringify(signIn));
      assert.equal(signIn.body.record.id, id);
      const amr = amrOf(signIn.body.token);
      assert.ok(amr.includes('user') && amr.includes('mfa') && (amr.includes('hwk') || amr.includes('swk')), amr.join(','));
      // The token works against the API.
      const me = await t.app.http.inject({ method: 'GET', url: '/api/collections/users/auth-sessions', headers: { authorization: signIn.body.token } });
      assert.equal(me.statusCode, 200, me.body);
    });
  });
}
