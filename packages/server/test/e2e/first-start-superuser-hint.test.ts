/**
 * `basalt serve` on an empty database tells the operator how to create the first superuser (the
 * `basalt superuser upsert` command, with the options that select this server's data), at `warn`;
 * once a superuser exists it says nothing of the kind. The hint never repeats a database URL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dialects } from '../support/databases.ts';
import { freshServerData, startServer } from '../support/server-process.ts';

/** The JSON log lines a server printed so far. */
function logLines(output: string): { level: string; msg: string }[] {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string });
}

/** Wait until `predicate` holds for the output (the hint follows the "serving at" line). */
async function waitFor(output: () => string, predicate: (o: string) => boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !predicate(output()); ) {
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const dialect of dialects()) {
  describe(`first start (${dialect})`, () => {
    it('an empty database: a warning with the superuser upsert command for this data', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const server = await startServer(data, { superuser: false });
      t.after(() => server.kill());
      await waitFor(server.output, (o) => o.includes('superuser upsert'));
      const hint = logLines(server.output()).find((l) => l.msg.includes('superuser upsert'));
      assert.ok(hint, `a hint was logged\n${server.output()}`);
      assert.equal(hint.level, 'warn');
      assert.match(hint.msg, /npx basalt superuser upsert EMAIL PASSWORD/);
      assert.ok(hint.msg.includes(`--dir ${data.dir}`), `names this server's data directory: ${hint.msg}`);
      if (data.databaseUrl) {
        assert.ok(!hint.msg.includes(data.databaseUrl), 'never repeats the database URL');
        assert.match(hint.msg, /--database-url URL/);
        assert.ok(hint.msg.includes(`--database-schema ${data.databaseSchema}`));
      }
      await server.stop();
    });

    it('with a superuser: no hint', async (t) => {
      const data = freshServerData(dialect);
      t.after(() => data.cleanup());
      const server = await startServer(data);
      t.after(() => server.kill());
      await server.superuserToken();
      // The check runs right after "serving at"; give it the time it would need to print.
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(!server.output().includes('superuser upsert'), server.output());
      await server.stop();
    });
  });
}
