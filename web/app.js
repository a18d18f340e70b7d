// keras_stylize browser demo. Query parameters:
//   model=URL of model.json (default: the zoo export ../export/starry_night_johnson/...;
//   serve the repository root and open /web/index.html)
//   backend=webgl|wasm|cpu (default: webgl, falling back to wasm, then cpu)
//   Test mode (used by tests/test_browser.py): input=URL of raw float32 (1,H,W,3) pixels,
//   h=H, w=W, report=URL that receives the raw float32 output by POST; for multi-style
//   models weights=comma-separated style weights (set through the page's sliders).
//   Camera test mode: camera=1&frames=N&report=URL stylizes N live camera frames, then
//   POSTs the last frame's model input (part=input), raw output (part=output) and the
//   output canvas's RGBA pixels (part=canvas), with the frame count and fps.
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

// Live camera: each frame is drawn at most max-side pixels on the input canvas, stylized
// with the current style or blend, and drawn on the output canvas; the status line shows
// the frames per second reached (a moving average over the last second).
const camera = { stream: null, running: false, frames: 0, times: [] };

function drawFrame(video) {
  const maxSide = Number(document.getElementById("maxside").value) || 512;
  const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
  const width = Math.max(32, Math.round(video.videoWidth * scale));
  const height = Math.max(32, Math.round(video.videoHeight * scale));
  const inCanvas = document.getElementById("input");
  if (inCanvas.width !== width || inCanvas.height !== height) {
    inCanvas.width = width;
    inCanvas.height = height;
  }
  inCanvas.getContext("2d").drawImage(video, 0, 0, width, height);
  return inCanvas;
}

async function cameraFrame(model) {
  const inCanvas = drawFrame(document.getElementById("camera"));
  const pixels = tf.tidy(() => tf.browser.fromPixels(inCanvas).toFloat().expandDims(0));
  const raw = tf.tidy(() => execute(model, pixels));
  const shown = tf.tidy(() => raw.squeeze([0]).clipByValue(0, 255).round().toInt());
  await tf.browser.toPixels(shown, document.getElementById("output"));
  shown.dispose();
  camera.frames += 1;
  const now = performance.now();
  camera.times.push(now);
  while (camera.times.length > 1 && now - camera.times[0] > 1000) camera.times.shift();
  const seconds = (now - camera.times[0]) / 1000;
  const fps = seconds > 0 ? (camera.times.length - 1) / seconds : 0;
  document.getElementById("fps").textContent =
    `${fps.toFixed(1)} fps, ${inCanvas.width}×${inCanvas.height} on ${tf.getBackend()}`;
  return { pixels, raw, fps };
}

async function startCamera(model, onFrame) {
  camera.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  const video = document.getElementById("camera");
  video.srcObject = camera.stream;
  await video.play();
  camera.running = true;
  document.getElementById("camera-button").textContent = "Stop camera";
  setStatus("Camera on: stylizing live frames.");
  while (camera.running) {
    const frame = await cameraFrame(model);
    const keep = onFrame ? await onFrame(frame) : false;
    if (!keep) {
      frame.pixels.dispose();
      frame.raw.dispose();
    }
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

function stopCamera() {
  camera.running = false;
  if (camera.stream) camera.stream.getTracks().forEach((track) => track.stop());
  camera.stream = null;
  document.getElementById("camera-button").textContent = "Start camera";
  setStatus("Camera off.");
}

async function runCameraTest(model, backend) {
  const wanted = Number(params.get("frames") || 5);
  const report = params.get("report");
  await startCamera(model, async (frame) => {
    if (camera.frames < wanted) return false;
    camera.running = false;
    const query = `&backend=${backend}&frames=${camera.frames}&fps=${frame.fps.toFixed(2)}` +
      `&h=${frame.pixels.shape[1]}&w=${frame.pixels.shape[2]}`;
    const canvas = document.getElementById("output");
    const drawn = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (const [part, body] of [["input", (await frame.pixels.data()).buffer],
                                ["output", (await frame.raw.data()).buffer],
                                ["canvas", drawn.buffer]]) {
      await fetch(`${report}?part=${part}${query}`, { method: "POST", body });
    }
    frame.pixels.dispose();
    frame.raw.dispose();
    return true;
  });
  stopCamera();
  setStatus(`camera test done: ${camera.frames} frames`);
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
  if (params.get("camera")) {
    await runCameraTest(model, backend);
    return;
  }
  const note = fallback ? `WebGL is not available here; using the ${backend} backend (slower). ` : "";
  setStatus(`${note}Model ready on ${backend}. Pick a photo.`, fallback ? "warn" : "");
  const run = () => {
    const file = document.getElementById("file").files[0];
    if (file) stylizeFile(model, file).catch((e) => setStatus(`Error: ${e.message}`, "error"));
  };
  document.getElementById("file").addEventListener("change", run);
  document.addEventListener("stylechange", () => { if (!camera.running) run(); });
  document.getElementById("camera-button").addEventListener("click", () => {
    if (camera.running) {
      stopCamera();
    } else {
      startCamera(model).catch((e) => {
        stopCamera();
        setStatus(`Camera error: ${e.message}`, "error");
      });
    }
  });
}

main().catch((error) => setStatus(`Error: ${error.message}`, "error"));
