/** OpenAPI 3.1 description of the state query API (served at /openapi.json). */
import { subscriptionStateSchema } from '../generated/avro';

const stateFields = (subscriptionStateSchema as { fields: { name: string; doc?: string }[] }).fields;

const SubscriptionState = {
  type: 'object',
  description: 'Avro SubscriptionState (schemas/SubscriptionState.avsc) as JSON, plus entitledNow.',
  properties: {
    ...Object.fromEntries(stateFields.map((f) => [f.name, { description: f.doc ?? f.name }])),
    entitledNow: {
      type: 'boolean',
      description: 'entitled, and not past expiry (or the grace deadline) at request time',
    },
  },
};
const Error = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
};
const errors = {
  '400': {
    description: 'invalid input',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  '401': {
    description: 'missing or invalid API key',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  '404': {
    description: 'unknown subscription or user',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Storeline subscription state API',
    version: '1.0.0',
    description: 'Is this user entitled right now, and why?',
  },
  security: [{ bearer: [] }, { apiKey: [] }],
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
    },
    schemas: { SubscriptionState, Error },
  },
  paths: {
    '/v1/subscriptions/{subscriptionKey}': {
      get: {
        summary: 'State of one subscription and its last 50 events (newest first)',
        parameters: [
          {
            name: 'subscriptionKey',
            in: 'path',
            required: true,
            schema: { type: 'string' },
            example: 'app_store:2000000123456789',
          },
        ],
        responses: {
          '200': {
            description: 'state and recent events',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    state: { $ref: '#/components/schemas/SubscriptionState' },
                    events: {
                      type: 'array',
                      items: { type: 'object', description: 'Avro SubscriptionEvent as JSON' },
                    },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    '/v1/users/{appUserId}/subscriptions': {
      get: {
        summary: "A user's subscriptions, ordered by subscriptionKey",
        parameters: [
          { name: 'appUserId', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          {
            name: 'cursor',
            in: 'query',
            schema: { type: 'string' },
            description: 'nextCursor of the previous page',
          },
        ],
        responses: {
          '200': {
            description: 'a page of states',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    items: { type: 'array', items: { $ref: '#/components/schemas/SubscriptionState' } },
                    nextCursor: { type: ['string', 'null'] },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    '/v1/users/{appUserId}/entitlements': {
      get: {
        summary: 'Products the user has access to now, with their expiry',
        parameters: [{ name: 'appUserId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'entitlements',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    appUserId: { type: 'string' },
                    asOf: { type: 'integer', description: 'epoch ms' },
                    entitlements: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          productId: { type: 'string' },
                          subscriptionKey: { type: 'string' },
                          store: { type: 'string' },
                          status: { type: 'string' },
                          expiresAt: { type: ['integer', 'null'] },
                          autoRenew: { type: ['boolean', 'null'] },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
  },
} as const;
