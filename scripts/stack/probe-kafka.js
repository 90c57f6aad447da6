// Readiness probe for the local broker: exits 0 once the broker answers metadata and has a controller.
// Plain JavaScript so it runs before anything is built.
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const broker = process.argv[2] || '127.0.0.1:9092';
  const kafka = new Kafka({
    clientId: 'storeline-probe',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1500,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0 || cluster.controller === null) throw new Error('no controller yet');
  } finally {
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`kafka not ready: ${err.message}\n`);
    process.exit(1);
  },
);
