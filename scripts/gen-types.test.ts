import { readFileSync } from 'node:fs';
import { GENERATED_FILE, SCHEMAS_DIR, renderTypes } from './gen-types';

describe('generated Avro types', () => {
  it('match schemas/*.avsc (run `npm run gen:types` after changing a schema)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(renderTypes(SCHEMAS_DIR));
  });
});
