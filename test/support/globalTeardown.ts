/** Stops testcontainers started by globalSetup; the embedded local stack is left running on purpose. */
export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as { __storelineContainers?: { stop(): Promise<unknown> }[] })
    .__storelineContainers;
  for (const c of started ?? []) await c.stop();
}
