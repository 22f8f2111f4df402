/**
 * Encryption at rest: AES-256-GCM envelope encryption with master keys from configuration.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretBox, newMasterKeyEntry, parseMasterKeys } from './secret-box.ts';

export { SecretBox, parseMasterKeys, newMasterKeyEntry, type MasterKey } from './secret-box.ts';
export { SEALED_SYSTEM_COLUMNS, type SealedColumn } from './sealed-columns.ts';

/**
 * The secret box of a configuration: the configured master keys, or else the development key in
 * `<dataDir>/encryption.key`, generated (mode 0600) on first use.
 */
export function loadSecretBox(config: { encryptionKeys: readonly string[]; dataDir: string }): SecretBox {
  if (config.encryptionKeys.length) return new SecretBox(parseMasterKeys(config.encryptionKeys));
  const file = join(config.dataDir, 'encryption.key');
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true });
    // `wx`: two processes starting at once never overwrite each other's key.
    try {
      writeFileSync(file, `${newMasterKeyEntry('dev1')}\n`, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    chmodSync(file, 0o600);
  }
  return new SecretBox(parseMasterKeys(readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean)));
}
