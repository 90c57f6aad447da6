/**
 * Finds the stack the integration tests run against, in this order:
 *  1. KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL already set (CI, `eval "$(npm run -s stack:up)"`);
 *  2. a Docker engine that answers: testcontainers (apache/kafka, Apicurio, postgres);
 *  3. otherwise the embedded local stack (scripts/stack/stack.sh up), left running for the next run.
 * The variables are exported for the test workers, which jest forks after this runs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

function haveAll(): boolean {
  return Boolean(process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL && process.env.DATABASE_URL);
}

async function dockerAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(): Promise<void> {
  const { GenericContainer, Network, Wait } = await import('testcontainers');
  const network = await new Network().start();
  const pg = await new GenericContainer('postgres:16')
    .withNetwork(network)
    .withNetworkAliases('postgres')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'storeline' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const kafka = await new GenericContainer('apache/kafka:3.9.1')
    .withNetwork(network)
    .withExposedPorts({ container: 9092, host: 19092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:19092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new GenericContainer('apicurio/apicurio-registry:3.0.9')
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
    .start();
  process.env.KAFKA_BROKERS = `127.0.0.1:19092`;
  process.env.SCHEMA_REGISTRY_URL = `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`;
  process.env.DATABASE_URL = `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/storeline`;
  (globalThis as { __storelineContainers?: unknown[] }).__storelineContainers = [
    registry,
    kafka,
    pg,
    network,
  ];
}

function startLocalStack(): void {
  const out = execFileSync('bash', [resolve(ROOT, 'scripts/stack/stack.sh'), 'up'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for (const line of out.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) process.env[m[1] as string] = m[2];
  }
}

export default async function globalSetup(): Promise<void> {
  // Tags every name this run creates, so the teardown can remove exactly those (test/support/cleanup.ts).
  process.env.STORELINE_TEST_RUN ??= randomBytes(2).toString('hex');
  if (haveAll()) return;
  if (await dockerAnswers()) {
    await startContainers();
    return;
  }
  startLocalStack();
  if (!haveAll())
    throw new Error('the local stack did not print KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL');
}
