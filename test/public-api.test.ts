import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const app = 'test/fixtures/tiny-app';

// The tiny app imports only `tworooms`, `tworooms/sqlite` and `tworooms/testing`, which resolve
// through package.json "exports" to the built dist/ (npm test builds before it runs the tests).
describe('public entry points', () => {
  it('are built with type declarations', () => {
    for (const f of [
      'dist/core/index.d.ts',
      'dist/stores/sqlite/index.d.ts',
      'dist/core/testing/index.d.ts',
    ]) {
      expect(existsSync(`${root}/${f}`), f).toBe(true);
    }
  });

  it('type-check a tiny app written against them', () => {
    const tsc = `${root}/node_modules/typescript/bin/tsc`;
    expect(() =>
      execFileSync(process.execPath, [tsc, '-p', `${app}/tsconfig.json`], {
        cwd: root,
        encoding: 'utf8',
      }),
    ).not.toThrow();
  });

  it('run the tiny app end to end', () => {
    const tsx = `${root}/node_modules/tsx/dist/cli.mjs`;
    const out = execFileSync(process.execPath, [tsx, `${app}/app.ts`], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({
      registered: { id: 'a', position: '1' },
      replayed: true,
      board: [{ id: 'a', name: 'Ada', likes: 2 }],
      stale: false,
    });
  });
});
