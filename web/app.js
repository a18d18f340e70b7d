// keras_stylize browser demo. Query parameters:
//   model=URL of model.json (default: the zoo export ../starry_night_johnson/..., serve export/)
//   backend=webgl|wasm|cpu (default: webgl, falling back to wasm, then cpu)
//   Test mode (used by tests/test_browser.py): input=URL of raw float32 (1,H,W,3) pixels,
//   h=H, w=W, report=URL that receives the raw float32 output by POST.
// Pixel convention: float32 RGB in [0, 255], shape (1, H, W, 3), as in keras_stylize.
"use strict";

const params = new URLSearchParams(window.location.search);
const statusBox = document.getElementById("status");

function setStatus(text, kind = "") {
  statusBox.textContent = text;
  statusBox.className = kind;
}

async function chooseBackend() {
  tf.wasm.setWasmPaths("node_modules/@tensorflow/tfjs-backend-wasm/dist/");
  const wanted = params.get("backend");
  const order = wanted ? [wanted] : ["webgl", "wasm", "cpu"];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch (error) {
      console.warn(`backend ${name} failed`, error);
    }
  }
  throw new Error("no TF.js backend could be initialised");
}

async function stylize(model, pixels) {
  return tf.tidy(() => model.execute(pixels));
}

async function runTest(model, backend) {
  const h = Number(params.get("h"));
  const w = Number(params.get("w"));
  const raw = await (await fetch(params.get("input"))).arrayBuffer();
  const input = tf.tensor4d(new Float32Array(raw), [1, h, w, 3]);
  const start = performance.now();
  const output = await stylize(model, input);
  const data = await output.data();
  const ms = performance.now() - start;
  await fetch(params.get("report") + `?backend=${backend}&ms=${ms.toFixed(1)}`, {
    method: "POST",
    body: data.buffer,
  });
  setStatus(`test done on ${backend} in ${ms.toFixed(0)} ms`);
}

async function stylizeFile(model, file) {
  const bitmap = await createImageBitmap(file);
  const maxSide = Number(document.getElementById("maxside").value) || 512;
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(32, Math.round(bitmap.width * scale));
  const height = Math.max(32, Math.round(bitmap.height * scale));
  const inCanvas = document.getElementById("input");
  inCanvas.width = width;
  inCanvas.height = height;
  inCanvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  setStatus(`Stylizing ${width}×${height}…`);
  const start = performance.now();
  const output = tf.tidy(() => {
    const pixels = tf.browser.fromPixels(inCanvas).toFloat().expandDims(0);
    return model.execute(pixels).squeeze([0]).clipByValue(0, 255).round().toInt();
  });
  const outCanvas = document.getElementById("output");
  await tf.browser.toPixels(output, outCanvas);
  output.dispose();
  setStatus(`Done in ${(performance.now() - start).toFixed(0)} ms on ${tf.getBackend()}.`);
}

async function main() {
  const backend = await chooseBackend();
  const fallback = !params.get("backend") && backend !== "webgl";
  const modelUrl = params.get("model") || "../starry_night_johnson/starry_night_johnson_tfjs/model.json";
  setStatus(`Loading ${modelUrl} on ${backend}…`);
  const model = await tf.loadGraphModel(modelUrl);
  if (params.get("input")) {
    await runTest(model, backend);
    return;
  }
  const note = fallback ? `WebGL is not available here; using the ${backend} backend (slower). ` : "";
  setStatus(`${note}Model ready on ${backend}. Pick a photo.`, fallback ? "warn" : "");
  document.getElementById("file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) stylizeFile(model, file).catch((e) => setStatus(`Error: ${e.message}`, "error"));
  });
}

main().catch((error) => setStatus(`Error: ${error.message}`, "error"));
