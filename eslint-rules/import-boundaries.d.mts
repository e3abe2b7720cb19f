// Types of the local ESLint plugin, for the test that lints snippets with it.
import type { ESLint } from 'eslint';

declare const plugin: ESLint.Plugin;
export default plugin;
