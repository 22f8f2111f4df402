/**
 * Roles (RBAC): the `_roles` system collection holds each role's name and permissions; user records
 * carry theirs in the `roles` relation field, API keys by name. Rules see the resolved names as
 * `@request.auth.roles` and the union of their permissions as `@request.auth.permissions`, e.g.
 * `@request.auth.roles ?= "editor"` or `@request.auth.permissions ?= "posts:publish"`.
 */
import { BasaltError } from '../errors/index.ts';
import { emptyRequest, type Principal, type RecordsService } from '../records/index.ts';

/** What a set of roles grants. */
export interface Grants {
  /** Role names, sorted. */
  roles: string[];
  /** The union of the roles' permissions, sorted. */
  permissions: string[];
}

/** How long the role table is reused on this node (writes on this node refresh it at once). */
const ROLES_TTL_MS = 2000;
/** A permission: a short token such as `posts:publish` or `billing.read`. */
const PERMISSION = /^[A-Za-z0-9_.:*-]{1,100}$/;
const SYSTEM: Principal = { kind: 'superuser', record: { id: 'system' } };

interface Role {
  id: string;
  name: string;
  permissions: string[];
}

/** Resolves role ids and names to grants, from a per-node cache of `_roles`. */
export class RoleDirectory {
  readonly #records: RecordsService;
  #byId = new Map<string, Role>();
  #byName = new Map<string, Role>();
  #until = 0;
  #loading?: Promise<void>;

  constructor(records: RecordsService) {
    this.#records = records;
    // Permissions must be a list of permission tokens; checked inside the write's transaction.
    records.hooks.on('create', '_roles', async (e, next) => {
      checkPermissions(e.record.permissions);
      return next();
    }, { id: 'roles-validate-create' });
    records.hooks.on('update', '_roles', async (e, next) => {
      if ('permissions' in e.record) checkPermissions(e.record.permissions);
      return next();
    }, { id: 'roles-validate-update' });
    records.hooks.on('*', '_roles', async (_e, next) => {
      await next();
      this.#until = 0;
    }, { id: 'roles-cache', priority: 1001 });
  }

  /** The grants of a user record's `roles` value (relation ids; unknown ids are ignored). */
  async fromIds(ids: unknown): Promise<Grants> {
    if (!Array.isArray(ids) || ids.length === 0) return { roles: [], permissions: [] };
    await this.#fresh();
    return grantsOf(ids.map((id) => this.#byId.get(String(id))).filter((r): r is Role => r !== undefined));
  }

  /** The grants of role names (API keys); throws `validation_failed` naming unknown roles. */
  async fromNames(names: readonly string[]): Promise<Grants> {
    await this.#fresh();
    const unknown = names.filter((n) => !this.#byName.has(n));
    if (unknown.length) throw new BasaltError('validation_failed', { data: { roles: { code: 'validation_unknown_role', message: `Unknown roles: ${unknown.join(', ')}.` } } });
    return grantsOf(names.map((n) => this.#byName.get(n)!));
  }

  /** The grants of role names that still exist (a deleted role grants nothing). */
  async existingFromNames(names: readonly string[]): Promise<Grants> {
    await this.#fresh();
    return grantsOf(names.map((n) => this.#byName.get(n)).filter((r): r is Role => r !== undefined));
  }

  async #fresh(): Promise<void> {
    if (Date.now() < this.#until) return;
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined));
    await this.#loading;
  }

  async #load(): Promise<void> {
    const byId = new Map<string, Role>();
    let cursor: string | undefined;
    do {
      const page = await this.#records.list({ principal: SYSTEM, request: emptyRequest() }, '_roles', { perPage: '1000', skipTotal: 'true', sort: 'id', ...(cursor ? { cursor } : {}) });
      for (const item of page.items as { id: string; name: string; permissions: unknown }[]) {
        byId.set(item.id, { id: item.id, name: item.name, permissions: Array.isArray(item.permissions) ? item.permissions.filter((p): p is string => typeof p === 'string') : [] });
      }
      cursor = page.nextCursor;
    } while (cursor && byId.size < 100_000);
    this.#byId = byId;
    this.#byName = new Map([...byId.values()].map((r) => [r.name, r]));
    this.#until = Date.now() + ROLES_TTL_MS;
  }
}

function grantsOf(roles: Role[]): Grants {
  return {
    roles: [...new Set(roles.map((r) => r.name))].sort(),
    permissions: [...new Set(roles.flatMap((r) => r.permissions))].sort(),
  };
}

function checkPermissions(v: unknown): void {
  if (v === null || v === undefined) return;
  if (!Array.isArray(v) || v.length > 500 || v.some((p) => typeof p !== 'string' || !PERMISSION.test(p))) {
    throw new BasaltError('validation_failed', { data: { permissions: { code: 'validation_invalid_permissions', message: 'Permissions are a list of at most 500 tokens like "posts:publish".' } } });
  }
}
