// .dockerignore patterns as the Docker CLI applies them.
import { describe, expect, it } from 'vitest';
import { isIgnored, parseDockerignore } from '../../src/backends/docker/dockerignore.js';

describe('.dockerignore', () => {
  const patterns = parseDockerignore(['# comment', 'node_modules', '*.log', '**/*.tmp', 'docs', '!docs/README.md', '/secret.txt', 'build?', ''].join('\n'));
  it.each([
    ['node_modules/x/index.js', true],
    ['src/node_modules/x.js', false],
    ['app.log', true],
    ['logs/app.log', false],
    ['a/b/c.tmp', true],
    ['c.tmp', true],
    ['docs/guide.md', true],
    ['docs/README.md', false],
    ['secret.txt', true],
    ['build1/out', true],
    ['build12/out', false],
    ['src/index.js', false],
  ])('%s ignored: %s', (path, ignored) => {
    expect(isIgnored(patterns, path)).toBe(ignored);
  });
});
