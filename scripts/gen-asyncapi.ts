/** `npm run gen:asyncapi`: writes schemas/asyncapi.yaml from the topic catalog and the Avro schemas. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { asyncApiYaml } from './asyncapi';

const out = resolve(__dirname, '../schemas/asyncapi.yaml');
writeFileSync(out, asyncApiYaml());
console.log(`wrote ${out}`);
