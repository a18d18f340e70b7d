// keras_stylize browser demo. Query parameters:
//   model=URL of model.json (default: the zoo export ../export/starry_night_johnson/...;
//   serve the repository root and open /web/index.html)
//   backend=webgl|wasm|cpu (default: webgl, falling back to wasm, then cpu)
//   Test mode (used by tests/test_browser.py): input=URL of raw float32 (1,H,W,3) pixels,
//   h=H, w=W, report=URL that receives the raw float32 output by POST; for multi-style
//   models weights=comma-separated style weights (set through the page's sliders).
// Pixel convention: float32 RGB in [0, 255], shape (1, H, W, 3), as in keras_stylize.
// Multi-style models (a second, 2-D input: style weights (1, N)) get a style picker and
// blend sliders; style names come from styles.json beside model.json when present.
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

const styleState = { count: 0, names: [], sliders: [] };

function styleInputName(model) {
  const spec = model.inputs.find((input) => input.shape && input.shape.length === 2);
  return spec ? spec.name : null;
}

async function setUpStyles(model, modelUrl) {
  const name = styleInputName(model);
  if (!name) return;
  const spec = model.inputs.find((input) => input.name === name);
  styleState.count = spec.shape[1];
  styleState.names = Array.from({ length: styleState.count }, (_, i) => `style ${i}`);
  try {
    const response = await fetch(new URL("styles.json", new URL(modelUrl, window.location.href)));
    if (response.ok) styleState.names = await response.json();
  } catch (error) {
    console.warn("no styles.json", error);
  }
  const select = document.getElementById("style");
  const box = document.getElementById("sliders");
  styleState.names.forEach((styleName, i) => {
    select.add(new Option(styleName, String(i)));
    const label = document.createElement("label");
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", min: 0, max: 100, value: i === 0 ? 100 : 0 });
    slider.dataset.style = String(i);
    label.append(`${styleName} `, slider);
    box.append(label);
    styleState.sliders.push(slider);
  });
  select.addEventListener("change", () => {
    styleState.sliders.forEach((s, i) => { s.value = i === Number(select.value) ? 100 : 0; });
    document.dispatchEvent(new Event("stylechange"));
  });
  styleState.sliders.forEach((s) =>
    s.addEventListener("change", () => document.dispatchEvent(new Event("stylechange"))));
  document.getElementById("styles").hidden = false;
}

function styleWeights() {
  const raw = styleState.sliders.map((s) => Number(s.value));
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((v) => (total > 0 ? v / total : 1 / raw.length));
}

function execute(model, pixels) {
  if (!styleState.count) return model.execute(pixels);
  const feed = {};
  const styleName = styleInputName(model);
  for (const input of model.inputs) {
    feed[input.name] = input.name === styleName
      ? tf.tensor2d(styleWeights(), [1, styleState.count]) : pixels;
  }
  return model.execute(feed);
}

async function stylize(model, pixels) {
  return tf.tidy(() => execute(model, pixels));
}

async function runTest(model, backend) {
  const h = Number(params.get("h"));
  const w = Number(params.get("w"));
  if (params.get("weights")) {  // drive the sliders as a user would
    params.get("weights").split(",").forEach((v, i) => {
      styleState.sliders[i].value = String(Math.round(Number(v) * 100));
    });
  }
  const raw = await (await fetch(params.get("input"))).arrayBuffer();
  const input = tf.tensor4d(new Float32Array(raw), [1, h, w, 3]);
  const start = performance.now();
  const output = await stylize(model, input);
  const data = await output.data();
  const ms = performance.now() - start;
  const report = `?backend=${backend}&ms=${ms.toFixed(1)}&sliders=${styleState.sliders.length}` +
    `&options=${document.getElementById("style").options.length}`;
  await fetch(params.get("report") + report, {
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
    return execute(model, pixels).squeeze([0]).clipByValue(0, 255).round().toInt();
  });
  const outCanvas = document.getElementById("output");
  await tf.browser.toPixels(output, outCanvas);
  output.dispose();
  setStatus(`Done in ${(performance.now() - start).toFixed(0)} ms on ${tf.getBackend()}.`);
}

async function main() {
  const backend = await chooseBackend();
  const fallback = !params.get("backend") && backend !== "webgl";
  const modelUrl = params.get("model") ||
    "../export/starry_night_johnson/starry_night_johnson_tfjs/model.json";
  setStatus(`Loading ${modelUrl} on ${backend}…`);
  const model = await tf.loadGraphModel(modelUrl);
  await setUpStyles(model, modelUrl);
  if (params.get("input")) {
    await runTest(model, backend);
    return;
  }
  const note = fallback ? `WebGL is not available here; using the ${backend} backend (slower). ` : "";
  setStatus(`${note}Model ready on ${backend}. Pick a photo.`, fallback ? "warn" : "");
  const run = () => {
    const file = document.getElementById("file").files[0];
    if (file) stylizeFile(model, file).catch((e) => setStatus(`Error: ${e.message}`, "error"));
  };
  document.getElementById("file").addEventListener("change", run);
  document.addEventListener("stylechange", run);
}

main().catch((error) => setStatus(`Error: ${error.message}`, "error"));
