/**
 * A real OpenID Connect provider for tests (`oidc-provider`), on 127.0.0.1 and a random port, with a
 * confidential client that must use PKCE, accounts the test defines, and a browser stand-in that
 * walks the authorization URL through the provider's login and consent pages (with a cookie jar) and
 * stops at the redirect URI, where the code is read from the `Location` header.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** Claims of a test account (beside `sub`). */
export interface AccountClaims {
  email?: string;
  email_verified?: boolean;
  name?: string;
  picture?: string;
  preferred_username?: string;
}

/** What the browser stand-in saw at the redirect URI. */
export interface Callback {
  /** The full redirect (`redirect_uri?code=…&state=…&iss=…`, or an `error`). */
  location: URL;
  code: string | null;
  state: string | null;
  iss: string | null;
  error: string | null;
}

/** A running test issuer. */
export interface TestIssuer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Redirect URIs registered for the client. */
  redirectURIs: readonly string[];
  /** Accounts by subject; add or change them at any time. */
  accounts: Map<string, AccountClaims>;
  /** Sign in as `sub` at `authURL` (complete, with its redirect_uri) and answer the redirect back. */
  authorize(authURL: string, sub: string): Promise<Callback>;
  close(): Promise<void>;
}

/** Start an issuer. Redirect URIs are on an unused local port: the browser stand-in never follows them. */
export async function startIssuer(): Promise<TestIssuer> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => handler!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map<string, AccountClaims>();
  const clientId = 'basalt-test';
  const clientSecret = 'a-client-secret-that-must-never-leak';
  const redirectURIs = ['http://127.0.0.1:1/callback', 'http://127.0.0.1:1/other-callback'];
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId, client_secret: clientSecret, redirect_uris: [...redirectURIs],
      grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post',
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture', 'preferred_username'] },
    cookies: { keys: ['test-cookie-signing-key'] },
    // A signing key of the test's own (the provider's built-in development keys are shared by everyone).
    jwks: { keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }] },
    features: { devInteractions: { enabled: true } },
    ttl: { AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
    async findAccount(_ctx, sub) {
      const claims = accounts.get(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
  });
  // The dev interactions print a warning on every start; tests do not need it.
  provider.on('server_error', () => {});
  handler = provider.callback() as unknown as (req: IncomingMessage, res: ServerResponse) => void;

  async function authorize(authURL: string, sub: string): Promise<Callback> {
    const jar = new Map<string, string>();
    const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
      const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const line of res.headers.getSetCookie()) {
        const [pair, ...attrs] = line.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const expired = attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()) || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
        if (expired) jar.delete(name);
        else jar.set(name, pair.slice(eq + 1).trim());
      }
      return res;
    };
    let url = authURL;
    for (let hops = 0; hops < 20; hops++) {
      if (!url.startsWith(issuer)) {
        const location = new URL(url);
        const p = location.searchParams;
        return { location, code: p.get('code'), state: p.get('state'), iss: p.get('iss'), error: p.get('error') };
      }
      const res = await send(url);
      if (res.status >= 300 && res.status < 400) {
        url = new URL(res.headers.get('location')!, url).href;
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) throw new Error(`issuer answered ${res.status} at ${url}: ${html.slice(0, 300)}`);
      const prompt = /name="prompt" value="(login|consent)"/.exec(html)?.[1];
      if (!prompt) throw new Error(`unexpected issuer page at ${url}`);
      const form = new URLSearchParams(prompt === 'login' ? { prompt, login: sub, password: 'any' } : { prompt });
      const posted = await send(url, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      if (posted.status < 300 || posted.status >= 400) throw new Error(`interaction ${prompt} answered ${posted.status}: ${(await posted.text()).slice(0, 300)}`);
      url = new URL(posted.headers.get('location')!, url).href;
    }
    throw new Error('too many redirects at the issuer');
  }

  return {
    issuer, clientId, clientSecret, redirectURIs, accounts, authorize,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
