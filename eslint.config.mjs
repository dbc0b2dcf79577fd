import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.stack/**', '**/*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/require-await': 'off',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/libs/*/src/**', '@isogate/*/src/**'],
              message: 'Import a lib through its index (@isogate/<lib>).',
            },
          ],
        },
      ],
    },
  },
  {
    // Only the isolation lib may talk to the stores directly.
    files: ['apps/**/*.ts', 'libs/audit/**/*.ts', 'libs/embeddings/**/*.ts', 'libs/models/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['pg', 'ioredis', 'falkordb', '@qdrant/js-client-rest'].map((name) => ({
            name,
            message: 'Store drivers are used only inside libs/isolation.',
          })),
          patterns: [
            {
              group: ['**/libs/*/src/**'],
              message: 'Import a lib through its index (@isogate/<lib>).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off', '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
);
