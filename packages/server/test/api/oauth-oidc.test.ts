/**
 * OAuth2 / OpenID Connect sign-in end to end against a real provider (`oidc-provider`) started in the
 * test: the flow driven over HTTP as a browser would, new accounts, known identities, linking by the
 * advisories' rules (GHSA-m93w-4fxv-r35v, GHSA-pq7p-mc74-g65w), tampered state, wrong redirect URI,
 * reused code, wrong nonce, missing PKCE, disabled providers, and no provider secret or token in any
 * answer (tokens sealed in the database). One happy path goes through the `pocketbase` SDK.
 * Regression tests of the security review: linking needs a recent sign-in and mails the owner, a
 * linking proof of an unverified account ends the squatter's access, `createData.password` needs a
 * provider-verified email, and concurrent first sign-ins never end in a 5xx.
 */
import { describe, before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import PocketBase from 'pocketbase';
import { roomInWindow } from '../support/rate-windows.ts';
import { dialects } from '../support/databases.ts';
import { startTestApp, createCollection, createRecord, type TestApp } from '../support/app.ts';
import { startIssuer, type Callback, type TestIssuer } from '../support/oidc-issuer.ts';
import { startSmtp, type TestSmtp } from '../support/smtp.ts';
import { SecretBox } from '../../src/secrets/index.ts';
import { loadConfig } from '../../src/app/index.ts';
import { identityTokenAad } from '../../src/auth/oauth/index.ts';

interface ProviderInfo { name: string; displayName: string; state: string; authURL: string; codeVerifier: string; codeChallenge: string; codeChallengeMethod: string }
interface Answer { status: number; body: Record<string, unknown>; text: string }

const PASSWORD = 'correct horse 1';

for (const dialect of dialects()) {
  describe(`OAuth2 / OpenID Connect sign-in (${dialect})`, () => {
    let t: TestApp;
    let idp: TestIssuer;
    let smtp: TestSmtp;
    let redirect: string;
    /** Every answer body the tests saw, to check no secret ever appears in one. */
    const seen: string[] = [];

    before(async () => {
      idp = await startIssuer();
      smtp = await startSmtp();
      redirect = idp.redirectURIs[0];
      // The flows here run many sign-ins from one address; the limits have their own test below.
      t = await startTestApp(dialect, { smtp: smtp.config, rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 10_000, signUpPerIp: 10_000 } });
      await createCollection(t, {
        name: 'users', type: 'auth', createRule: '', viewRule: 'id = @request.auth.id', updateRule: 'id = @request.auth.id',
        fields: [{ name: 'name', type: 'text', max: 100 }],
        oauth2: {
          enabled: true, mappedFields: { name: 'name' },
          providers: [{ name: 'acme', displayName: 'Acme ID', clientId: idp.clientId, clientSecret: idp.clientSecret, discoveryUrl: idp.issuer }],
        },
      });
    });
    after(async () => {
      await t.dispose();
      await idp.close();
      await smtp.close();
    });

    async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, token?: string): Promise<Answer> {
      const res = await t.app.http.inject({ method, url, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}), headers: token ? { authorization: token } : {} });
      seen.push(res.body);
      return { status: res.statusCode, body: res.body ? (res.json() as Record<string, unknown>) : {}, text: res.body };
    }

    async function startFlow(query = '', collection = 'users'): Promise<ProviderInfo> {
      const res = await call('GET', `/api/collections/${collection}/auth-methods${query}`);
      assert.equal(res.status, 200, res.text);
      const providers = (res.body.oauth2 as { providers: ProviderInfo[] }).providers;
      assert.equal(providers.length, 1);
      return providers[0];
    }

    /** The browser part: open the authorization URL with our redirect URI, sign in at the provider. */
    async function browse(p: ProviderInfo, sub: string, opts: { redirectURL?: string; edit?: (u: URL) => void } = {}): Promise<Callback> {
      const url = new URL(p.authURL.endsWith('redirect_uri=') ? p.authURL + encodeURIComponent(opts.redirectURL ?? redirect) : p.authURL);
      opts.edit?.(url);
      return idp.authorize(url.href, sub);
    }

    function exchange(body: Record<string, unknown>, token?: string): Promise<Answer> {
      return call('POST', '/api/collections/users/auth-with-oauth2', body, token);
    }

    /** A full sign-in as `sub`; answers the auth-with-oauth2 answer. */
    async function signInAs(sub: string, extra: Record<string, unknown> = {}, token?: string): Promise<Answer> {
      const p = await startFlow();
      const cb = await browse(p, sub);
      assert.ok(cb.code, `no code: ${cb.error}`);
      return exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state, ...extra }, token);
    }

    async function identities(recordId?: string): Promise<Record<string, unknown>[]> {
      return recordId === undefined
        ? t.app.db.all('SELECT * FROM _oauth_identities ORDER BY created')
        : t.app.db.all('SELECT * FROM _oauth_identities WHERE record_id = ?', [recordId]);
    }

    function claimsOf(token: string): Record<string, unknown> {
      return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
    }

    it('auth-methods answers PocketBase\'s provider shape, never cached, with PKCE S256, state and nonce', async () => {
      const res = await t.app.http.inject({ method: 'GET', url: '/api/collections/users/auth-methods' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['cache-control'], 'no-store');
      const oauth2 = (res.json() as { oauth2: { enabled: boolean; providers: ProviderInfo[] } }).oauth2;
      assert.equal(oauth2.enabled, true);
      const p = oauth2.providers[0];
      assert.equal(p.name, 'acme');
      assert.equal(p.displayName, 'Acme ID');
      assert.equal(p.codeChallengeMethod, 'S256');
      assert.equal(p.codeChallenge, createHash('sha256').update(p.codeVerifier).digest('base64url'));
      assert.ok(p.authURL.startsWith(`${idp.issuer}/`));
      assert.ok(p.authURL.endsWith('&redirect_uri='), 'the client appends its redirect URI');
      const q = new URL(p.authURL).searchParams;
      assert.equal(q.get('state'), p.state);
      assert.equal(q.get('code_challenge'), p.codeChallenge);
      assert.equal(q.get('client_id'), idp.clientId);
      assert.ok((q.get('nonce') ?? '').length >= 32);
      assert.deepEqual(q.get('scope')?.split(' ').sort(), ['email', 'openid', 'profile']);
      // The server keeps the state hashed and the verifier only as its challenge.
      const row = await t.app.db.get<Record<string, unknown>>('SELECT * FROM _oauth_flows WHERE challenge = ?', [p.codeChallenge]);
      assert.ok(row);
      assert.notEqual(row.state_hash, p.state);
      assert.ok(!JSON.stringify(row).includes(p.codeVerifier));
    });

    it('a new user is created, verified as the provider says, with mapped fields, and signed in with amr fed', async () => {
      idp.accounts.set('alice-sub', { email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' });
      const res = await signInAs('alice-sub', { createData: { name: 'ignored: createData wins over mapping?' } });
      assert.equal(res.status, 200, res.text);
      const record = res.body.record as Record<string, unknown>;
      assert.equal(record.email, 'alice@example.com');
      assert.equal(record.verified, true);
      const meta = res.body.meta as Record<string, unknown>;
      assert.equal(meta.isNew, true);
      assert.equal(meta.id, 'alice-sub');
      assert.equal(meta.email, 'alice@example.com');
      assert.equal(meta.name, 'Alice Liddell');
      assert.ok(typeof res.body.refreshToken === 'string');
      assert.deepEqual(claimsOf(res.body.token as string).amr, ['fed']);
      // createData is the user's own choice and wins over the mapped profile value (PocketBase).
      assert.equal(record.name, 'ignored: createData wins over mapping?');
      const me = await call('GET', `/api/collections/users/records/${String(record.id)}`, undefined, res.body.token as string);
      assert.equal(me.status, 200);
      const rows = await identities(String(record.id));
      assert.equal(rows.length, 1);
      assert.equal(rows[0].provider, 'acme');
      assert.equal(rows[0].subject, 'alice-sub');
      const audit = await t.app.audit.list(0, 1000, 'auth.signin');
      assert.ok(audit.some((a) => a.outcome === 'success' && a.details.method === 'oauth2' && a.target === `users/${String(record.id)}`));
    });

    it('mapped fields fill what createData leaves out', async () => {
      idp.accounts.set('amy-sub', { email: 'amy@example.com', email_verified: true, name: 'Amy Pond' });
      const res = await signInAs('amy-sub');
      assert.equal(res.status, 200, res.text);
      assert.equal((res.body.record as Record<string, unknown>).name, 'Amy Pond');
      // A profile value the collection rejects (longer than the field allows) is left out, not fatal.
      idp.accounts.set('long-sub', { email: 'long@example.com', email_verified: true, name: 'N'.repeat(150) });
      const long = await signInAs('long-sub');
      assert.equal(long.status, 200, long.text);
      assert.equal((long.body.record as Record<string, unknown>).name, '');
    });

    it('a known identity signs in to its record (PocketBase SDK form: no state, flow found by the verifier)', async () => {
      const first = await signInAs('alice-sub');
      assert.equal(first.status, 200, first.text);
      const p = await startFlow();
      const cb = await browse(p, 'alice-sub');
      // A stale token the SDK still holds does not get in the way (it counts as no caller, as in PocketBase).
      const res = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect }, 'an-expired-or-garbage-token');
      assert.equal(res.status, 200, res.text);
      assert.equal((res.body.record as { id: string }).id, (first.body.record as { id: string }).id);
      assert.equal((res.body.meta as { isNew: boolean }).isNew, false);
    });

    it('links to an existing verified account when the provider verified the same email', async () => {
      const bob = await createRecord(t, 'users', { email: 'bob@example.com', password: PASSWORD, passwordConfirm: PASSWORD, verified: true });
      idp.accounts.set('bob-sub', { email: 'bob@example.com', email_verified: true, name: 'Bob' });
      const res = await signInAs('bob-sub');
      assert.equal(res.status, 200, res.text);
      assert.equal((res.body.record as { id: string }).id, bob.id);
      assert.equal((res.body.meta as { isNew: boolean }).isNew, false);
      const audit = await t.app.audit.list(0, 1000, 'auth.oauth_link');
      assert.ok(audit.some((a) => a.outcome === 'success' && a.details.auto === true && a.target === `users/${String(bob.id)}`));
    });

    it('an OAuth sign-in completes an MFA sign-in, with the mfaId where the SDK puts it (query string)', async () => {
      const on = await call('PATCH', '/api/collections/users', { mfa: { enabled: true } }, t.superuserToken);
      assert.equal(on.status, 200, on.text);
      try {
        const first = await call('POST', '/api/collections/users/auth-with-password', { identity: 'bob@example.com', password: PASSWORD });
        assert.equal(first.status, 401, first.text);
        const mfaId = String(first.body.mfaId);
        const p = await startFlow();
        const cb = await browse(p, 'bob-sub');
        const res = await call('POST', `/api/collections/users/auth-with-oauth2?mfaId=${encodeURIComponent(mfaId)}`, { provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual([...(claimsOf(String(res.body.token)).amr as string[])].sort(), ['fed', 'mfa', 'pwd']);
      } finally {
        await call('PATCH', '/api/collections/users', { mfa: { enabled: false } }, t.superuserToken);
      }
    });

    it('oauth-link-unverified-account: never signs into a squatter\'s unverified account with the victim\'s email (GHSA-m93w-4fxv-r35v)', async () => {
      // The attacker registers the victim's address with a password of their own; it stays unverified.
      const squat = await call('POST', '/api/collections/users/records', { email: 'carol@example.com', password: PASSWORD, passwordConfirm: PASSWORD });
      assert.equal(squat.status, 200, squat.text);
      idp.accounts.set('carol-sub', { email: 'carol@example.com', email_verified: true, name: 'Carol' });
      const res = await signInAs('carol-sub');
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, 'oauth_link_refused');
      assert.equal((res.body.data as { reason: string }).reason, 'account_unverified');
      assert.ok(!('token' in res.body));
      assert.equal((await identities(String(squat.body.id))).length, 0);
      const audit = await t.app.audit.list(0, 1000, 'auth.oauth_link');
      assert.ok(audit.some((a) => a.outcome === 'failure' && a.details.reason === 'oauth_link_refused'));
    });

    it('never links a provider email the provider did not verify to an existing account', async () => {
      await createRecord(t, 'users', { email: 'dora@example.com', password: PASSWORD, passwordConfirm: PASSWORD, verified: true });
      idp.accounts.set('mallory-sub', { email: 'dora@example.com', email_verified: false });
      const res = await signInAs('mallory-sub');
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, 'oauth_link_refused');
      assert.equal((res.body.data as { reason: string }).reason, 'provider_email_unverified');
    });

    it('oauth-createdata-email: createData cannot choose the new account\'s email or verified flag (GHSA-pq7p-mc74-g65w)', async () => {
      idp.accounts.set('dave-sub', { email: 'dave@example.com', email_verified: false });
      const res = await signInAs('dave-sub', { createData: { email: 'victim@example.com', verified: true, name: 'Dave' } });
      assert.equal(res.status, 200, res.text);
      const record = res.body.record as Record<string, unknown>;
      assert.equal(record.email, 'dave@example.com');
      assert.equal(record.verified, false);
      assert.equal(await t.app.records.findRawBy('users', 'email', 'victim@example.com'), undefined);
    });

    it('identities linked while an account was unverified are dropped when it gets verified', async () => {
      idp.accounts.set('erin-sub', { email: 'erin@example.com', email_verified: false });
      const res = await signInAs('erin-sub');
      assert.equal(res.status, 200, res.text);
      const id = String((res.body.record as { id: string }).id);
      assert.equal((res.body.record as { verified: boolean }).verified, false);
      assert.equal((await identities(id)).length, 1);
      const verify = await call('PATCH', `/api/collections/users/records/${id}`, { verified: true }, t.superuserToken);
      assert.equal(verify.status, 200, verify.text);
      assert.equal((await identities(id)).length, 0);
    });

    it('a tampered state is refused, and so is a verifier that does not belong to the state', async () => {
      idp.accounts.set('frank-sub', { email: 'frank@example.com', email_verified: true });
      const p = await startFlow();
      const cb = await browse(p, 'frank-sub');
      const tampered = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: `${cb.state}x` });
      assert.equal(tampered.status, 400);
      assert.equal(tampered.body.code, 'oauth_state_invalid');
      const other = await startFlow();
      const mixed = await exchange({ provider: 'acme', code: cb.code, codeVerifier: other.codeVerifier, redirectURL: redirect, state: cb.state });
      assert.equal(mixed.status, 400);
      assert.equal(mixed.body.code, 'oauth_state_invalid');
      // Both attempts used up the flow they named: the genuine callback cannot complete any more.
      const late = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state });
      assert.equal(late.body.code, 'oauth_state_invalid');
    });

    it('an expired flow is refused', async () => {
      const p = await startFlow();
      const cb = await browse(p, 'frank-sub');
      await t.app.db.run('UPDATE _oauth_flows SET expires = ? WHERE challenge = ?', ['2000-01-01 00:00:00.000Z', p.codeChallenge]);
      const res = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'oauth_state_invalid');
    });

    it('a wrong redirect URI is refused by the provider at the token exchange', async () => {
      idp.accounts.set('gina-sub', { email: 'gina@example.com', email_verified: true });
      const p = await startFlow();
      const cb = await browse(p, 'gina-sub');
      const res = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: idp.redirectURIs[1], state: cb.state });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, 'oauth_code_invalid');
      assert.ok(!res.text.includes(idp.clientSecret));
    });

    it('a flow pinned to a redirect URI (?redirectURL=) refuses any other one itself', async () => {
      const p = await startFlow(`?redirectURL=${encodeURIComponent(redirect)}`);
      assert.ok(new URL(p.authURL).searchParams.get('redirect_uri') === redirect);
      const cb = await browse(p, 'gina-sub');
      assert.ok(cb.code);
      const res = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: idp.redirectURIs[1], state: cb.state });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'oauth_redirect_mismatch');
      const bad = await call('GET', '/api/collections/users/auth-methods?redirectURL=javascript:alert(1)');
      assert.equal(bad.status, 400);
    });

    it('a reused code is refused: the flow is consumed, and the provider rejects the code again', async () => {
      idp.accounts.set('hank-sub', { email: 'hank@example.com', email_verified: true });
      const p = await startFlow();
      const cb = await browse(p, 'hank-sub');
      const body = { provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state };
      assert.equal((await exchange(body)).status, 200);
      const replay = await exchange(body);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.code, 'oauth_state_invalid');
      // Replayed inside a fresh flow: the provider itself refuses the used code.
      const q = await startFlow();
      const again = await exchange({ ...body, codeVerifier: q.codeVerifier, state: q.state });
      assert.equal(again.status, 400);
      assert.equal(again.body.code, 'oauth_code_invalid');
    });

    it('two concurrent callbacks with one flow: exactly one signs in', async () => {
      const p = await startFlow();
      const cb = await browse(p, 'hank-sub');
      const body = { provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state };
      const answers = await Promise.all([exchange(body), exchange(body), exchange(body)]);
      assert.equal(answers.filter((a) => a.status === 200).length, 1, answers.map((a) => a.text).join('\n'));
      for (const a of answers.filter((x) => x.status !== 200)) assert.equal(a.body.code, 'oauth_state_invalid');
    });

    it('an ID token with another nonce is refused', async () => {
      const p = await startFlow();
      const cb = await browse(p, 'hank-sub', { edit: (u) => u.searchParams.set('nonce', 'a-nonce-the-attacker-chose-0123456789abcdef') });
      assert.ok(cb.code);
      const res = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, 'oauth_id_token_invalid');
    });

    it('PKCE is required: the provider refuses a request without a challenge, Basalt one without a verifier', async () => {
      const p = await startFlow();
      const cb = await browse(p, 'hank-sub', { edit: (u) => { u.searchParams.delete('code_challenge'); u.searchParams.delete('code_challenge_method'); } });
      assert.equal(cb.code, null);
      assert.equal(cb.error, 'invalid_request');
      const q = await startFlow();
      const cb2 = await browse(q, 'hank-sub');
      const res = await exchange({ provider: 'acme', code: cb2.code, redirectURL: redirect, state: cb2.state });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'validation_failed');
      assert.ok('codeVerifier' in (res.body.data as object));
    });

    it('malformed bodies are 400s with field errors, never 5xx', async () => {
      for (const body of [{}, { provider: 'acme' }, { provider: 'acme', code: 'x', codeVerifier: 'short', redirectURL: redirect }, { provider: 'acme', code: 'x', codeVerifier: 'v'.repeat(43), redirectURL: 'not a url' },
        { provider: 'acme', code: 'x', codeVerifier: 'v'.repeat(43), redirectURL: `${redirect}?a=1` }, { provider: 42, code: [], redirectURL: {} }, { provider: 'acme', code: 'x', state: 's', redirectURL: redirect, createData: 'nope' }]) {
        const res = await exchange(body);
        assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
      }
    });

    it('a signed-in user links a provider account to itself, lists it and unlinks it; another account\'s identity is refused', async () => {
      const ivy = await createRecord(t, 'users', { email: 'ivy@example.com', password: PASSWORD, passwordConfirm: PASSWORD });
      const login = await call('POST', '/api/collections/users/auth-with-password', { identity: 'ivy@example.com', password: PASSWORD });
      const token = login.body.token as string;
      idp.accounts.set('ivy-work-sub', { email: 'ivy@work.example', email_verified: true });
      const linked = await signInAs('ivy-work-sub', {}, token);
      assert.equal(linked.status, 200, linked.text);
      assert.equal((linked.body.record as { id: string }).id, ivy.id);
      const list = await call('GET', '/api/collections/users/oauth2-identities', undefined, token);
      assert.equal(list.status, 200);
      const items = list.body.items as { id: string; provider: string; providerId: string }[];
      assert.deepEqual(items.map((i) => [i.provider, i.providerId]), [['acme', 'ivy-work-sub']]);
      assert.ok(!list.text.includes('token'));
      // Alice's provider account is hers: Ivy cannot take it over by linking it.
      const taken = await signInAs('alice-sub', {}, token);
      assert.equal(taken.status, 409, taken.text);
      assert.equal(taken.body.code, 'oauth_identity_taken');
      assert.equal((await call('GET', '/api/collections/users/oauth2-identities', undefined, undefined)).status, 401);
      const un = await call('DELETE', `/api/collections/users/oauth2-identities/${items[0].id}`, undefined, token);
      assert.equal(un.status, 204);
      assert.equal((await identities(String(ivy.id))).length, 0);
    });

    it('a provider verifying the signed-in account\'s own email verifies it, and drops a squatter\'s earlier link', async () => {
      // The squatter registered jo@example.com and linked their own provider account while unverified.
      await call('POST', '/api/collections/users/records', { email: 'jo@example.com', password: PASSWORD, passwordConfirm: PASSWORD });
      const squatter = await call('POST', '/api/collections/users/auth-with-password', { identity: 'jo@example.com', password: PASSWORD });
      idp.accounts.set('squatter-sub', { email: 'squatter@example.com', email_verified: true });
      assert.equal((await signInAs('squatter-sub', {}, squatter.body.token as string)).status, 200);
      const id = String((squatter.body.record as { id: string }).id);
      assert.equal((await identities(id)).length, 1);
      // The address's owner (who reset the password, say) links a provider account proving jo@example.com.
      idp.accounts.set('jo-sub', { email: 'jo@example.com', email_verified: true });
      const owner = await signInAs('jo-sub', {}, squatter.body.token as string);
      assert.equal(owner.status, 200, owner.text);
      assert.equal((owner.body.record as { verified: boolean }).verified, true);
      assert.deepEqual((await identities(id)).map((r) => r.subject), ['jo-sub']);
    });

    it('oauth-link-needs-recent-signin: a stolen or old session cannot link a provider account (403 reauthentication_required); a fresh sign-in can, and the owner is mailed', async () => {
      const rita = await createRecord(t, 'users', { email: 'rita@example.com', password: PASSWORD, passwordConfirm: PASSWORD, verified: true });
      const old = await call('POST', '/api/collections/users/auth-with-password', { identity: 'rita@example.com', password: PASSWORD });
      // Ten minutes later (RECENT_SIGN_IN_MS), the token still works but no longer links anything.
      await t.app.db.run('UPDATE _sessions SET created = ? WHERE record_id = ?', ['2000-01-01 00:00:00.000Z', String(rita.id)]);
      idp.accounts.set('rita-sub', { email: 'rita@work.example', email_verified: true });
      const stale = await signInAs('rita-sub', {}, old.body.token as string);
      assert.equal(stale.status, 403, stale.text);
      assert.equal(stale.body.code, 'reauthentication_required');
      assert.ok(!('token' in stale.body));
      assert.equal((await identities(String(rita.id))).length, 0);
      const audit = await t.app.audit.list(0, 10_000, 'auth.oauth_link');
      assert.ok(audit.some((a) => a.outcome === 'failure' && a.details.reason === 'reauthentication_required'));
      // A fresh sign-in links; the owner gets a notice naming the provider, never a token.
      const fresh = await call('POST', '/api/collections/users/auth-with-password', { identity: 'rita@example.com', password: PASSWORD });
      const linked = await signInAs('rita-sub', {}, fresh.body.token as string);
      assert.equal(linked.status, 200, linked.text);
      assert.equal((await identities(String(rita.id))).length, 1);
      const notice = await smtp.waitFor('rita@example.com', (m) => m.subject === 'A sign-in method was added to your Basalt account');
      assert.match(notice.text, /A acme account was linked/);
      assert.ok(!notice.text.includes(fresh.body.token as string));
      // Signing in with an identity that is already the caller's own needs no recent sign-in.
      await t.app.db.run('UPDATE _sessions SET created = ? WHERE record_id = ?', ['2000-01-01 00:00:00.000Z', String(rita.id)]);
      const again = await signInAs('rita-sub', {}, linked.body.token as string);
      assert.equal(again.status, 200, again.text);
    });

    it('oauth-link-proof-ends-squatter-access: a provider proving an unverified account\'s email replaces its password and ends every session', async () => {
      // The squatter registered sam@example.com with a password of their own and keeps a session.
      const squat = await call('POST', '/api/collections/users/records', { email: 'sam@example.com', password: PASSWORD, passwordConfirm: PASSWORD });
      assert.equal(squat.status, 200, squat.text);
      const id = String(squat.body.id);
      const squatter = await call('POST', '/api/collections/users/auth-with-password', { identity: 'sam@example.com', password: PASSWORD });
      const caller = await call('POST', '/api/collections/users/auth-with-password', { identity: 'sam@example.com', password: PASSWORD });
      idp.accounts.set('sam-sub', { email: 'sam@example.com', email_verified: true });
      const proof = await signInAs('sam-sub', {}, caller.body.token as string);
      assert.equal(proof.status, 200, proof.text);
      assert.equal((proof.body.record as { verified: boolean }).verified, true);
      // Every earlier token, refresh token and the password are dead; the answer's session works.
      for (const tok of [squatter.body.token, caller.body.token]) assert.equal((await call('GET', `/api/collections/users/records/${id}`, undefined, tok as string)).status, 401);
      assert.equal((await call('POST', '/api/collections/users/auth-refresh', { refreshToken: squatter.body.refreshToken })).status, 401);
      const pw = await call('POST', '/api/collections/users/auth-with-password', { identity: 'sam@example.com', password: PASSWORD });
      assert.equal(pw.status, 400);
      assert.equal(pw.body.code, 'auth_failed');
      assert.equal((await call('GET', `/api/collections/users/records/${id}`, undefined, proof.body.token as string)).status, 200);
      assert.equal((await call('POST', '/api/collections/users/auth-refresh', { refreshToken: proof.body.refreshToken })).status, 200);
    });

    it('oauth-createdata-password-unverified-email: createData cannot set a password when the provider does not vouch for the email', async () => {
      idp.accounts.set('uma-sub', { email: 'uma@example.com', email_verified: false });
      const refused = await signInAs('uma-sub', { createData: { password: 'attacker long passphrase', passwordConfirm: 'attacker long passphrase' } });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.code, 'validation_failed');
      assert.equal((refused.body.data as { password: { code: string } }).password.code, 'validation_oauth_email_unverified');
      assert.equal(await t.app.records.findRawBy('users', 'email', 'uma@example.com'), undefined);
      // Without a password the sign-up works (a password nobody knows); with a verified email, a password is fine.
      assert.equal((await signInAs('uma-sub')).status, 200);
      idp.accounts.set('vic-sub', { email: 'vic@example.com', email_verified: true });
      const ok = await signInAs('vic-sub', { createData: { password: 'vic long passphrase', passwordConfirm: 'vic long passphrase' } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await call('POST', '/api/collections/users/auth-with-password', { identity: 'vic@example.com', password: 'vic long passphrase' })).status, 200);
    });

    it('oauth-concurrent-first-signin: parallel first sign-ins of one provider account never answer 5xx; one account, one identity', async () => {
      const parallel = async (sub: string) => {
        const flows = await Promise.all([0, 1, 2, 3].map(async () => {
          const p = await startFlow();
          return { p, cb: await browse(p, sub) };
        }));
        return Promise.all(flows.map(({ p, cb }) => exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state })));
      };
      // A new account (create + link) …
      idp.accounts.set('zed-sub', { email: 'zed@example.com', email_verified: true });
      const created = await parallel('zed-sub');
      for (const a of created) assert.equal(a.status, 200, a.text);
      assert.equal(new Set(created.map((a) => (a.body.record as { id: string }).id)).size, 1);
      assert.equal((await identities(String((created[0].body.record as { id: string }).id))).length, 1);
      // … and a link to an existing verified account by email.
      const yan = await createRecord(t, 'users', { email: 'yan@example.com', password: PASSWORD, passwordConfirm: PASSWORD, verified: true });
      idp.accounts.set('yan-sub', { email: 'yan@example.com', email_verified: true });
      const linked = await parallel('yan-sub');
      for (const a of linked) {
        assert.equal(a.status, 200, a.text);
        assert.equal((a.body.record as { id: string }).id, yan.id);
      }
      assert.equal((await identities(String(yan.id))).length, 1);
    });

    it('disabled OAuth2 and unknown providers are refused with stable codes', async () => {
      const unknown = await exchange({ provider: 'nope', code: 'x', codeVerifier: 'v'.repeat(43), redirectURL: redirect });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.code, 'oauth_provider_unknown');
      const p = await startFlow();
      const cb = await browse(p, 'hank-sub');
      const off = await call('PATCH', '/api/collections/users', { oauth2: { enabled: false } }, t.superuserToken);
      assert.equal(off.status, 200, off.text);
      try {
        const methods = await call('GET', '/api/collections/users/auth-methods');
        assert.deepEqual(methods.body.oauth2, { enabled: false, providers: [] });
        const res = await exchange({ provider: 'acme', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state });
        assert.equal(res.status, 403);
        assert.equal(res.body.code, 'oauth_disabled');
      } finally {
        assert.equal((await call('PATCH', '/api/collections/users', { oauth2: { enabled: true } }, t.superuserToken)).status, 200);
      }
    });

    it('an unreachable provider is a 502 oauth_provider_error, and auth-methods leaves it out', async () => {
      await createCollection(t, {
        name: 'members', type: 'auth', createRule: '',
        oauth2: { enabled: true, providers: [{ name: 'down', clientId: 'x', clientSecret: 'y', discoveryUrl: 'http://127.0.0.1:1' }] },
      });
      const methods = await call('GET', '/api/collections/members/auth-methods');
      assert.equal(methods.status, 200);
      assert.deepEqual(methods.body.oauth2, { enabled: true, providers: [] });
      const res = await call('POST', '/api/collections/members/auth-with-oauth2', { provider: 'down', code: 'x', codeVerifier: 'v'.repeat(43), redirectURL: redirect });
      assert.equal(res.status, 502);
      assert.equal(res.body.code, 'oauth_provider_error');
    });

    it('a plain OAuth 2.0 provider (authURL, tokenURL, userInfoURL) signs in through its userinfo endpoint', async () => {
      await createCollection(t, {
        name: 'plain', type: 'auth', createRule: '',
        oauth2: {
          enabled: true,
          providers: [{ name: 'custom', clientId: idp.clientId, clientSecret: idp.clientSecret, authURL: `${idp.issuer}/auth`, tokenURL: `${idp.issuer}/token`, userInfoURL: `${idp.issuer}/me`, scopes: ['openid', 'email'] }],
        },
      });
      const p = await startFlow('', 'plain');
      assert.equal(p.displayName, 'custom');
      assert.equal(new URL(p.authURL).searchParams.get('nonce'), null);
      idp.accounts.set('lee-sub', { email: 'lee@example.com', email_verified: true });
      const cb = await browse(p, 'lee-sub');
      const res = await call('POST', '/api/collections/plain/auth-with-oauth2', { provider: 'custom', code: cb.code, codeVerifier: p.codeVerifier, redirectURL: redirect, state: cb.state });
      assert.equal(res.status, 200, res.text);
      assert.equal((res.body.record as { email: string }).email, 'lee@example.com');
      assert.equal((res.body.record as { verified: boolean }).verified, true);
      assert.equal((res.body.meta as { id: string }).id, 'lee-sub');
    });

    it('the pocketbase SDK signs in with authWithOAuth2Code', async () => {
      const url = await t.app.listen();
      const pb = new PocketBase(url);
      const methods = await pb.collection('users').listAuthMethods();
      const acme = methods.oauth2.providers.find((p) => p.name === 'acme')!;
      idp.accounts.set('kim-sub', { email: 'kim@example.com', email_verified: true, name: 'Kim' });
      const cb = await idp.authorize(acme.authURL + encodeURIComponent(redirect), 'kim-sub');
      assert.equal(cb.state, acme.state);
      const auth = await pb.collection('users').authWithOAuth2Code(acme.name, cb.code!, acme.codeVerifier, redirect, { name: 'Kim K' });
      assert.ok(pb.authStore.isValid);
      assert.equal(auth.record.email, 'kim@example.com');
      assert.equal(auth.record.name, 'Kim K');
      assert.equal(auth.meta?.isNew, true);
      assert.equal(auth.meta?.accessToken, undefined);
    });

    it('provider secrets and tokens are never answered, and tokens are sealed in the database', async () => {
      const col = await call('GET', '/api/collections/users', undefined, t.superuserToken);
      assert.equal(((col.body.oauth2 as { providers: { clientSecret: string }[] }).providers[0]).clientSecret, '');
      const rows = await identities();
      assert.ok(rows.length > 0);
      const accessTokens: string[] = [];
      for (const r of rows) {
        assert.ok(SecretBox.isSealed(r.access_token), 'access token sealed');
        const plain = t.app.secrets.open(String(r.access_token), identityTokenAad(String(r.id), 'access_token'));
        assert.ok(plain.length > 10);
        accessTokens.push(plain);
        // Bound to its row: it does not open as another row's value.
        assert.throws(() => t.app.secrets.open(String(r.access_token), identityTokenAad('other', 'access_token')), { code: 'secret_unreadable' });
      }
      for (const body of seen) {
        assert.ok(!body.includes(idp.clientSecret), 'client secret in an answer');
        for (const at of accessTokens) assert.ok(!body.includes(at), 'provider access token in an answer');
        assert.ok(!/"accessToken"/.test(body));
      }
      const stored = await t.app.db.all<{ details: string }>('SELECT details FROM _audit');
      for (const a of stored) for (const at of accessTokens) assert.ok(!a.details.includes(at));
    });
  });

  describe(`OAuth2 limits and migration files (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(dialect, { automigrate: true, rateLimits: { ...loadConfig({}, {}).rateLimits, signInPerIp: 2 } });
      await createCollection(t, {
        name: 'users', type: 'auth', createRule: '',
        oauth2: { enabled: true, providers: [{ name: 'acme', clientId: 'client', clientSecret: 'a-secret-for-no-file', discoveryUrl: 'http://127.0.0.1:1' }] },
      });
    });
    after(async () => t.dispose());

    it('auth-with-oauth2 is rate limited per client address', async () => {
      await roomInWindow();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-oauth2', payload: { provider: 'nope', code: 'x', codeVerifier: 'v'.repeat(43), redirectURL: 'https://app.example/cb' } });
        statuses.push(res.statusCode);
      }
      assert.deepEqual(statuses, [400, 400, 429]);
    });

    it('automigrate files never carry a provider client secret, and applying one keeps the stored secret', async () => {
      const dir = t.app.config.migrationsDir;
      const files = readdirSync(dir);
      assert.ok(files.length > 0);
      for (const f of files) assert.ok(!readFileSync(join(dir, f), 'utf8').includes('a-secret-for-no-file'), f);
      const saved = structuredClone(t.app.registry.get('users'));
      saved.oauth2!.providers[0].clientSecret = '';
      await t.app.registry.apply(saved);
      const users = t.app.registry.get('users');
      const { OAuthClientSecrets } = await import('../../src/auth/oauth/index.ts');
      assert.equal(await new OAuthClientSecrets(t.app.db, t.app.secrets).get(users.id, users.oauth2!.providers[0].name), 'a-secret-for-no-file', 'the stored (sealed) secret is kept');
      // The secret lives sealed in its own table: not in the definition, the change log or the sealed row.
      assert.equal(users.oauth2!.providers[0].clientSecret, '');
      for (const [table, column] of [['_collections', 'definition'], ['_changes', 'data'], ['_oauth_client_secrets', 'secret']]) {
        const rows = await t.app.db.all<Record<string, string>>(`SELECT ${column} AS v FROM ${table}`);
        assert.ok(rows.every((r) => !String(r.v).includes('a-secret-for-no-file')), `no plaintext secret in ${table}`);
      }
    });
  });
}
