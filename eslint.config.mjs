// One linter, one formatter (Prettier). Focused and skipped-without-reason tests are errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import jest from 'eslint-plugin-jest';

export default tseslint.config(
  { ignores: ['dist/**', '.stack/**', 'node_modules/**', 'coverage/**', 'lib/core/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Services log through pino; console is for CLIs and scripts only.
    files: ['services/**/*.ts', 'lib/**/*.ts'],
    ignores: ['services/cli/**', '**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  // Layout boundaries. Where things live:
  //   services/<name>/  one folder per deployable: main.ts (a spec for lib/platform/service.ts), config.ts,
  //                     app.ts when it serves HTTP (services/cli keeps its command files; fake-play-api is
  //                     the local stack's stand-in for Google, run from the image like the others);
  //   lib/core/         pure: store mapping, ingest (format, accept, normalize), Play ports and processor,
  //                     fold, trigger decisions, webhook policy and signing, topic catalog, generated types;
  //   lib/platform/     Kafka client, publisher, transactional loop, dead letters, canonical-consumer loop,
  //                     consumer guard, Avro codec, database, HTTP helpers, metrics, lifecycle, service runner;
  //   lib/adapters/     Play API client and snapshot repository, claims, state/trigger stores, webhook store
  //                     (one module per table), SSRF guard and sender, each consumer's worker;
  //   test/kit/         builders, the signing PKI, fixture paths, matchers: for tests (and the dev scripts
  //                     and benchmarks), never built into dist/. test/support is the integration harness.
  // Rules: lib/core imports only lib/core, its generated types, pure node built-ins and pure libraries (no
  // Kafka, PostgreSQL, Express, pino, prom-client, fetch, fs, net, http, process); nothing built (lib/,
  // services/) imports test/kit; lib never imports services. Tests may reach anything.
  {
    files: ['lib/**/*.ts', 'services/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)test/', message: 'test/kit is for tests: nothing built imports it.' }] },
      ],
    },
  },
  {
    files: ['lib/**/*.ts'],
    ignores: ['**/*.test.ts', 'lib/core/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)test/', message: 'test/kit is for tests: nothing built imports it.' },
            { regex: '(^|/)services/', message: 'lib never imports a deployable (services/).' },
          ],
        },
      ],
    },
  },
  {
    files: ['lib/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...['kafkajs', 'pg', 'express', 'pino', 'prom-client', '@kafkajs/confluent-schema-registry'],
            ...[
              'fs',
              'fs/promises',
              'net',
              'http',
              'https',
              'http2',
              'dns',
              'tls',
              'dgram',
              'child_process',
            ].flatMap((m) => [m, `node:${m}`]),
          ].map((name) => ({ name, message: 'lib/core is pure: no I/O.' })),
          patterns: [
            {
              regex: '(^|/)(platform|adapters|services|test|scripts|bench)(/|$)',
              message: 'lib/core imports only lib/core (and the generated types in lib/core/generated).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'lib/core is pure: HTTP belongs in lib/adapters or lib/platform.' },
        {
          name: 'process',
          message: 'lib/core is pure: environment, signals and exits belong to the services.',
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', 'assert*'] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
