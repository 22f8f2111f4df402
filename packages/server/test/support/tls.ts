/**
 * A throw-away TLS certificate for tests that serve HTTPS: self-signed for `localhost` and 127.0.0.1,
 * valid one day, made with the system's `openssl`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The PEM files (paths for `tlsCert`/`tlsKey`), the certificate to trust (`ca`), and clean-up. */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** Where the files live (tests may put other files there). */
  dir: string;
  cert: Buffer;
  cleanup(): void;
}

/** Make a fresh self-signed certificate and key in a new temporary directory. */
export function selfSignedCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'basalt-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { certFile, keyFile, dir, cert: readFileSync(certFile), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
