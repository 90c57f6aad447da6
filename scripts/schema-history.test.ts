import { avroTopics, history } from './schema-compat';

describe('schema history (schemas/history/<Name>/v<n>.avsc)', () => {
  it.each(avroTopics().map((t) => [t.name, t.schema] as const))(
    '%s: versions are v1..vn and the newest is the current schema (add a version when you change one)',
    (name, schema) => {
      const versions = history(name);
      expect(versions.map((v) => v.version)).toEqual(versions.map((_v, i) => i + 1));
      expect(versions.at(-1)?.schema).toEqual(schema);
    },
  );
});
