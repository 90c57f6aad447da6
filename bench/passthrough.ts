/**
 * P2 baseline: a bare kafkajs consume -> produce passthrough (no decoding, no transactions, acks=all),
 * run as its own process. Usage: tsx bench/passthrough.ts <brokers> <from> <to> <groupId>
 */
import { Kafka, logLevel } from 'kafkajs';

const [brokers, from, to, groupId] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'bench-passthrough',
  brokers: brokers!.split(','),
  logLevel: logLevel.NOTHING,
});

async function main(): Promise<void> {
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: groupId! });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topics: [from!], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      await producer.send({
        topic: to!,
        acks: -1,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
    },
  });
  process.on('SIGTERM', () => {
    void Promise.all([consumer.disconnect(), producer.disconnect()]).then(() => process.exit(0));
  });
}

void main();
