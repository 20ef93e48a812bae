// ESLint (flat config) for every workspace: `npm run lint` (see README.md#developer-loop).
// The rule set aims at real bugs (unused code, promises nobody awaits, misused async callbacks),
// not at layout: Prettier owns formatting (.prettierrc.json).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'models/**',
      'test-results/**',
      'playwright-report/**',
      'e2e/artifacts/**',
      'bench-results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `while (true)` loops with a return inside are the house style for readers and pollers.
      'no-constant-condition': ['error', { checkLoops: false }],
      // Empty `catch {}` blocks carry a comment saying why the error is ignored.
      'no-empty': ['error', { allowEmptyCatch: true }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Off: on this code base they flagged only deliberate code (initialisers kept for readers, escapes kept for
      // readability in character classes, control characters in wire-format regexes, a catch clause re-labelling its error).
      'no-useless-assignment': 'off',
      'no-useless-escape': 'off',
      'no-control-regex': 'off',
      'no-ex-assign': 'off',
      // Casts at wire boundaries and in test doubles are deliberate; type-aware rules below catch the misuse that matters.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Type-aware rules, where they are cheap and catch real bugs: a promise nobody awaits or catches
    // (an unhandled rejection crashes the process), an async function where a callback's result is ignored.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['playwright.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's describe/it/test return promises that the runner itself tracks.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['admin-web/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
