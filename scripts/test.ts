/**
 * `npm test` after the type check: every test file under each package test folder, with Node's test runner.
 * PostgreSQL suites run when BASALT_TEST_DATABASE_URL is set (CI sets it; see .ci/run).
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const files = globSync('packages/*/test/**/*.test.ts').sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const extra = process.argv.slice(2);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=4', '--test-timeout=120000', ...extra, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
