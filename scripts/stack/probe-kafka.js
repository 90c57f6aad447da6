// Readiness probe for the local brokers: exits 0 once every listed broker itself answers a Metadata
// request that names a controller and at least the expected number of brokers, and prints
// "brokers=N controller=ID" as the first listed broker sees it. Plain JavaScript without dependencies so
// it runs before anything is built.
//
//   node probe-kafka.js [BROKER[,BROKER…]] [EXPECTED_BROKERS]
//   e.g. node probe-kafka.js 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 3
//
// It speaks the protocol directly (Metadata v8, one connection per broker) rather than through kafkajs:
// kafkajs' describeCluster asks a random broker from the metadata, so it could neither prove that a given
// broker answers nor avoid failing on a node that was just killed but is still listed.
const { Buffer } = require('node:buffer');
const net = require('node:net');

const TIMEOUT_MS = 5000;
const METADATA = 3;
const VERSION = 8; // Kafka 2.3+, not flexible; within the range Kafka 4.x keeps

function metadataRequest(correlationId) {
  const clientId = Buffer.from('storeline-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 3);
  let o = body.writeInt16BE(METADATA, 0);
  o = body.writeInt16BE(VERSION, o);
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(0, o); // topics: none
  o = body.writeInt8(0, o); // allow_auto_topic_creation
  o = body.writeInt8(0, o); // include_cluster_authorized_operations
  body.writeInt8(0, o); // include_topic_authorized_operations
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function parseMetadata(buf, correlationId) {
  let o = 0;
  const int16 = () => ((o += 2), buf.readInt16BE(o - 2));
  const int32 = () => ((o += 4), buf.readInt32BE(o - 4));
  const string = () => {
    const n = int16();
    if (n < 0) return null;
    o += n;
    return buf.toString('utf8', o - n, o);
  };
  if (int32() !== correlationId) throw new Error('response to another request');
  int32(); // throttle_time_ms
  const brokers = [];
  for (let n = int32(); n > 0; n--) {
    const nodeId = int32();
    const host = string();
    const port = int32();
    string(); // rack
    brokers.push({ nodeId, host, port });
  }
  string(); // cluster_id
  const controller = int32();
  return { brokers, controller: controller < 0 ? null : controller };
}

function describeVia(broker) {
  const i = broker.lastIndexOf(':');
  const host = broker.slice(0, i);
  const port = Number(broker.slice(i + 1));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let data = Buffer.alloc(0);
    const done = (err, value) => {
      socket.destroy();
      if (err) reject(new Error(`${broker}: ${err.message}`, { cause: err }));
      else resolve(value);
    };
    socket.setTimeout(TIMEOUT_MS, () => done(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error('connection closed')));
    socket.on('connect', () => socket.write(metadataRequest(1)));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 4 || data.length < 4 + data.readInt32BE(0)) return;
      try {
        done(null, parseMetadata(data.subarray(4, 4 + data.readInt32BE(0)), 1));
      } catch (err) {
        done(err);
      }
    });
  });
}

async function main() {
  const brokers = (process.argv[2] || '127.0.0.1:9092').split(',').filter(Boolean);
  const expected = process.argv[3] === undefined ? 1 : Number(process.argv[3]);
  if (!Number.isInteger(expected) || expected < 1)
    throw new Error(`bad expected broker count: ${process.argv[3]}`);
  const seen = await Promise.all(
    brokers.map(async (broker) => {
      const cluster = await describeVia(broker);
      if (cluster.controller === null) throw new Error(`${broker}: no controller yet`);
      if (cluster.brokers.length < expected)
        throw new Error(`${broker}: sees ${cluster.brokers.length} of ${expected} brokers`);
      return cluster;
    }),
  );
  process.stdout.write(`brokers=${seen[0].brokers.length} controller=${seen[0].controller}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`kafka not ready: ${err.message}\n`);
    process.exit(1);
  },
);
