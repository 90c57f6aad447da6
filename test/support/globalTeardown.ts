/**
 * Removes what this run created in the shared stack (subjects, topics, groups; test/support/cleanup.ts),
 * then stops testcontainers started by globalSetup; the embedded local stack is left running on purpose.
 */
import { removeRunArtifacts } from './cleanup';

export default async function globalTeardown(): Promise<void> {
  try {
    console.log(`\n[teardown] ${await removeRunArtifacts()}`);
  } catch (err) {
    console.warn(`[teardown] could not remove this run's test data: ${String(err)}`);
  }
  const started = (globalThis as { __storelineContainers?: { stop(): Promise<unknown> }[] })
    .__storelineContainers;
  for (const c of started ?? []) await c.stop();
}
