// Two projects: unit tests sit beside the code; integration tests in test/ run against the real stack
// (Kafka, schema registry, PostgreSQL) that test/support/globalSetup.ts finds or starts.
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];

/** @type {import('jest').Config} */
module.exports = {
  reporters: ['default', '<rootDir>/test/support/totalsReporter.js'],
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/services', '<rootDir>/lib', '<rootDir>/scripts'],
      testMatch: ['**/*.test.ts'],
      transform: { '^.+\\.ts$': tsJest },
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.itest.ts'],
      transform: { '^.+\\.ts$': tsJest },
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/integrationSetup.ts'],
    },
    {
      // Fault scenarios on stacks of their own (test/chaos/harness.ts): broker, registry and database
      // outages, poison records and kills under load. Minutes, not seconds; run by `npm test` and CI.
      displayName: 'chaos',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/chaos'],
      testMatch: ['**/*.chaos.ts'],
      transform: { '^.+\\.ts$': tsJest },
    },
  ],
};
