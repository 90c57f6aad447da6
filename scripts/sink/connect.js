// Kafka Connect REST helper for scripts/sink/sink.sh. Plain JavaScript without dependencies (Node 20's
// fetch), so it runs before anything is built.
//
//   node connect.js URL info                       "Kafka Connect <version>, Kafka cluster <id>"
//   node connect.js URL ready                      exit 0 when the worker answers /health (herder started)
//   node connect.js URL plugins CLASS...           exit 0 when every class is an installed plugin, else name the missing
//   node connect.js URL render FILE...             print the connector configs with ${VAR} filled from the environment
//   node connect.js URL apply FILE...              validate every config (PUT /connector-plugins/{class}/config/validate),
//                                                  then create or update each (PUT /connectors/{name}/config) and wait
//                                                  until the connector and all its tasks are RUNNING
//   node connect.js URL remove FILE...             delete those connectors (names rendered like apply)
//   node connect.js URL status                     one line per connector and task; exit 1 when one is not RUNNING
//
// With SINK_DATABASE_URL set, apply first creates the `warehouse` schema there (needs the `pg` package;
// sink.sh does it with psql instead).
//
// Connector files are {"name": …, "config": {…}} (the body of POST /connectors). Every ${VAR} must be set in
// the environment (it may be empty); an unset one is an error, so a typo cannot reach a worker.
/* global fetch, AbortSignal, setTimeout */ // Node 20 globals
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { basename } = require('node:path');

const [, , base, cmd, ...args] = process.argv;
const WAIT_MS = Number(process.env.SINK_WAIT_MS || 180_000);
const FAILED_FOR_MS = 5000;

function die(msg) {
  process.stderr.write(`[sink] ${msg}\n`);
  process.exit(1);
}

async function call(method, path, body, timeoutMs = 30_000) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = { message: text };
  }
  return { status: res.status, ok: res.ok, json };
}

function render(file) {
  const raw = readFileSync(file, 'utf8');
  const missing = new Set();
  const filled = raw.replace(/\$\{([A-Z0-9_]+)\}/g, (_m, name) => {
    const v = process.env[name];
    if (v === undefined) {
      missing.add(name);
      return '';
    }
    return JSON.stringify(v).slice(1, -1);
  });
  if (missing.size) die(`${file}: unset variable(s) ${[...missing].join(', ')}`);
  let spec;
  try {
    spec = JSON.parse(filled);
  } catch (err) {
    die(`${file}: not JSON: ${err.message}`);
  }
  if (!spec || typeof spec.name !== 'string' || !spec.config || !spec.config['connector.class'])
    die(`${file}: expected {"name": …, "config": {"connector.class": …, …}}`);
  return { file: basename(file), name: spec.name, config: { ...spec.config, name: spec.name } };
}

const firstLine = (trace) => String(trace || '').split('\n')[0];

/**
 * The worker log's last ERROR lines of one connector (SINK_LOG_FILE): Debezium checks most of its settings
 * only when a task starts, and the task's own error then just says "check the logs".
 */
function logErrors(name) {
  const file = process.env.SINK_LOG_FILE;
  if (!file || !existsSync(file)) return;
  const tag = `] ERROR [${name}|`;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes(tag) && !l.includes('Task threw an uncaught'));
  if (lines.length === 0) return;
  process.stderr.write(`[sink] ${name} in ${file}:\n`);
  for (const l of lines.slice(-3)) process.stderr.write(`  ${l.slice(0, 400)}\n`);
}

/** The validation errors the worker reports for a config, as "key: message" lines. */
async function validate(spec) {
  const cls = spec.config['connector.class'];
  const r = await call('PUT', `/connector-plugins/${encodeURIComponent(cls)}/config/validate`, spec.config);
  if (!r.ok) return [`validate answered ${r.status}: ${r.json?.message ?? ''}`];
  const errors = [];
  for (const c of r.json.configs ?? []) {
    for (const e of c.value?.errors ?? []) errors.push(`${c.value.name}: ${e}`);
  }
  if (r.json.error_count > 0 && errors.length === 0)
    errors.push(`${r.json.error_count} error(s) without detail`);
  return errors;
}

async function status(name) {
  const r = await call('GET', `/connectors/${encodeURIComponent(name)}/status`);
  return r.ok ? r.json : undefined;
}

/** RUNNING with every task RUNNING: true; a FAILED connector or task: its message; else undefined. */
function verdict(s) {
  if (!s) return undefined;
  if (s.connector.state === 'FAILED') return `connector FAILED: ${firstLine(s.connector.trace)}`;
  const failed = s.tasks.find((t) => t.state === 'FAILED');
  if (failed) return `task ${failed.id} FAILED: ${firstLine(failed.trace)}`;
  if (s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING'))
    return true;
  return undefined;
}

/** SINK_DATABASE_URL set (docker-compose.yml): create the target schema with the `pg` package first. */
async function ensureSchema() {
  const url = process.env.SINK_DATABASE_URL;
  if (!url) return;
  const { Client } = require('pg');
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    await db.query('create schema if not exists warehouse');
  } finally {
    await db.end();
  }
}

function sameConfig(a, b) {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, n) => k === kb[n] && String(a[k]) === String(b[k]));
}

async function apply(files) {
  const specs = files.map(render);
  await ensureSchema();
  let bad = 0;
  for (const spec of specs) {
    const errors = await validate(spec);
    if (errors.length) {
      bad++;
      process.stderr.write(`[sink] ${spec.file} (${spec.name}) is invalid:\n`);
      for (const e of errors) process.stderr.write(`[sink]   ${e}\n`);
    }
  }
  if (bad) die(`${bad} connector config(s) failed validation; nothing was applied`);
  for (const spec of specs) {
    const path = `/connectors/${encodeURIComponent(spec.name)}`;
    const current = await call('GET', `${path}/config`);
    if (current.ok && sameConfig(current.json, spec.config)) {
      // Unchanged: no new config generation (which would restart every task); failed tasks restart.
      const rs = await call('POST', `${path}/restart?includeTasks=true&onlyFailed=true`);
      if (!rs.ok && rs.status !== 409)
        die(`restart of ${spec.name} answered ${rs.status}: ${rs.json?.message ?? ''}`);
      process.stderr.write(`[sink] ${spec.name} unchanged (${spec.file})\n`);
      continue;
    }
    const r = await call('PUT', `${path}/config`, spec.config);
    if (!r.ok) die(`PUT ${path}/config answered ${r.status}: ${r.json?.message ?? ''}`);
    const created = r.status === 201;
    process.stderr.write(`[sink] ${created ? 'created' : 'updated'} ${spec.name} (${spec.file})\n`);
    // An existing connector may carry failed tasks from before: restart it all with the config just put.
    if (!created) {
      const rs = await call('POST', `${path}/restart?includeTasks=true`);
      if (!rs.ok && rs.status !== 409)
        die(`restart of ${spec.name} answered ${rs.status}: ${rs.json?.message ?? ''}`);
    }
  }
  const deadline = Date.now() + WAIT_MS;
  for (const spec of specs) {
    // A FAILED state counts once it has lasted FAILED_FOR_MS: a status written before the restart above
    // can still be read for a moment.
    let failedSince;
    for (;;) {
      const v = verdict(await status(spec.name));
      if (v === true) break;
      if (typeof v === 'string') {
        failedSince ??= Date.now();
        if (Date.now() - failedSince >= FAILED_FOR_MS) {
          logErrors(spec.name);
          die(`${spec.name}: ${v}`);
        }
      } else failedSince = undefined;
      if (Date.now() > deadline) die(`${spec.name} not RUNNING after ${WAIT_MS / 1000}s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    process.stderr.write(`[sink] ${spec.name}: RUNNING\n`);
  }
}

async function remove(files) {
  for (const spec of files.map(render)) {
    const r = await call('DELETE', `/connectors/${encodeURIComponent(spec.name)}`);
    if (r.ok) process.stderr.write(`[sink] removed ${spec.name}\n`);
    else if (r.status !== 404)
      die(`DELETE /connectors/${spec.name} answered ${r.status}: ${r.json?.message ?? ''}`);
  }
}

async function printStatus() {
  const r = await call('GET', '/connectors?expand=status&expand=info');
  if (!r.ok) die(`GET /connectors answered ${r.status}`);
  const names = Object.keys(r.json).sort();
  let rc = 0;
  if (names.length === 0) console.log('connectors: none');
  for (const name of names) {
    const { status: s, info } = r.json[name];
    const c = info?.config ?? {};
    const db = /^jdbc:[a-z]+:\/\/[^/]+\/([^?;]+)/.exec(c['connection.url'] ?? '')?.[1];
    const table = c['collection.name.format'] ?? c['table.name.format'] ?? '';
    const target = table && (db ? `${table} in ${db}` : table);
    const dlq = c['errors.deadletterqueue.topic.name'];
    const detail = [c.topics ?? c['topics.regex'], target && `→ ${target}`, dlq && `(DLQ ${dlq})`]
      .filter(Boolean)
      .join(' ');
    console.log(`connector ${name}: ${s.connector.state} on ${s.connector.worker_id} ${detail}`.trimEnd());
    if (s.connector.state === 'FAILED') {
      console.log(`  error: ${firstLine(s.connector.trace)}`);
      rc = 1;
    }
    if (s.connector.state !== 'RUNNING') rc = 1;
    if (s.tasks.length === 0) {
      console.log('  no tasks');
      rc = 1;
    }
    for (const t of s.tasks) {
      console.log(`  task ${t.id}: ${t.state}${t.state === 'FAILED' ? `: ${firstLine(t.trace)}` : ''}`);
      if (t.state !== 'RUNNING') rc = 1;
    }
    if (s.connector.state === 'FAILED' || s.tasks.some((t) => t.state === 'FAILED')) logErrors(name);
  }
  process.exitCode = rc;
}

async function main() {
  if (!base || !cmd) die('usage: node connect.js URL ready|plugins|render|apply|remove|status [ARGS]');
  switch (cmd) {
    case 'ready': {
      const r = await call('GET', '/health', undefined, 3000);
      process.exit(r.ok && r.json?.status === 'healthy' ? 0 : 1);
      break;
    }
    case 'info': {
      const r = await call('GET', '/', undefined, 3000);
      if (!r.ok) die(`GET / answered ${r.status}`);
      console.log(`Kafka Connect ${r.json.version}, Kafka cluster ${r.json.kafka_cluster_id}`);
      break;
    }
    case 'plugins': {
      const r = await call('GET', '/connector-plugins?connectorsOnly=false');
      if (!r.ok) die(`GET /connector-plugins answered ${r.status}`);
      const have = new Map(r.json.map((p) => [p.class, p.version]));
      const missing = args.filter((c) => !have.has(c));
      if (missing.length) die(`plugins missing on the worker: ${missing.join(', ')}`);
      for (const c of args) console.log(`${c} ${have.get(c) ?? '(no version)'}`);
      break;
    }
    case 'render':
      for (const spec of args.map(render))
        console.log(JSON.stringify({ name: spec.name, config: spec.config }));
      break;
    case 'apply':
      await apply(args);
      break;
    case 'remove':
      await remove(args);
      break;
    case 'status':
      await printStatus();
      break;
    default:
      die(`unknown command ${cmd}`);
  }
}

main().catch((err) => die(`${cmd}: ${err.cause?.code ?? ''} ${err.message}`.trim()));
