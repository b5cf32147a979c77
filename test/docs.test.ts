// Keeps README.md and docs/api.md true to the code: the error-code table, the routes, the npm
// scripts and CLI commands the README names, and the README's library example.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coreErrorCodes } from '../src/core/errors.js';
import { httpErrorCodes, statusOf } from '../src/http/errors.js';
import { shopErrorCodes } from '../src/shop/errors.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const api = read('docs/api.md');
const readme = read('README.md');

/** The lines of a markdown section, from its `## ` heading to the next one. */
function section(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Body rows of the markdown tables in `lines`, as trimmed cells (header and separator left out). */
function tableRows(lines: readonly string[]): string[][] {
  const rows = lines
    .filter((l) => l.trim().startsWith('|'))
    .map((l) =>
      l
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim()),
    );
  return rows.filter((cells, i) => i > 0 && !cells.every((c) => /^:?-+:?$/.test(c)));
}

/** Every error code that exists, with the HTTP status it is answered with. */
function expectedStatuses(): Map<string, number> {
  const statuses = new Map<string, number>();
  for (const [code, { category }] of Object.entries({ ...coreErrorCodes, ...shopErrorCodes })) {
    statuses.set(code, statusOf[category]);
  }
  for (const [code, { status }] of Object.entries(httpErrorCodes)) statuses.set(code, status);
  return statuses;
}

describe('docs/api.md', () => {
  const rows = tableRows(section(api, 'Error codes'));
  const documented = rows.map(([code = '', status = '']) => ({
    code: code.replace(/`/g, ''),
    status: Number(status),
  }));

  it('lists every error code exactly once, and no other', () => {
    const expected = expectedStatuses();
    // The three catalogues must not share a code either, or one status would hide the other.
    expect(expected.size).toBe(
      Object.keys(coreErrorCodes).length +
        Object.keys(shopErrorCodes).length +
        Object.keys(httpErrorCodes).length,
    );
    const codes = documented.map((d) => d.code);
    expect(codes.length, 'a code is listed twice').toBe(new Set(codes).size);
    expect([...codes].sort()).toEqual([...expected.keys()].sort());
  });

  it('gives each code the HTTP status it is answered with', () => {
    const expected = expectedStatuses();
    for (const { code, status } of documented) {
      expect(status, code).toBe(expected.get(code));
    }
  });

  it('documents every route the server registers, and only those', () => {
    const sources = [
      'src/http/app.ts',
      ...readdirSync(new URL('../src/http/routes/', import.meta.url))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => `src/http/routes/${f}`),
    ];
    const served = new Set(['GET /docs']); // registered by @fastify/swagger-ui
    for (const file of sources) {
      for (const m of read(file).matchAll(/\bapp\.(get|post|put|patch|delete)\(\s*'([^']+)'/g)) {
        served.add(`${m[1]!.toUpperCase()} ${m[2]}`);
      }
    }
    const inDocs = new Set(
      [...api.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`?\s]*)/g)].map((m) => `${m[1]} ${m[2]}`),
    );
    expect([...inDocs].sort()).toEqual([...served].sort());
  });
});

describe('README.md', () => {
  it('names only npm scripts that exist', () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    const named = new Set([
      ...[...readme.matchAll(/\bnpm run ([\w:.-]+)/g)].map((m) => m[1]!),
      ...[...readme.matchAll(/\bnpm (start|test)\b/g)].map((m) => m[1]!),
    ]);
    expect(named.size).toBeGreaterThan(0);
    for (const name of named) expect(Object.keys(scripts), `npm run ${name}`).toContain(name);
  });

  it('names only tworooms commands that src/cli/main.ts registers', () => {
    const registered = [...read('src/cli/main.ts').matchAll(/\.command\(\s*'([^'\s]+)/g)].map(
      (m) => m[1]!,
    );
    expect(registered).toContain('serve');
    // `tworooms serve`, `npx tworooms status`, `npm run tworooms -- status`; not `'tworooms/sqlite'`.
    const named = new Set(
      [...readme.matchAll(/(?:^|[\s`])tworooms(?: --)? ([a-z][\w-]*)/gm)].map((m) => m[1]!),
    );
    expect(named.size).toBeGreaterThan(0);
    for (const name of named) expect(registered, `tworooms ${name}`).toContain(name);
  });

  it('takes its library example from the type-checked tiny app', () => {
    const app = read('test/fixtures/tiny-app/app.ts');
    const appLines = new Set(app.split('\n').map((l) => l.trim()));
    const imports = new Map<string, Set<string>>();
    for (const m of app.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
      imports.set(m[2]!, new Set(m[1]!.split(',').map((n) => n.trim())));
    }
    const block = /^```ts\n([\s\S]*?)^```/m.exec(readme)?.[1];
    expect(block, 'a ```ts block in README.md').toBeDefined();
    for (const line of block!.split('\n').map((l) => l.trim())) {
      if (line === '' || line.startsWith('//')) continue;
      const imported = /^import\s*\{([^}]*)\}\s*from\s*'([^']+)';$/.exec(line);
      if (imported) {
        for (const name of imported[1]!.split(',').map((n) => n.trim())) {
          expect(imports.get(imported[2]!), `${name} from ${imported[2]}`).toContain(name);
        }
      } else {
        expect(appLines, line).toContain(line);
      }
    }
  });
});
