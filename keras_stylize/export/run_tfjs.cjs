// Runs a keras_stylize TF.js graph model in Node on a raw float32 image and writes the raw
// float32 result; used by keras_stylize.export.tfjs to verify exports without a browser.
// usage: node run_tfjs.cjs MODEL_DIR INPUT.f32 HEIGHT WIDTH OUTPUT.f32 [backend] [STYLE_WEIGHTS]
// Pixel convention: float32 RGB (1, H, W, 3) in [0, 255], little-endian, C order.
// STYLE_WEIGHTS (multi-style models): comma-separated floats, one per style.
// Needs @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm on NODE_PATH (keras_stylize.export.tfjs
// installs them into a cache folder on first use: node_modules()).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const tf = require("@tensorflow/tfjs");
require("@tensorflow/tfjs-backend-wasm");

async function main() {
  const [modelDir, inputPath, height, width, outputPath, backend = "wasm", styles = ""] =
    process.argv.slice(2);
  await tf.setBackend(backend);
  await tf.ready();
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, "model.json"), "utf8"));
  const specs = manifest.weightsManifest.flatMap((group) => group.weights);
  const weights = Buffer.concat(
    manifest.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(modelDir, p)))),
  );
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: manifest.modelTopology,
      weightSpecs: specs,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
      format: manifest.format,
      generatedBy: manifest.generatedBy,
      convertedBy: manifest.convertedBy,
      signature: manifest.signature,
    }),
  );
  const raw = fs.readFileSync(inputPath);
  const pixels = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const input = tf.tensor4d(pixels, [1, Number(height), Number(width), 3]);
  const start = performance.now();
  let feed = input;
  if (model.inputs.length > 1) {
    // Inputs are told apart by rank: the image is 4-D, the style weights 2-D.
    const weights = styles.split(",").filter((v) => v !== "").map(Number);
    const styleTensor = tf.tensor2d(weights, [1, weights.length]);
    feed = {};
    for (const spec of model.inputs) {
      feed[spec.name] = spec.shape && spec.shape.length === 2 ? styleTensor : input;
    }
  }
  const output = model.execute(feed);
  const data = await output.data();
  const ms = performance.now() - start;
  fs.writeFileSync(outputPath, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  console.log(JSON.stringify({ backend: tf.getBackend(), ms, shape: output.shape }));
}

main().catch((error) => {
  console.error(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
