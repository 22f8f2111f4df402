/**
 * CI preflight: fail loudly (exit 1) when a service the test suite needs is unreachable, instead of
 * letting suites skip. Today that is PostgreSQL at BASALT_TEST_DATABASE_URL.
 */
import pg from 'pg';

const url = process.env.BASALT_TEST_DATABASE_URL;
if (!url) {
  console.error('check-services: BASALT_TEST_DATABASE_URL is not set; CI must run the PostgreSQL suites');
  process.exit(1);
}
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
try {
  await client.connect();
  const { rows } = await client.query<{ v: string }>('SHOW server_version');
  console.log(`check-services: PostgreSQL ${rows[0].v} reachable`);
} catch (e) {
  console.error(`check-services: PostgreSQL unreachable at ${url.replace(/:[^:@/]*@/, ':***@')}: ${(e as Error).message}`);
  process.exit(1);
} finally {
  await client.end().catch(() => {});
}
