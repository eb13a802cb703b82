// Type-aware linting: the promise rules catch floating and misused promises, which in an operator mean
// swallowed API errors and reconciles that silently never finish.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * A layer of src/ and the imports it must not have.
 * @param {string} dir
 * @param {string[]} forbidden
 * @param {string} why
 */
const layer = (dir, forbidden, why) => ({
  files: [`${dir}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message: `${dir} ${why}` }] }],
  },
});

export default defineConfig(
  { ignores: ['node_modules/', 'dist/', 'tools/controlplane/'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // Arrows point down only (docs/design.md, Layout): each directory may import only the ones below it.
  layer('src/kubernetes', ['../**'], 'imports nothing of the project'),
  layer(
    'src/packages',
    ['**/api/**', '**/model/**', '**/controller/**', '**/runtime/**', '**/cli/**'],
    'imports only kubernetes/',
  ),
  layer(
    'src/api',
    ['**/model/**', '**/controller/**', '**/runtime/**', '**/cli/**'],
    'imports only packages/ and kubernetes/',
  ),
  layer(
    'src/model',
    ['**/controller/**', '**/runtime/**', '**/cli/**'],
    'imports only api/, packages/ and kubernetes/',
  ),
  layer(
    'src/runtime',
    ['**/api/**', '**/model/**', '**/packages/**', '**/controller/**', '**/cli/**'],
    'knows nothing of KasprApp: imports only kubernetes/',
  ),
  layer('src/controller', ['**/cli/**'], 'is imported by cli/, not the other way round'),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
