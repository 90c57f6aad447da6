/** Builds the console from its settings: pools, Kafka clients, the live stream, DLQ counts, the app. */
import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Operator } from '../../lib/core/console/auth';
import type { EngagementTrigger, SubscriptionEvent } from '../../lib/core/generated/avro';
import { TopicNames } from '../../lib/core/topics';
import { DlqCounts, LiveStream } from '../../lib/adapters/console/kafka';
import { EndpointManager } from '../../lib/adapters/webhooks/endpoints';
import { SsrfGuard } from '../../lib/adapters/webhooks/ssrf';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool, probeDatabase } from '../../lib/platform/db';
import type { Logger } from '../../lib/platform/logger';
import { createConsoleApp } from './app';

export interface ConsoleSettings {
  kafka: Kafka;
  registryUrl: string;
  topicPrefix: string;
  databaseUrl: string;
  schemas: { state: string; triggers: string; webhooks: string; play: string };
  operators: Operator[];
  sessionTtlMs: number;
  secureCookies: boolean;
  lagGroups: string[];
  groupPrefix: string;
  dlqRefreshMs: number;
  allowedCidrs: string[];
  logger: Logger;
  metrics?: Registry;
}

export interface BuiltConsole {
  app: Express;
  live: LiveStream;
  dlqCounts: DlqCounts;
  ready: () => Promise<boolean>;
  close: () => Promise<void>;
}

export async function buildConsole(s: ConsoleSettings): Promise<BuiltConsole> {
  const names = new TopicNames(s.topicPrefix);
  const pools = {
    state: createPool(s.databaseUrl, s.schemas.state, 4, s.logger),
    triggers: createPool(s.databaseUrl, s.schemas.triggers, 2, s.logger),
    webhooks: createPool(s.databaseUrl, s.schemas.webhooks, 3, s.logger),
    play: createPool(s.databaseUrl, s.schemas.play, 1, s.logger),
  };
  const registry = createRegistry(s.registryUrl);
  // Decoding only: the reader schema resolves each record's writer schema; nothing is registered here.
  const eventCodec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
  const triggerCodec = codecFor<EngagementTrigger>(registry, names, 'engagementTriggers');
  const live = new LiveStream({
    kafka: s.kafka,
    topic: names.name('subscriptionEvents'),
    groupId: `${s.groupPrefix}-${randomBytes(6).toString('hex')}`,
    codec: eventCodec,
    logger: s.logger,
  });
  const dlqCounts = new DlqCounts({ kafka: s.kafka, names, logger: s.logger, intervalMs: s.dlqRefreshMs });
  if (s.metrics) dlqCounts.register(s.metrics);
  const manager = new EndpointManager(pools.webhooks, new SsrfGuard(s.allowedCidrs), {
    maxConcurrency: 10,
    timeoutMs: 15_000,
  });
  live.start();
  dlqCounts.start();
  const app = createConsoleApp(
    {
      pools,
      kafka: s.kafka,
      names,
      manager,
      live,
      dlqCounts,
      eventCodec,
      triggerCodec,
      lagGroups: s.lagGroups,
      logger: s.logger,
    },
    { operators: s.operators, sessionTtlMs: s.sessionTtlMs, secureCookies: s.secureCookies },
  );
  return {
    app,
    live,
    dlqCounts,
    ready: async () => {
      await probeDatabase(pools.state);
      return true;
    },
    close: async () => {
      await live.stop();
      await dlqCounts.stop();
      await Promise.all(Object.values(pools).map((p) => p.end()));
    },
  };
}
