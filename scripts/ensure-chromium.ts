/**
 * `npm test`'s pretest step: make sure the browser the passkey test drives
 * (packages/server/test/e2e/passkeys-chromium.test.ts) is there, so `npm install && npm test` passes on
 * a fresh machine by itself.
 *
 * - `BASALT_TEST_CHROMIUM` names another Chromium/Chrome: it must exist, nothing is installed.
 * - Otherwise Debian's `/usr/bin/chromium` is used; when it is missing and this user can install
 *   packages (root, or password-less `sudo`) with `apt-get`, the `chromium` package is installed.
 * - Otherwise it says what to do and exits 1: the suite fails rather than skipping the browser test.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Where the passkey test looks for Chromium when `BASALT_TEST_CHROMIUM` is not set. */
const DEBIAN_CHROMIUM = '/usr/bin/chromium';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fail(message: string): never {
  process.stderr.write(`ensure-chromium: ${message}\n`);
  process.exit(1);
}

function run(argv: string[], opts: SpawnSyncOptions = {}): boolean {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit', ...opts });
  return r.status === 0;
}

const override = process.env.BASALT_TEST_CHROMIUM;
if (override) {
  if (!executable(override)) fail(`BASALT_TEST_CHROMIUM is ${override}, which is not an executable file. Point it at Chromium or Chrome, or unset it to use Debian's ${DEBIAN_CHROMIUM}.`);
  process.exit(0);
}
if (executable(DEBIAN_CHROMIUM)) process.exit(0);

const howTo = `The passkey browser test needs Chromium at ${DEBIAN_CHROMIUM}. Install it (Debian/Ubuntu: \`sudo apt-get install -y chromium\`), or set BASALT_TEST_CHROMIUM to the path of a Chromium or Chrome binary, then run npm test again.`;
const hasAptGet = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
if (!hasAptGet) fail(`${DEBIAN_CHROMIUM} is missing and apt-get is not available here. ${howTo}`);
// Root installs directly; anyone else only through sudo that asks no password (CI runners), never a prompt.
const asRoot = process.getuid?.() === 0;
const sudo = asRoot ? [] : spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0 ? ['sudo', '-n'] : undefined;
if (!sudo) fail(`${DEBIAN_CHROMIUM} is missing and this user cannot install packages (not root, no password-less sudo). ${howTo}`);

process.stderr.write(`ensure-chromium: ${DEBIAN_CHROMIUM} is missing; installing Debian's chromium package with apt-get (once per machine)\n`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
// Other processes on the machine may hold the dpkg lock for a while: wait for it instead of failing.
const lock = ['-o', 'DPkg::Lock::Timeout=600'];
const installed =
  run([...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...lock, 'update', '-qq'], { env }) &&
  run([...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...lock, 'install', '-y', '-qq', 'chromium'], { env });
if (!installed || !executable(DEBIAN_CHROMIUM)) fail(`installing chromium with apt-get failed (see above). ${howTo}`);
process.stderr.write(`ensure-chromium: installed ${DEBIAN_CHROMIUM}\n`);
