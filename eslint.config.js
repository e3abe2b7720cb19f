// Lint is part of `npm test`: typed rules catch floating promises, which in a
// reconcile loop mean silently lost errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import capstan from './eslint-rules/import-boundaries.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.capstan/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // DESIGN §9: imports point down the layers (eslint-rules/import-boundaries.mjs).
    files: ['src/**/*.ts'],
    plugins: { capstan },
    rules: { 'capstan/import-boundaries': 'error' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: globals.node },
  },
);
