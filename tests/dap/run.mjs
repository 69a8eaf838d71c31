// Runs the DAP tests with node's built-in test runner and prints "N passed, N failed"
// (scripts/test.sh reads that line). Exits non-zero when a test fails or none ran.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(join(here, 'test'))
  .filter((f) => f.endsWith('.test.js'))
  .map((f) => join(here, 'test', f));

let passed = 0;
let failed = 0;
const stream = run({ files, concurrency: 1, timeout: 120_000 });
stream.on('test:pass', (t) => {
  if (t.details?.type !== 'suite' && t.nesting > 0) passed += 1;
});
stream.on('test:fail', (t) => {
  if (t.details?.type !== 'suite' && t.nesting > 0) failed += 1;
});
stream.compose(spec).pipe(process.stdout);
stream.on('end', () => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
