// Keeps docs/levels.md true to the code: every ```ts block names its source file in its first
// line, and each of its lines (trimmed; `// …` marks a gap) must still appear in that file.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const guide = read('docs/levels.md');

/** Each ```ts block (indented ones included) as its lines, indentation removed. */
function blocks(markdown: string): string[][] {
  const found: string[][] = [];
  let current: string[] | undefined;
  for (const line of markdown.split('\n')) {
    const trimmed = line.trim();
    if (current === undefined) {
      if (trimmed === '```ts') current = [];
    } else if (trimmed === '```') {
      found.push(current);
      current = undefined;
    } else current.push(trimmed);
  }
  expect(current, 'an unclosed code block').toBeUndefined();
  return found;
}

describe('docs/levels.md', () => {
  const all = blocks(guide);

  it('has code blocks, each naming a file that exists', () => {
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const block of all) {
      const source = /^\/\/ ((?:src|test)\/\S+\.ts)$/.exec(block[0] ?? '')?.[1];
      expect(source, `first line of a block: ${block[0]}`).toBeDefined();
      expect(existsSync(new URL(source!, root)), source).toBe(true);
    }
  });

  it('quotes only lines that are in the named file', () => {
    for (const [first = '', ...lines] of all) {
      const source = first.slice(3);
      const code = new Set(
        read(source)
          .split('\n')
          .map((l) => l.trim()),
      );
      for (const line of lines) {
        if (line === '' || line === '// …') continue;
        expect(code, `${source}: ${line}`).toContain(line);
      }
    }
  });
});
