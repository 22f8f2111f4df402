/**
 * Collections: the model, validation of client definitions, DDL planning for both dialects, and the
 * live registry that applies schema changes transactionally.
 */
export * from './collection-model.ts';
export { normalizeCollection, idField, authFields, rolesField, ROLES_COLLECTION_ID, ruleKeys, MAX_FIELDS, MAX_RULE_LENGTH, type RuleKey } from './collection-validate.ts';
export { planCreate, planUpdate, planDrop, indexStatements, type DdlStep } from './collection-ddl.ts';
export { CollectionRegistry, SCHEMA_CHANGE_COLLECTION, type SchemaChange, type RegistryHooks } from './collection-registry.ts';
export { migrateUp, migrateDown, migrationStatus, createMigrationFile, writeChangeMigration, type Migration, type Migrator, type MigrationStatus } from './collection-migrations.ts';
export { defaultAuthOptions, normalizeAuthOptions, publicAuthOptions, AUTH_OPTION_KEYS, type AuthOptions, type EmailTemplate, type OAuthProviderOptions } from './collection-auth-options.ts';
export { authEmailMatch, ensureAuthEmailIndexes, foldEmail, isAuthEmailField } from './auth-email-index.ts';
