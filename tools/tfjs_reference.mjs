// Run a TF.js graph model with the pure-JS @tensorflow/tfjs CPU backend: the parity reference
// for visage.models.tfjs2onnx.
//
// usage: node tools/tfjs_reference.mjs --tfjs <dir with node_modules/@tensorflow/tfjs>
//          --model <model.json> --input <float32 .bin> --shape 1,256,256,3
//          --outputs name1,name2 --out <dir>
// Writes <out>/<k>.bin (little-endian float32, output k in --outputs order) and <out>/meta.json
// ({"outputs": [{"name", "shape"}], "backend"}).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['tfjs', 'model', 'input', 'shape', 'outputs', 'out']) {
  if (!args[k]) { console.error(`missing --${k}`); process.exit(2); }
}
const require = createRequire(path.join(path.resolve(args.tfjs), 'noop.js'));
const tf = require('@tensorflow/tfjs');

const modelJson = JSON.parse(fs.readFileSync(args.model, 'utf8'));
const dir = path.dirname(args.model);
const weightSpecs = [];
const buffers = [];
for (const group of modelJson.weightsManifest) {
  weightSpecs.push(...group.weights);
  for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
}
const all = Buffer.concat(buffers);
const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
const handler = {
  load: async () => ({
    modelTopology: modelJson.modelTopology,
    weightSpecs,
    weightData,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    signature: modelJson.signature,
    userDefinedMetadata: modelJson.userDefinedMetadata,
  }),
};

await tf.setBackend('cpu');
await tf.ready();
const model = await tf.loadGraphModel(handler);
const shape = args.shape.split(',').map(Number);
const raw = fs.readFileSync(args.input);
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const input = tf.tensor(data, shape, 'float32');
const names = args.outputs.split(',');
let outs = model.execute(input, names);
if (!Array.isArray(outs)) outs = [outs];
fs.mkdirSync(args.out, { recursive: true });
const meta = { backend: tf.getBackend(), tfjs: tf.version.tfjs, outputs: [] };
for (let k = 0; k < outs.length; k++) {
  const values = await outs[k].data();
  fs.writeFileSync(path.join(args.out, `${k}.bin`), Buffer.from(new Float32Array(values).buffer));
  meta.outputs.push({ name: names[k], shape: outs[k].shape });
}
fs.writeFileSync(path.join(args.out, 'meta.json'), JSON.stringify(meta));
