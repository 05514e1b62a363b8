// Validate C2PA manifests with c2pa-ts (TrustNXT), a pure TypeScript implementation that
// shares no code with the Rust library provenoise signs with. Prints one JSON result per file.
import * as fs from 'node:fs/promises';
import { JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore, ValidationResult } from '@trustnxt/c2pa-ts/manifest';
const results = [];
for (const file of process.argv.slice(2)) {
  const buf = await fs.readFile(file);
  const asset = JPEG.canRead(buf) ? new JPEG(buf) : PNG.canRead(buf) ? new PNG(buf) : null;
  if (!asset) { results.push({file, error: 'unknown format'}); continue; }
  const jumbf = asset.getManifestJUMBF();
  if (!jumbf) { results.push({file, error: 'no manifest'}); continue; }
  let result;
  try {
    const manifests = ManifestStore.read(SuperBox.fromBuffer(jumbf));
    result = await manifests.validate(asset);
  } catch (e) { result = ValidationResult.fromError(e); }
  results.push({file, valid: result.isValid, codes: result.statusEntries.map(e => e.code)});
}
console.log(JSON.stringify(results, null, 1));
