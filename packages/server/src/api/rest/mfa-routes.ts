/**
 * Multi-factor routes: TOTP enrolment and removal, recovery codes, passkey registration and management
 * for the signed-in record, and the second-factor / passwordless sign-ins (`auth-with-totp`,
 * `auth-with-passkey`). The MFA policy itself runs in `AuthService.signIn`; see docs/mfa.md.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RestDeps } from './rest-deps.ts';
import { clientInfo, mfaIdOf, principalOf, requireSuperuser } from './request-context.ts';
import { actorOf } from '../../audit/index.ts';
import { respond } from './respond.ts';
import { clientKey, failureDelay, type Hit } from './rate-limit.ts';
import { BasaltError, isBasaltError } from '../../errors/index.ts';
import { authOptions, type Collection } from '../../schema/index.ts';
import { MfaFactors, passkeySettings, type PasskeySettings } from '../../auth/index.ts';
import { verifyPassword } from '../../tools/index.ts';

type Params = { Params: { collection: string } };
/** The signed-in record whose factors a route manages. */
type Owner = { c: Collection; recordId: string; actor: string; target: string; row: Record<string, unknown> };
type Body = Record<string, unknown>;

/** The `mfa`, `totp` and `passkeys` members of `auth-methods`. */
export function mfaAuthMethods(c: Collection): { mfa: { enabled: boolean; duration: number }; totp: { enabled: boolean }; passkeys: { enabled: boolean } } {
  const o = authOptions(c);
  return { mfa: { enabled: o.mfa.enabled, duration: o.mfa.duration }, totp: { enabled: o.totp.enabled }, passkeys: { enabled: o.passkeys.enabled } };
}

function bodyOf(request: FastifyRequest): Body {
  const b = request.body;
  return b && typeof b === 'object' && !Array.isArray(b) ? (b as Body) : {};
}

/** How recent a sign-in must be to add a factor without re-entering the password or a code. */
export const RECENT_SIGN_IN_MS = 10 * 60 * 1000;

/** The proofs a record with a second factor can give for a change (the `data.accepted` of `factor_proof_required`). */
function acceptedProofs(usable: { totp: boolean; passkeys: boolean }, recovery: boolean): string[] {
  return [...(usable.totp ? ['code', ...(recovery ? ['recoveryCode'] : [])] : []), ...(usable.passkeys ? ['passkey'] : [])];
}

/** Register the MFA routes. */
export function registerMfaRoutes(app: FastifyInstance, deps: RestDeps): void {
  const limits = deps.rateLimits;
  const limiter = deps.limiter!;
  const factors = new MfaFactors(deps.records, deps.secrets);

  // Every first factor that needs a second is audited, whichever route it came through.
  deps.auth.mfa.onChallenge((e) => deps.audit.record({
    action: 'mfa.challenge', outcome: 'success', actor: `${e.collection.name}:${e.recordId}`, target: `${e.collection.name}/${e.recordId}`,
    ip: e.client.ip, details: { method: e.method, amr: [...e.amr] },
  }));

  const ipQuota = { name: 'signin-ip', limit: limits.signInPerIp, windowSeconds: 60 };
  const recordQuota = { name: 'mfa-record', limit: limits.signInPerIdentity, windowSeconds: 900 };

  /** Count a sign-in or proof attempt per IP and per record. */
  async function limit(request: FastifyRequest, reply: FastifyReply, c: Collection, recordKey: string): Promise<Hit | undefined> {
    const hits = await limiter.check(reply, [[ipQuota, clientKey(request)], [recordQuota, `${c.id}\u0000${recordKey}`]]);
    return hits.find((h) => h.quota.name === 'mfa-record');
  }

  /** The caller, signed in to this collection (a superuser for `_superusers`). */
  async function owner(request: FastifyRequest<Params>): Promise<Owner> {
    const c = deps.auth.authCollection(request.params.collection);
    const p = await principalOf(request, deps.auth);
    if (p.kind === 'anonymous') throw new BasaltError('unauthorized');
    const own = p.kind === 'superuser' ? c.name === '_superusers' : p.kind === 'record' && p.collection === c.name;
    if (!own) throw new BasaltError('forbidden', { message: 'Sign in to this collection to manage its second factors.' });
    const recordId = String(p.record.id);
    const row = await deps.records.findRawBy(c.name, 'id', recordId);
    if (!row) throw new BasaltError('unauthorized');
    return { c, recordId, actor: `${c.name}:${recordId}`, target: `${c.name}/${recordId}`, row };
  }

  function needTotp(c: Collection): void {
    if (!authOptions(c).totp.enabled) throw new BasaltError('forbidden', { message: 'TOTP is not enabled for this collection.' });
  }

  function rp(c: Collection): PasskeySettings {
    const o = authOptions(c).passkeys;
    if (!o.enabled) throw new BasaltError('forbidden', { message: 'Passkeys are not enabled for this collection.' });
    return passkeySettings(o, deps.publicUrl);
  }

  /** The second factors the record holds that can prove something now (their kind is enabled for the collection). */
  async function usableFactors(o: Owner): Promise<{ totp: boolean; passkeys: boolean }> {
    const options = authOptions(o.c);
    return {
      totp: options.totp.enabled && (await factors.totp.status(o.c.id, o.recordId)).enabled,
      passkeys: options.passkeys.enabled && (await factors.passkeys.list(o.c.id, o.recordId)).length > 0,
    };
  }

  /**
   * Confirm a change of the record's factors. A record that holds a usable second factor proves the
   * change with that factor — a current TOTP code (`code`), a passkey assertion (`passkey`, answering
   * `passkeys/reauth-options`) or, for removals when the authenticator is lost, a recovery code
   * (`recoveryCode`, spent) — never with the password alone: a stolen token plus a known password must
   * not be able to swap the second factor for the attacker's. A record without one proves it with a
   * current code or the password, as before.
   *
   * With `recent`, a sign-in of the last {@link RECENT_SIGN_IN_MS} stands in for the proof — for a
   * record with a second factor only when that sign-in was multi-factor (`amr` has `mfa`).
   *
   * Refusals: `reauthentication_required` (`recent`, no proof given), `validation_failed` (no proof
   * given), `factor_proof_required` (only the password given, but the record has a factor),
   * `auth_failed` (a wrong proof; audited and slowed like failed sign-ins).
   */
  async function confirmChange(request: FastifyRequest<Params>, reply: FastifyReply, o: Owner, action: string, opts: { recent: boolean; recovery: boolean }): Promise<void> {
    const usable = await usableFactors(o);
    const hasFactor = usable.totp || usable.passkeys;
    if (opts.recent) {
      const p = await principalOf(request, deps.auth);
      const amr = p.kind === 'record' || p.kind === 'superuser' ? p.amr ?? [] : [];
      if ((await deps.auth.signedInRecently(p, RECENT_SIGN_IN_MS)) && (!hasFactor || amr.includes('mfa'))) return;
    }
    const body = bodyOf(request);
    const given = {
      code: body.code !== undefined,
      recovery: opts.recovery && body.recoveryCode !== undefined,
      passkey: body.passkey !== undefined,
      password: body.password !== undefined,
    };
    if (!given.code && !given.recovery && !given.passkey) {
      if (hasFactor && (given.password || opts.recent)) {
        // Not even checked: the password is no proof here, and checking it would make this an oracle for it.
        if (given.password) await deps.audit.record({ action, outcome: 'failure', actor: o.actor, target: o.target, ip: request.ip, details: { reason: 'factor_required' } });
        throw new BasaltError('factor_proof_required', { data: { accepted: acceptedProofs(usable, opts.recovery) } });
      }
      if (!given.password) {
        if (opts.recent) throw new BasaltError('reauthentication_required');
        throw new BasaltError('validation_failed', { data: { code: { code: 'validation_required', message: hasFactor ? 'Give a current TOTP code, a recovery code or a passkey assertion.' : 'Give a current TOTP code or the password.' } } });
      }
    }
    const hit = await limit(request, reply, o.c, o.recordId);
    let ok = false;
    let proof: string;
    if (given.code) {
      proof = 'totp';
      ok = usable.totp && (await factors.totp.verify(o.c.id, o.recordId, body.code));
    } else if (given.recovery) {
      proof = 'recovery';
      ok = usable.totp && (await factors.recovery.consume(o.c.id, o.recordId, body.recoveryCode));
    } else if (given.passkey) {
      proof = 'passkey';
      try {
        ok = usable.passkeys && (await factors.passkeys.verifyOwner(o.c.id, rp(o.c), o.recordId, body.passkey)).recordId === o.recordId;
      } catch (e) {
        if (!isBasaltError(e) || e.code !== 'auth_failed') throw e;
      }
    } else {
      proof = 'password';
      ok = !hasFactor && typeof body.password === 'string' && body.password.length <= 1024 && typeof o.row.password === 'string' && (await verifyPassword(body.password, o.row.password));
    }
    if (!ok) {
      await deps.audit.record({ action, outcome: 'failure', actor: o.actor, target: o.target, ip: request.ip, details: { reason: 'proof', proof } });
      await failureDelay(limits.failureDelayMs, hit?.count ?? 0);
      throw new BasaltError('auth_failed');
    }
    if (proof === 'recovery') {
      await deps.audit.record({ action: 'mfa.recovery_used', outcome: 'success', actor: o.actor, target: o.target, ip: request.ip, details: { for: action, remaining: await factors.recovery.remaining(o.c.id, o.recordId) } });
    }
  }

  /** A fresh proof for a removal or regeneration (no recent-sign-in shortcut; recovery codes count). */
  const prove = (request: FastifyRequest<Params>, reply: FastifyReply, o: Owner, action: string) => confirmChange(request, reply, o, action, { recent: false, recovery: true });

  /**
   * Adding a factor needs a sign-in of the last few minutes, or a fresh proof: a stolen access token
   * alone must not let an attacker plant a passkey (a lasting, passwordless way in) or an authenticator.
   */
  const recentOrProve = (request: FastifyRequest<Params>, reply: FastifyReply, o: Owner, action: string) => confirmChange(request, reply, o, action, { recent: true, recovery: false });

  // ---- the signed-in record's factors ----

  app.get<Params>('/api/collections/:collection/mfa', async (request, reply) => {
    const o = await owner(request);
    return respond(request, reply, deps.metrics, await factors.status(o.c.id, o.recordId));
  });

  // Account recovery by a superuser (a lost phone, a lost passkey): remove every second factor of a
  // record and end its sessions, so the owner signs in again and enrols anew. Audited.
  app.delete<{ Params: { collection: string; id: string } }>('/api/collections/:collection/records/:id/mfa', async (request, reply) => {
    const su = await requireSuperuser(request, deps.auth);
    const c = deps.auth.authCollection(request.params.collection);
    const row = await deps.records.findRawBy(c.name, 'id', request.params.id);
    if (!row) throw new BasaltError('record_not_found');
    const recordId = String(row.id);
    await deps.db.transaction((tx) => MfaFactors.forget(tx, c.id, recordId));
    const principal = c.name === '_superusers' ? { kind: 'superuser' as const, record: { id: recordId } } : { kind: 'record' as const, collection: c.name, record: { id: recordId } };
    await deps.auth.logout(principal, undefined, true);
    await deps.audit.record({ action: 'mfa.reset', outcome: 'success', actor: actorOf(su), target: `${c.name}/${recordId}`, ip: request.ip });
    return respond(request, reply, deps.metrics, null, 204);
  });

  app.post<Params>('/api/collections/:collection/totp/enroll', async (request, reply) => {
    const o = await owner(request);
    needTotp(o.c);
    // Answered before any proof is asked for (or spent): a confirmed authenticator is removed first.
    if ((await factors.totp.status(o.c.id, o.recordId)).enabled) throw new BasaltError('conflict', { message: 'TOTP is already enabled; remove it first.' });
    await recentOrProve(request, reply, o, 'mfa.totp_enroll_started');
    const issuer = authOptions(o.c).totp.issuer;
    const account = typeof o.row.email === 'string' && o.row.email ? o.row.email : o.recordId;
    const enrolment = await factors.totp.enroll(o.c.id, o.recordId, issuer, account);
    await deps.audit.record({ action: 'mfa.totp_enroll_started', outcome: 'success', actor: o.actor, target: o.target, ip: request.ip });
    return respond(request, reply, deps.metrics, enrolment);
  });

  app.post<Params>('/api/collections/:collection/totp/confirm', async (request, reply) => {
    const o = await owner(request);
    needTotp(o.c);
    const hit = await limit(request, reply, o.c, o.recordId);
    if (!(await factors.totp.confirm(o.c.id, o.recordId, bodyOf(request).code))) {
      await deps.audit.record({ action: 'mfa.totp_enrolled', outcome: 'failure', actor: o.actor, target: o.target, ip: request.ip });
      await failureDelay(limits.failureDelayMs, hit?.count ?? 0);
      throw new BasaltError('auth_failed', { message: 'The code is wrong, expired or already used, or no enrolment is pending.' });
    }
    const recoveryCodes = await factors.recovery.regenerate(o.c.id, o.recordId);
    await deps.audit.record({ action: 'mfa.totp_enrolled', outcome: 'success', actor: o.actor, target: o.target, ip: request.ip });
    return respond(request, reply, deps.metrics, { recoveryCodes });
  });

  app.delete<Params>('/api/collections/:collection/totp', async (request, reply) => {
    const o = await owner(request);
    await prove(request, reply, o, 'mfa.totp_removed');
    if (!(await factors.totp.remove(o.c.id, o.recordId))) throw new BasaltError('not_found', { message: 'TOTP is not enabled for this account.' });
    // The recovery codes were handed out with the authenticator; they go with it.
    await factors.recovery.removeAll(o.c.id, o.recordId);
    await deps.audit.record({ action: 'mfa.totp_removed', outcome: 'success', actor: o.actor, target: o.target, ip: request.ip });
    return respond(request, reply, deps.metrics, null, 204);
  });

  app.post<Params>('/api/collections/:collection/recovery-codes', async (request, reply) => {
    const o = await owner(request);
    // Recovery codes stand in for the authenticator: they exist only beside a confirmed one.
    needTotp(o.c);
    if (!(await factors.totp.status(o.c.id, o.recordId)).enabled) throw new BasaltError('not_found', { message: 'TOTP is not enabled for this account.' });
    await prove(request, reply, o, 'mfa.recovery_regenerated');
    const recoveryCodes = await factors.recovery.regenerate(o.c.id, o.recordId);
    await deps.audit.record({ action: 'mfa.recovery_regenerated', outcome: 'success', actor: o.actor, target: o.target, ip: request.ip });
    return respond(request, reply, deps.metrics, { recoveryCodes });
  });

  app.post<Params>('/api/collections/:collection/passkeys/options', async (request, reply) => {
    const o = await owner(request);
    await recentOrProve(request, reply, o, 'mfa.passkey_added');
    const options = await factors.passkeys.registrationOptions(o.c.id, rp(o.c), { id: o.recordId, email: typeof o.row.email === 'string' ? o.row.email : '' });
    return respond(request, reply, deps.metrics, options);
  });

  app.post<Params>('/api/collections/:collection/passkeys', async (request, reply) => {
    const o = await owner(request);
    const body = bodyOf(request);
    try {
      const passkey = await factors.passkeys.register(o.c.id, rp(o.c), o.recordId, body.credential, body.name);
      await deps.audit.record({ action: 'mfa.passkey_added', outcome: 'success', actor: o.actor, target: o.target, ip: request.ip, details: { passkey: passkey.id } });
      return respond(request, reply, deps.metrics, passkey);
    } catch (e) {
      if (isBasaltError(e) && e.code === 'auth_failed') await deps.audit.record({ action: 'mfa.passkey_added', outcome: 'failure', actor: o.actor, target: o.target, ip: request.ip });
      throw e;
    }
  });

  app.get<Params>('/api/collections/:collection/passkeys', async (request, reply) => {
    const o = await owner(request);
    return respond(request, reply, deps.metrics, { items: await factors.passkeys.list(o.c.id, o.recordId) });
  });

  app.patch<{ Params: { collection: string; id: string } }>('/api/collections/:collection/passkeys/:id', async (request, reply) => {
    const o = await owner(request);
    return respond(request, reply, deps.metrics, await factors.passkeys.rename(o.c.id, o.recordId, request.params.id, bodyOf(request).name));
  });

  // Options for proving a factor change with one of the record's passkeys: answer them and send the
  // assertion as `passkey` with the change (see confirmChange).
  app.post<Params>('/api/collections/:collection/passkeys/reauth-options', async (request, reply) => {
    const o = await owner(request);
    const settings = rp(o.c);
    await limiter.check(reply, [[ipQuota, clientKey(request)]]);
    return respond(request, reply, deps.metrics, await factors.passkeys.reauthenticationOptions(o.c.id, settings, o.recordId));
  });

  app.delete<{ Params: { collection: string; id: string } }>('/api/collections/:collection/passkeys/:id', async (request, reply) => {
    const o = await owner(request);
    // Unknown ids answer 404 before any proof is spent on them.
    if (!(await factors.passkeys.list(o.c.id, o.recordId)).some((p) => p.id === request.params.id)) throw new BasaltError('not_found', { message: 'No such passkey.' });
    // Removing a factor: a recent sign-in (with the factor, when the record has one) or a fresh proof.
    await confirmChange(request, reply, o, 'mfa.passkey_removed', { recent: true, recovery: true });
    if (!(await factors.passkeys.remove(o.c.id, o.recordId, request.params.id))) throw new BasaltError('not_found', { message: 'No such passkey.' });
    await deps.audit.record({ action: 'mfa.passkey_removed', outcome: 'success', actor: o.actor, target: o.target, ip: request.ip, details: { passkey: request.params.id } });
    return respond(request, reply, deps.metrics, null, 204);
  });

  // ---- sign-in ----

  /** Finish a sign-in whose factor was proven here; audit it with its methods. */
  async function finish(request: FastifyRequest<Params>, reply: FastifyReply, c: Collection, row: Record<string, unknown>, amr: string[], method: string, mfaId: unknown) {
    const actor = `${c.name}:${String(row.id)}`;
    const target = `${c.name}/${String(row.id)}`;
    try {
      const result = await deps.auth.signIn(c, row, amr, clientInfo(request), { mfaId, method });
      const claims = JSON.parse(Buffer.from(result.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { amr?: unknown };
      await deps.audit.record({ action: 'auth.signin', outcome: 'success', actor, target, ip: request.ip, details: { method, amr: claims.amr ?? amr } });
      return respond(request, reply, deps.metrics, result);
    } catch (e) {
      const code = isBasaltError(e) ? e.code : 'internal';
      // A lone passkey factor that needs a second is audited as `mfa.challenge`, not as a failure.
      if (code !== 'mfa_required') await deps.audit.record({ action: 'auth.signin', outcome: 'failure', actor: 'anonymous', target, ip: request.ip, details: { method, reason: code } });
      throw e;
    }
  }

  // The second factor by authenticator app or recovery code: {mfaId, code} or {mfaId, recoveryCode}.
  app.post<Params>('/api/collections/:collection/auth-with-totp', async (request, reply) => {
    const c = deps.auth.authCollection(request.params.collection);
    const body = bodyOf(request);
    const mfaId = mfaIdOf(request);
    const recovery = body.recoveryCode !== undefined;
    const method = recovery ? 'recovery' : 'totp';
    const challenge = await deps.auth.mfa.peek(mfaId);
    const hit = await limit(request, reply, c, challenge?.recordId ?? String(mfaId ?? ''));
    // Recovery codes stand in for the authenticator app: with TOTP off for the collection, neither works.
    needTotp(c);
    const fail = async (code: 'mfa_invalid' | 'auth_failed', target: string) => {
      await deps.audit.record({ action: recovery ? 'mfa.recovery_used' : 'auth.signin', outcome: 'failure', actor: 'anonymous', target, ip: request.ip, details: { method, reason: code } });
      if (code === 'auth_failed') await failureDelay(limits.failureDelayMs, hit?.count ?? 0);
      return new BasaltError(code);
    };
    // TOTP is never a first factor: it needs the mfaId of another method, of this collection.
    if (!challenge || challenge.collectionId !== c.id || challenge.method === method) throw await fail('mfa_invalid', c.name);
    const row = await deps.records.findRawBy(c.name, 'id', challenge.recordId);
    if (!row) throw await fail('mfa_invalid', c.name);
    const target = `${c.name}/${challenge.recordId}`;
    const ok = recovery ? await factors.recovery.consume(c.id, challenge.recordId, body.recoveryCode) : await factors.totp.verify(c.id, challenge.recordId, body.code);
    if (!ok) throw await fail('auth_failed', target);
    if (recovery) {
      await deps.audit.record({
        action: 'mfa.recovery_used', outcome: 'success', actor: `${c.name}:${challenge.recordId}`, target, ip: request.ip,
        details: { remaining: await factors.recovery.remaining(c.id, challenge.recordId) },
      });
    }
    // RFC 8176 has no value for authenticator apps or recovery codes beyond `otp`; `method` keeps them apart.
    return finish(request, reply, c, row, ['otp'], method, mfaId);
  });

  // Passkey sign-in options: without mfaId passwordless (discoverable credentials, user verification
  // required); with mfaId the second factor, limited to that record's passkeys.
  app.post<Params>('/api/collections/:collection/auth-with-passkey/options', async (request, reply) => {
    const c = deps.auth.authCollection(request.params.collection);
    const settings = rp(c);
    const mfaId = mfaIdOf(request);
    await limiter.check(reply, [[ipQuota, clientKey(request)]]);
    if (mfaId === undefined || mfaId === null || mfaId === '') return respond(request, reply, deps.metrics, await factors.passkeys.authenticationOptions(c.id, settings));
    const challenge = await deps.auth.mfa.peek(mfaId);
    if (!challenge || challenge.collectionId !== c.id || challenge.method === 'passkey') throw new BasaltError('mfa_invalid');
    return respond(request, reply, deps.metrics, await factors.passkeys.authenticationOptions(c.id, settings, { recordId: challenge.recordId, mfaId: challenge.id }));
  });

  app.post<Params>('/api/collections/:collection/auth-with-passkey', async (request, reply) => {
    const c = deps.auth.authCollection(request.params.collection);
    const settings = rp(c);
    const body = bodyOf(request);
    const mfaId = mfaIdOf(request);
    const hit = await limit(request, reply, c, typeof body.credential === 'object' && body.credential !== null ? String((body.credential as Body).id ?? '').slice(0, 200) : '');
    let proof;
    try {
      proof = await factors.passkeys.authenticate(c.id, settings, body.credential, typeof mfaId === 'string' && mfaId !== '' ? mfaId : undefined);
    } catch (e) {
      if (isBasaltError(e) && e.code === 'auth_failed') {
        await deps.audit.record({ action: 'auth.signin', outcome: 'failure', actor: 'anonymous', target: c.name, ip: request.ip, details: { method: 'passkey', reason: 'auth_failed' } });
        await failureDelay(limits.failureDelayMs, hit?.count ?? 0);
      }
      throw e;
    }
    const row = await deps.records.findRawBy(c.name, 'id', proof.recordId);
    if (!row) throw new BasaltError('auth_failed');
    return finish(request, reply, c, row, proof.amr, 'passkey', mfaId);
  });
}
