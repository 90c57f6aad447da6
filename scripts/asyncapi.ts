/**
 * The AsyncAPI 3.0 document of every Storeline topic, generated from the topic catalog
 * (lib/core/topics.ts) and the Avro schemas (schemas/*.avsc, embedded in generated/avro.ts), so it
 * cannot drift from the code. `npm run gen:asyncapi` writes schemas/asyncapi.yaml; a unit test checks it is
 * fresh and valid (@asyncapi/parser with the Avro schema parser).
 * Kafka bindings: https://github.com/asyncapi/bindings/tree/master/kafka
 */
import { stringify } from 'yaml';
import { TOPICS, type TopicId, type TopicSpec } from '../lib/core/topics';

const AVRO = 'application/vnd.apache.avro;version=1.9.0';

/**
 * The canonical stream's version; docs/consuming.md keeps its changelog. 1.1.0: planChange base plans;
 * 1.2.0: revision and retracted (corrections).
 */
export const STREAM_VERSION = '1.2.0';

/** Who writes and who reads each topic (groups as configured by default). */
const FLOWS: Record<
  TopicId,
  { send: string[]; receive: { service: string; group: string }[]; summary: string }
> = {
  rawAppStore: {
    summary: 'App Store notifications exactly as received (V2 signed JWS or V1 JSON), after verification',
    send: ['receiver-app-store'],
    receive: [{ service: 'normalizer', group: 'storeline-normalizer' }],
  },
  rawAppStoreDlq: {
    summary: 'Authentic App Store notifications the normalizer could not decode or map, with the reason',
    send: ['normalizer'],
    receive: [],
  },
  rawPlayStore: {
    summary: 'Google Play Pub/Sub push bodies exactly as received, after authentication',
    send: ['receiver-play-store'],
    receive: [{ service: 'normalizer', group: 'storeline-normalizer' }],
  },
  rawPlayStoreDlq: {
    summary: 'Authentic Play notifications the normalizer could not decode or map, with the reason',
    send: ['normalizer'],
    receive: [],
  },
  subscriptionEvents: {
    summary: 'The canonical, store-agnostic subscription events',
    send: ['normalizer'],
    receive: [
      { service: 'state-aggregator', group: 'storeline-state-aggregator' },
      { service: 'churn-triggers', group: 'storeline-churn-triggers' },
      { service: 'webhook-fanout', group: 'storeline-webhook-fanout' },
    ],
  },
  subscriptionEventsDlq: {
    summary: 'Canonical records a consumer could not decode, with the reason',
    send: ['state-aggregator', 'churn-triggers', 'webhook-fanout'],
    receive: [],
  },
  subscriptionState: {
    summary: 'Current state per subscription (compacted: the latest per key)',
    send: ['state-aggregator'],
    receive: [],
  },
  engagementTriggers: {
    summary: 'Moments to act on: billing issue, cancellation, win-back, refund abuse, ...',
    send: ['churn-triggers'],
    receive: [{ service: 'webhook-fanout', group: 'storeline-webhook-fanout' }],
  },
  engagementTriggersDlq: {
    summary: 'Engagement triggers the fan-out could not decode, with the reason',
    send: ['webhook-fanout'],
    receive: [],
  },
  webhooksDlq: {
    summary: 'Webhook deliveries that failed for good: the exact body sent, endpoint and reason in headers',
    send: ['webhook-fanout'],
    receive: [],
  },
};

const camel = (s: string) => s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

function message(id: TopicId, spec: TopicSpec): Record<string, unknown> {
  const bindings = { kafka: { key: { type: 'string', description: spec.key }, bindingVersion: '0.5.0' } };
  if (spec.value.format === 'avro') {
    const schema = spec.value.schema as { name: string; doc?: string };
    return {
      name: schema.name,
      title: schema.name,
      summary: FLOWS[id].summary,
      contentType: 'application/octet-stream',
      description:
        'Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary. Subject ' +
        `\`<topic>-value\` (TopicNameStrategy), compatibility FULL_TRANSITIVE. Source: schemas/${schema.name}.avsc.`,
      payload: { schemaFormat: AVRO, schema: spec.value.schema },
      bindings: {
        kafka: { ...bindings.kafka, schemaIdLocation: 'payload', schemaIdPayloadEncoding: 'confluent' },
      },
    };
  }
  return {
    name: `${camel(id)}Record`,
    summary: FLOWS[id].summary,
    contentType: 'application/octet-stream',
    description: spec.dlq
      ? 'The exact bytes received, with headers (format, received-at, request id).'
      : "The source record's exact bytes and headers, plus dlq.stage, dlq.reason, dlq.retriable, dlq.first-seen and dlq.source-* headers (webhooks: webhook-id, endpoint-id, outcome, last-status).",
    payload: { type: 'string', format: 'binary' },
    bindings,
  };
}

export function asyncApiDocument(): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const id of Object.keys(TOPICS) as TopicId[]) {
    const spec: TopicSpec = TOPICS[id];
    const msg = message(id, spec);
    channels[id] = {
      address: spec.name,
      title: spec.name,
      description: `${FLOWS[id].summary}. Key: ${spec.key}.${spec.dlq ? ` Dead letters: ${TOPICS[spec.dlq as TopicId].name}.` : ''}`,
      messages: { [msg.name as string]: msg },
      bindings: {
        kafka: {
          topic: spec.name,
          partitions: spec.partitions,
          replicas: 1,
          topicConfiguration: {
            'cleanup.policy': [(spec.config['cleanup.policy'] ?? 'delete') as 'delete' | 'compact'],
            ...(spec.config['retention.ms'] ? { 'retention.ms': Number(spec.config['retention.ms']) } : {}),
          },
          bindingVersion: '0.5.0',
        },
      },
    };
    const ref = { $ref: `#/channels/${id}/messages/${msg.name as string}` };
    for (const service of FLOWS[id].send) {
      operations[`${camel(service)}Sends${id[0]!.toUpperCase()}${id.slice(1)}`] = {
        action: 'send',
        channel: { $ref: `#/channels/${id}` },
        messages: [ref],
        summary: `${service} writes ${spec.name}`,
      };
    }
    for (const { service, group } of FLOWS[id].receive) {
      operations[`${camel(service)}Receives${id[0]!.toUpperCase()}${id.slice(1)}`] = {
        action: 'receive',
        channel: { $ref: `#/channels/${id}` },
        messages: [ref],
        summary: `${service} reads ${spec.name} in group ${group}`,
        bindings: { kafka: { groupId: { type: 'string', enum: [group] }, bindingVersion: '0.5.0' } },
      };
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Storeline topics',
      // Minor for an additive schema version, major for a new topic generation (docs/consuming.md).
      version: STREAM_VERSION,
      description:
        'Every Kafka topic Storeline reads or writes. Generated from lib/core/topics.ts and schemas/*.avsc by `npm run gen:asyncapi`; do not edit. Names may carry a prefix (TOPIC_PREFIX).',
      license: { name: 'Apache-2.0' },
    },
    defaultContentType: 'application/octet-stream',
    servers: {
      local: {
        host: '127.0.0.1:9092',
        protocol: 'kafka',
        description: 'The embedded local stack (`npm run stack:up`)',
        bindings: {
          kafka: {
            schemaRegistryUrl: 'http://127.0.0.1:8081/apis/ccompat/v7',
            schemaRegistryVendor: 'apicurio',
            bindingVersion: '0.5.0',
          },
        },
      },
    },
    channels,
    operations,
  };
}

export function asyncApiYaml(): string {
  return `# @generated by scripts/gen-asyncapi.ts from lib/core/topics.ts and schemas/*.avsc. Do not edit.\n${stringify(asyncApiDocument(), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
