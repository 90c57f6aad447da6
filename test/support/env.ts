/** The stack the integration tests run against (set by globalSetup). */
export function stackEnv(): { brokers: string[]; registryUrl: string; databaseUrl: string } {
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL } = process.env;
  if (!KAFKA_BROKERS || !SCHEMA_REGISTRY_URL || !DATABASE_URL) {
    throw new Error(
      'integration tests need the stack: run them through jest (globalSetup) or set the variables',
    );
  }
  return { brokers: KAFKA_BROKERS.split(','), registryUrl: SCHEMA_REGISTRY_URL, databaseUrl: DATABASE_URL };
}
