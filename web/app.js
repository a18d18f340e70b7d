// keras_stylize browser demo: a gallery of the zoo's TF.js exports (gallery/models.json,
// written by scripts/web_gallery.py), sample photos, pick / drop / camera, a size control,
// download. Serve the repository root (python -m http.server) and open /web/.
//
// State for tests and scripts: document.body.dataset.state is loading | ready | running |
// done | error; dataset.model, .style, .backend, .ms, .size describe the last result,
// which is drawn into <canvas id="result"> (the scaled photo the model saw: #input).
//
// Query parameters:
//   model=NAME (a gallery entry) or URL of a model.json (any keras_stylize TF.js export)
//   predictor=URL of the model.json of its style predictor (for a model given by URL; a
//   gallery entry names its own): "Use your own painting" appears
//   painting=URL (test mode: the painting whose predicted style is used)
//   style=NAME (a style of a multi-style model)   size=256|384|512|768|1024 (max side)
//   backend=webgl|wasm|cpu (default: WebGL on a hardware GPU, else WASM; a WebGL run that
//   fails is retried on WASM)   photo=URL (instead of the first sample photo)
//   Test mode (tests/test_browser.py): input=URL of raw float32 (1,H,W,3) pixels, h=H, w=W,
//   report=URL receiving the raw float32 output by POST; for multi-style models
//   weights=comma-separated style weights (set through the blend sliders).
//   Camera test mode: camera=1&frames=N&report=URL stylizes N live camera frames, then
//   POSTs the last frame's model input (part=input), raw output (part=output) and the
//   result canvas's RGBA pixels (part=canvas), with the frame count and fps.
// Pixel convention: float32 RGB in [0, 255], shape (1, H, W, 3), as in keras_stylize.
"use strict";

const params = new URLSearchParams(window.location.search);
const $ = (id) => document.getElementById(id);

const app = {
  backend: null,        // TF.js backend in use
  backendNote: "",      // why it is not WebGL, if it is not
  fallbacks: [],        // backends to retry on when a run fails (after WebGL: WASM)
  gallery: { models: [], samples: [] },
  entry: null,          // gallery entry (or a stand-in for a model URL)
  model: null,
  predictor: null,      // the style predictor's graph model, loaded on first use
  kernelDepth: 0,       // largest k*k*Cin of the model's convolutions (im2col size)
  styles: { names: [], titles: [], sliders: [], weights: null, label: "", colors: null },
  photo: null,          // { bitmap, name }
  busy: false,
  pending: false,
  loadToken: 0,
  last: null,           // { ms, width, height, backend } of the last result
};

// ---------------------------------------------------------------- status and state

function setState(state, text, kind = "") {
  document.body.dataset.state = state;
  if (text !== undefined) {
    $("status").textContent = text;
    $("status").className = kind;
  }
}

function styleLabel() {
  if (!app.styles.names.length) {
    const p = app.entry && app.entry.painting;
    return p ? `${p.title} (${p.artist}, ${p.year})` : (app.entry ? app.entry.title : "");
  }
  return app.styles.label;
}

function backendLabel() {
  return { webgl: "WebGL (GPU)", wasm: "WebAssembly (CPU)", cpu: "plain JS (CPU, slow)" }[app.backend] ||
    app.backend;
}

function showFacts() {
  const parts = [];
  if (app.entry) parts.push(`Model: ${app.entry.name}${app.entry.family ? ` (${app.entry.family})` : ""}`);
  if (app.styles.names.length) parts.push(`Style: ${app.styles.label}`);
  parts.push(`Backend: ${backendLabel()}`);
  if (app.last) parts.push(`Last run: ${app.last.width}×${app.last.height} in ${(app.last.ms / 1000).toFixed(1)} s`);
  $("facts").textContent = parts.join(" · ");
  Object.assign(document.body.dataset, {
    model: app.entry ? app.entry.name : "",
    style: app.styles.names.length ? app.styles.label : styleLabel(),
    backend: app.backend || "",
  });
}

function fail(error) {
  console.error(error);
  setState("error", `Error: ${error.message || error}`, "error");
}

// ---------------------------------------------------------------- backend

function softwareWebGL() {
  // SwiftShader / llvmpipe: WebGL emulated on the CPU, far slower than WASM here.
  try {
    const gl = document.createElement("canvas").getContext("webgl2") ||
      document.createElement("canvas").getContext("webgl");
    if (!gl) return null;
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : "";
    return /swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer) ? renderer : "";
  } catch (error) {
    return null;
  }
}

async function setBackend(name) {
  try {
    if (await tf.setBackend(name)) {
      await tf.ready();
      return true;
    }
  } catch (error) {
    console.warn(`backend ${name} failed`, error);
  }
  return false;
}

async function chooseBackend() {
  tf.wasm.setWasmPaths("node_modules/@tensorflow/tfjs-backend-wasm/dist/");
  if (params.get("backend")) {  // a preference order, e.g. "wasm" or "webgl,wasm"
    app.fallbacks = params.get("backend").split(",");
  } else {
    const software = softwareWebGL();
    app.fallbacks = ["webgl", "wasm", "cpu"];
    if (software === null) {
      app.backendNote = "WebGL is not available here, so the model runs on the CPU (WebAssembly).";
      app.fallbacks = ["wasm", "cpu"];
    } else if (software) {
      app.backendNote = "This browser only has software WebGL, which is slower than " +
        "WebAssembly, so the model runs on the CPU.";
      app.fallbacks = ["wasm", "webgl", "cpu"];
    }
  }
  while (app.fallbacks.length) {
    const name = app.fallbacks.shift();
    if (await setBackend(name)) return name;
  }
  throw new Error(`no TF.js backend could be initialised (${params.get("backend") || "webgl, wasm, cpu"})`);
}

// TF.js's WebGL convolution unrolls the input into one "im2col" texture of
// (output pixels) x (k*k*Cin) values: for the 9x9 output convolution at 512 px that is a
// 10683x10683 texture (1.8 GB), over the WebGL size limit of many GPUs. Above the limit
// (or a memory cap) the direct convolution is used instead: same values, no huge buffer.
function fitConvolution(height, width) {
  if (app.backend !== "webgl") return;
  if (params.get("fit") === "0") return;  // (tests: see the unfitted failure and the retry)
  const texels = (height * width * app.kernelDepth) / 4;  // packed RGBA, 2x2 per texel
  const limit = tf.env().getNumber("WEBGL_MAX_TEXTURE_SIZE");
  const fits = texels <= 0.8 * limit * limit && texels <= 2 ** 26;  // and <= 1 GB
  tf.env().set("WEBGL_CONV_IM2COL", fits);
}

function largestKernelDepth(model) {
  let depth = 0;
  for (const tensors of Object.values(model.weights)) {
    for (const t of tensors) {
      if (t.shape.length === 4) depth = Math.max(depth, t.shape[0] * t.shape[1] * t.shape[2]);
    }
  }
  return depth;
}

// ---------------------------------------------------------------- gallery and model

function modelUrl(entry) {
  return new URL(entry.model, window.location.href).href;
}

async function loadGallery() {
  try {
    const response = await fetch("gallery/models.json");
    if (response.ok) app.gallery = await response.json();
  } catch (error) {
    console.warn("no gallery/models.json", error);
  }
  const box = $("gallery");
  box.textContent = "";
  for (const entry of app.gallery.models) {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "card";
    card.dataset.model = entry.name;
    card.setAttribute("aria-pressed", "false");
    const painting = entry.painting;
    const sub = painting ? `${painting.artist}, ${painting.year}` : "select or blend them";
    card.title = `${entry.name}: ${entry.family}, ${(entry.bytes / 1e6).toFixed(1)} MB`;
    card.innerHTML = `<img alt="" loading="lazy"><span><b></b><i></i><br><small></small></span>`;
    card.querySelector("img").src = entry.thumb;
    card.querySelector("b").textContent = entry.title;
    card.querySelector("i").textContent = sub;
    card.querySelector("small").textContent = `${entry.family} · ${(entry.bytes / 1e6).toFixed(1)} MB`;
    card.addEventListener("click", () => selectModel(entry).catch(fail));
    box.append(card);
  }
  const samples = $("samples");
  for (const sample of app.gallery.samples) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "card thumb";
    button.dataset.sample = sample.name;
    button.title = sample.title;
    button.innerHTML = "<img alt=''><span></span>";
    button.querySelector("img").src = sample.url;
    button.querySelector("span").textContent = sample.title;
    button.addEventListener("click", () => loadPhotoUrl(sample.url, sample.name).catch(fail));
    samples.append(button);
  }
}

function findEntry(wanted) {
  const byName = app.gallery.models.find((m) => m.name === wanted);
  if (byName) return byName;
  if (wanted && /\.json($|\?)/.test(wanted)) {  // any TF.js export by URL
    return { name: wanted.split("/").slice(-2, -1)[0] || wanted, title: wanted, model: wanted,
             family: "", thumb: "", predictor: params.get("predictor") || "" };  // prettier-ignore
  }
  if (wanted) throw new Error(`no model ${wanted} in the gallery`);
  return app.gallery.models.find((m) => m.name === app.gallery.default) || app.gallery.models[0];
}

async function selectModel(entry, wantedStyle) {
  const token = ++app.loadToken;
  document.querySelectorAll("#gallery .card").forEach((c) =>
    c.setAttribute("aria-pressed", String(c.dataset.model === entry.name)));
  app.entry = entry;
  setState("loading", `Loading ${entry.title}…`);
  const model = await tf.loadGraphModel(modelUrl(entry));
  if (token !== app.loadToken) {  // another model was picked meanwhile
    model.dispose();
    return;
  }
  while (app.busy) await new Promise((resolve) => setTimeout(resolve, 50));
  if (app.model) app.model.dispose();
  app.model = model;
  app.kernelDepth = largestKernelDepth(model);
  await setUpStyles(entry, wantedStyle);
  if (app.predictor) app.predictor.dispose();
  app.predictor = null;
  $("own").hidden = !entry.predictor || !styleInputName(model);
  app.last = null;
  showFacts();
  if (app.photo) {
    await run();
  } else {
    setState("ready", "Model ready. Pick a photo.");
  }
}

// ---------------------------------------------------------------- styles (multi-style models)

function styleInputName(model) {
  const spec = model.inputs.find((input) => input.shape && input.shape.length === 2);
  return spec ? spec.name : null;
}

async function setUpStyles(entry, wantedStyle) {
  const st = app.styles;
  st.names = [];
  st.titles = [];
  st.sliders = [];
  st.weights = null;
  st.colors = null;
  const select = $("style");
  select.textContent = "";
  $("sliders").textContent = "";
  $("style-strip").textContent = "";
  const name = styleInputName(app.model);
  if (!name) {
    $("styles").hidden = true;
    return;
  }
  const count = app.model.inputs.find((input) => input.name === name).shape[1];
  if (entry.styles) {
    st.names = entry.styles.map((s) => s.name);
  } else {
    st.names = Array.from({ length: count }, (_, i) => `style ${i}`);
    try {
      const response = await fetch(new URL("styles.json", modelUrl(entry)));
      if (response.ok) st.names = await response.json();
    } catch (error) {
      console.warn("no styles.json", error);
    }
  }
  const infos = entry.styles || st.names.map((n) => ({ name: n, title: n }));
  st.titles = infos.map((s) => s.title.replace(/ \(.*\)$/, ""));
  infos.forEach((info, i) => {
    select.add(new Option(st.titles[i], String(i)));
    const label = document.createElement("label");
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", min: 0, max: 100, value: 0 });
    slider.dataset.style = String(i);
    label.append(st.titles[i], slider);
    $("sliders").append(label);
    st.sliders.push(slider);
    if (info.thumb) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "card thumb";
      button.dataset.style = info.name;
      button.title = `${info.title}${info.artist ? ` — ${info.artist}, ${info.year}` : ""}`;
      button.innerHTML = "<img alt=''><span></span>";
      button.querySelector("img").src = info.thumb;
      button.querySelector("span").textContent = st.titles[i];
      button.addEventListener("click", () => { pickStyle(i); run().catch(fail); });
      $("style-strip").append(button);
    }
  });
  $("styles").hidden = false;
  const start = wantedStyle ? st.names.indexOf(wantedStyle) : 0;
  if (start < 0) throw new Error(`no style ${wantedStyle} in ${entry.name}`);
  pickStyle(start);
}

function pickStyle(index) {
  const st = app.styles;
  st.weights = st.names.map((_, i) => (i === index ? 1 : 0));
  st.colors = null;
  st.label = st.titles[index];
  st.sliders.forEach((s, i) => { s.value = i === index ? 100 : 0; });
  const select = $("style");
  const blendOption = select.querySelector("option[data-blend]");
  if (blendOption) blendOption.remove();
  select.value = String(index);
  document.querySelectorAll("#style-strip .card").forEach((c, i) =>
    c.setAttribute("aria-pressed", String(i === index)));
}

function applyBlend() {
  const st = app.styles;
  const raw = st.sliders.map((s) => Number(s.value));
  const total = raw.reduce((a, b) => a + b, 0);
  if (total <= 0) return false;
  st.weights = raw.map((v) => v / total);
  st.colors = null;
  const used = st.weights.map((w, i) => [w, i]).filter(([w]) => w > 0).sort((a, b) => b[0] - a[0]);
  if (used.length === 1) {
    pickStyle(used[0][1]);
    return true;
  }
  st.label = "Blend: " + used.map(([w, i]) => `${st.titles[i]} ${Math.round(w * 100)}%`).join(", ");
  showMixedStyle(`Blend of ${used.length} styles`);
  return true;
}

// The style picker's entry for weights that are no single named style (a blend, or a
// painting's predicted style), selected, with no style card pressed.
function showMixedStyle(text) {
  const select = $("style");
  let option = select.querySelector("option[data-blend]");
  if (!option) {
    option = new Option("", "blend");
    option.dataset.blend = "1";
    select.add(option);
  }
  option.textContent = text;
  select.value = "blend";
  document.querySelectorAll("#style-strip .card").forEach((c) => c.setAttribute("aria-pressed", "false"));
}

// ---------------------------------------------------------------- your own painting

// A painting's style, predicted in one pass: the painting is drawn with its shorter side
// at 256 px (the size the predictor was trained at), and the predictor's style weights
// drive the generator like a named style's.
const PREDICTOR_SIZE = 256;

async function usePainting(blob, name) {
  const entry = app.entry;
  if (!entry || !entry.predictor) throw new Error("this model takes no painting of your own");
  if (!app.predictor) {
    setState("loading", "Loading the style predictor…");
    app.predictor = await tf.loadGraphModel(new URL(entry.predictor, window.location.href).href);
  }
  const bitmap = await createImageBitmap(blob);
  if (Math.min(bitmap.width, bitmap.height) < 32) {
    bitmap.close();
    throw new Error(`${name}: too small for a style (at least 32 px on each side)`);
  }
  const scale = PREDICTOR_SIZE / Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const context = canvas.getContext("2d");
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const painting = tf.tidy(() => tf.browser.fromPixels(canvas).toFloat().expandDims(0));
  const spread = tf.tidy(() => tf.moments(painting, [0, 1, 2]).variance.sqrt().max());
  const flat = (await spread.data())[0] < 2;
  spread.dispose();
  if (flat) {
    painting.dispose();
    throw new Error(`${name}: a flat colour has no style to take`);
  }
  const output = app.predictor.execute(painting);
  const weights = Array.from(await output.data());
  const colors = await colorStatistics(painting);
  tf.dispose([painting, output]);
  const st = app.styles;
  st.weights = weights;
  st.colors = colors;
  st.label = `Your painting: ${name.replace(/\.[^.]*$/, "")}`;
  st.sliders.forEach((s) => { s.value = 0; });
  showMixedStyle(st.label);
}

// ---------------------------------------------------------------- the painting's colours

// A painting style's result takes the painting's colours through one affine map: the linear
// transfer taking the result's colour mean and covariance to the painting's (Pitié and
// Kokaram 2007), as keras_stylize.inference.color_match makes it (same floor and gain limit).
// Colours are RGB in [0, 255].
const SOURCE_FLOOR = 4.0;  // added to the result's covariance (grey levels squared)
const MAX_GAIN = 4.0;      // largest stretch along any colour direction

// {mean: [3], cov: 3x3 rows} of the colours of a [..., 3] tensor (population covariance).
async function colorStatistics(pixels) {
  const [mean, cov] = tf.tidy(() => {
    const x = pixels.reshape([-1, 3]).toFloat();
    const m = x.mean(0);
    const d = x.sub(m);
    return [m, d.transpose().matMul(d).div(x.shape[0])];
  });
  const [m, c] = [Array.from(await mean.data()), Array.from(await cov.data())];
  tf.dispose([mean, cov]);
  return { mean: m, cov: [c.slice(0, 3), c.slice(3, 6), c.slice(6, 9)] };
}

// Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric 3x3 matrix (Jacobi).
function symmetricEigen(matrix) {
  const a = matrix.map((row) => row.slice());
  const v = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  for (let sweep = 0; sweep < 50; sweep += 1) {
    const off = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
    if (off < 1e-30) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]]) {
      if (Math.abs(a[p][q]) < 1e-300) continue;
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k += 1) {  // a <- a J (columns p, q)
        const [akp, akq] = [a[k][p], a[k][q]];
        a[k][p] = c * akp - s * akq;
        a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k += 1) {  // a <- J^T a (rows p, q)
        const [apk, aqk] = [a[p][k], a[q][k]];
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k += 1) {
        const [vkp, vkq] = [v[k][p], v[k][q]];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
      }
    }
  }
  return { values: [a[0][0], a[1][1], a[2][2]], vectors: v };
}

// V f(values) V^T of a symmetric 3x3 matrix.
function symmetricFunction(matrix, f) {
  const { values, vectors: v } = symmetricEigen(matrix);
  const fv = values.map(f);
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) =>
    v[i][0] * fv[0] * v[j][0] + v[i][1] * fv[1] * v[j][1] + v[i][2] * fv[2] * v[j][2]));
}

function matMul3(a, b) {
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) =>
    a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j]));
}

// {matrix, offset} of the map x -> matrix x + offset taking `source` statistics to `target`.
function colorMap(source, target) {
  const cs = source.cov.map((row, i) => row.map((x, j) => x + (i === j ? SOURCE_FLOOR : 0)));
  const root = symmetricFunction(cs, (x) => Math.sqrt(Math.max(x, 1e-12)));
  const inverseRoot = symmetricFunction(cs, (x) => 1 / Math.sqrt(Math.max(x, 1e-12)));
  const middle = symmetricFunction(matMul3(matMul3(root, target.cov), root),
    (x) => Math.sqrt(Math.max(x, 1e-12)));
  const raw = matMul3(matMul3(inverseRoot, middle), inverseRoot);
  const sym = raw.map((row, i) => row.map((x, j) => (x + raw[j][i]) / 2));
  const matrix = symmetricFunction(sym, (x) => Math.min(Math.max(x, 0), MAX_GAIN));
  const offset = [0, 1, 2].map((i) => target.mean[i] -
    (matrix[i][0] * source.mean[0] + matrix[i][1] * source.mean[1] + matrix[i][2] * source.mean[2]));
  return { matrix, offset };
}

// `output` (an [h, w, 3] float tensor) with its colours mapped by `map` (not clipped).
function recolor(output, map) {
  return tf.tidy(() => output.reshape([-1, 3]).matMul(tf.tensor2d(map.matrix).transpose())
    .add(tf.tensor1d(map.offset)).reshape(output.shape));
}

// The map for a generator output [h, w, 3] under the current style: null unless the style
// is a painting of one's own.
async function mapFor(output) {
  if (!app.styles.colors) return null;
  const clipped = tf.tidy(() => output.clipByValue(0, 255));
  const stats = await colorStatistics(clipped);
  clipped.dispose();
  return colorMap(stats, app.styles.colors);
}

// The generator's style input: the weights of the named styles, then zeros for the free
// directions of a style predictor (always the last columns) unless a painting's predicted
// weights already fill them.
function execute(model, pixels) {
  const name = styleInputName(model);
  if (!name) return model.execute(pixels);
  const spec = model.inputs.find((input) => input.name === name);
  const width = spec.shape[1] > 0 ? spec.shape[1] : app.styles.weights.length;
  const weights = app.styles.weights.concat(Array(Math.max(0, width - app.styles.weights.length)).fill(0));
  const feed = {};
  for (const input of model.inputs) {
    feed[input.name] = input.name === name ? tf.tensor2d(weights, [1, width]) : pixels;
  }
  return model.execute(feed);
}

// ---------------------------------------------------------------- photos

async function setPhoto(blob, name) {
  const bitmap = await createImageBitmap(blob);
  if (app.photo) app.photo.bitmap.close();
  app.photo = { bitmap, name: name.replace(/\.[^.]*$/, "") || "photo" };
  document.querySelectorAll("#samples .card").forEach((c) =>
    c.setAttribute("aria-pressed", String(c.dataset.sample === name)));
  await run();
}

async function loadPhotoUrl(url, name) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url} (${response.status})`);
  await setPhoto(await response.blob(), name || url.split("/").pop());
}

function scaledSize(width, height) {
  const maxSide = Number($("maxside").value) || 512;
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return [Math.max(32, Math.round(width * scale)), Math.max(32, Math.round(height * scale))];
}

// ---------------------------------------------------------------- running

// One run at a time; requests made meanwhile (a new photo, size, style) coalesce into one
// more run with the latest settings.
async function run() {
  if (!app.model || !app.photo) {
    if (app.photo && !app.model) setState("loading", "Photo ready; waiting for the model…");
    return;
  }
  if (app.busy) {
    app.pending = true;
    return;
  }
  app.busy = true;
  try {
    do {
      app.pending = false;
      await stylizePhoto();
    } while (app.pending);
  } finally {
    app.busy = false;
  }
}

async function stylizePhoto() {
  const { bitmap } = app.photo;
  const [width, height] = scaledSize(bitmap.width, bitmap.height);
  const inCanvas = $("input");
  inCanvas.width = width;
  inCanvas.height = height;
  inCanvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
  setState("running", `Stylizing ${width}×${height} with ${styleLabel()} on ${backendLabel()}…`);
  $("download").disabled = true;
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const start = performance.now();
  try {
    await drawResult(inCanvas);
  } catch (error) {
    if (app.backend !== "webgl" || !app.fallbacks.includes("wasm")) throw error;
    // WebGL failed (texture limit, lost context, out of memory): retry on WASM.
    console.warn("WebGL run failed; retrying on WASM", error);
    await switchToWasm(`WebGL failed here (${error.message.slice(0, 120)}), so the model now runs on WebAssembly.`);
    await drawResult(inCanvas);
  }
  const ms = performance.now() - start;
  app.last = { ms, width, height, backend: app.backend };
  app.runs = (app.runs || 0) + 1;
  document.body.dataset.runs = String(app.runs);
  document.body.dataset.photo = app.photo.name;
  document.body.dataset.ms = ms.toFixed(0);
  document.body.dataset.size = `${width}x${height}`;
  showFacts();
  $("result-caption").textContent = `${styleLabel()} — ${width}×${height}`;
  $("download").disabled = false;
  const note = app.backendNote ? ` ${app.backendNote}` : "";
  setState("done", `Done in ${(ms / 1000).toFixed(1)} s on ${backendLabel()}.${note}`,
    app.backendNote ? "warn" : "");
}

async function drawResult(inCanvas) {
  fitConvolution(inCanvas.height, inCanvas.width);
  let raw = tf.tidy(() => {
    const pixels = tf.browser.fromPixels(inCanvas).toFloat().expandDims(0);
    return execute(app.model, pixels).squeeze([0]);
  });
  const map = await mapFor(raw);
  if (map) {
    const mapped = recolor(raw, map);
    raw.dispose();
    raw = mapped;
  }
  const output = tf.tidy(() => raw.clipByValue(0, 255).round().toInt());
  raw.dispose();
  try {
    await output.data();  // errors of the WebGL programs surface here
    await tf.browser.toPixels(output, $("result"));
  } finally {
    output.dispose();
  }
}

async function switchToWasm(note) {
  if (!(await setBackend("wasm"))) throw new Error("WebGL failed and WASM is unavailable");
  app.backend = "wasm";
  app.backendNote = note;
  app.fallbacks = app.fallbacks.filter((name) => name !== "wasm" && name !== "webgl");
  const model = await tf.loadGraphModel(modelUrl(app.entry));
  if (app.model) app.model.dispose();
  app.model = model;
  showFacts();
}

function download() {
  const name = `${app.photo ? app.photo.name : "photo"}_${(app.entry ? app.entry.name : "stylized")}` +
    (app.styles.names.length ? `_${app.styles.label.replace(/^Blend: /, "blend ")}` : "");
  $("result").toBlob((blob) => {
    const link = document.createElement("a");
    link.download = `${name.replace(/[^\w.-]+/g, "_").slice(0, 120)}.png`;
    link.href = URL.createObjectURL(blob);
    document.body.dataset.download = link.download;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }, "image/png");
}

// ---------------------------------------------------------------- camera

// Live camera: each frame is drawn at most max-side pixels on the input canvas, stylized
// with the current style or blend, and drawn on the result canvas; the fps line shows the
// frames per second reached (a moving average over the last second).
const camera = { stream: null, running: false, frames: 0, times: [], map: null, colorsOf: null };

function drawFrame(video) {
  const [width, height] = scaledSize(video.videoWidth, video.videoHeight);
  const inCanvas = $("input");
  if (inCanvas.width !== width || inCanvas.height !== height) {
    inCanvas.width = width;
    inCanvas.height = height;
  }
  inCanvas.getContext("2d").drawImage(video, 0, 0, width, height);
  return inCanvas;
}

async function cameraFrame() {
  const inCanvas = drawFrame($("camera"));
  fitConvolution(inCanvas.height, inCanvas.width);
  const pixels = tf.tidy(() => tf.browser.fromPixels(inCanvas).toFloat().expandDims(0));
  const raw = tf.tidy(() => execute(app.model, pixels));
  if (app.styles.colors && camera.colorsOf !== app.styles.colors) {  // one map per painting
    const first = raw.squeeze([0]);
    camera.map = await mapFor(first);
    first.dispose();
    camera.colorsOf = app.styles.colors;
  }
  const map = app.styles.colors ? camera.map : null;
  const shown = tf.tidy(() => {
    const frame = raw.squeeze([0]);
    return (map ? recolor(frame, map) : frame).clipByValue(0, 255).round().toInt();
  });
  await tf.browser.toPixels(shown, $("result"));
  shown.dispose();
  camera.frames += 1;
  const now = performance.now();
  camera.times.push(now);
  while (camera.times.length > 1 && now - camera.times[0] > 1000) camera.times.shift();
  const seconds = (now - camera.times[0]) / 1000;
  const fps = seconds > 0 ? (camera.times.length - 1) / seconds : 0;
  $("fps").textContent = `${fps.toFixed(1)} fps, ${inCanvas.width}×${inCanvas.height} on ${app.backend}`;
  return { pixels, raw, fps };
}

async function startCamera(onFrame) {
  if (!app.model) throw new Error("the model is still loading");
  camera.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  const video = $("camera");
  video.srcObject = camera.stream;
  await video.play();
  camera.running = true;
  $("camera-button").textContent = "Stop camera";
  setState("running", "Camera on: stylizing live frames.");
  while (camera.running) {
    const frame = await cameraFrame();
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
  $("camera-button").textContent = "Start camera";
  setState("done", "Camera off.");
}

async function runCameraTest() {
  const wanted = Number(params.get("frames") || 5);
  const report = params.get("report");
  await startCamera(async (frame) => {
    if (camera.frames < wanted) return false;
    camera.running = false;
    const query = `&backend=${app.backend}&frames=${camera.frames}&fps=${frame.fps.toFixed(2)}` +
      `&h=${frame.pixels.shape[1]}&w=${frame.pixels.shape[2]}`;
    const canvas = $("result");
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
  setState("done", `camera test done: ${camera.frames} frames`);
}

// ---------------------------------------------------------------- raw-tensor test mode

async function runTensorTest() {
  const h = Number(params.get("h"));
  const w = Number(params.get("w"));
  if (params.get("painting")) {  // a painting's predicted style, as a user's pick would
    const url = params.get("painting");
    const response = await fetch(url);
    if (!response.ok) throw new Error(`could not load ${url} (${response.status})`);
    await usePainting(await response.blob(), url.split("/").pop());
  }
  if (params.get("weights")) {  // drive the blend sliders as a user would, then apply
    params.get("weights").split(",").forEach((v, i) => {
      app.styles.sliders[i].value = String(Math.round(Number(v) * 100));
    });
    applyBlend();
  }
  const raw = await (await fetch(params.get("input"))).arrayBuffer();
  const input = tf.tensor4d(new Float32Array(raw), [1, h, w, 3]);
  fitConvolution(h, w);
  setState("running", "test run");
  const start = performance.now();
  const output = tf.tidy(() => execute(app.model, input));
  const data = await output.data();
  const ms = performance.now() - start;
  const styleOptions = $("style").querySelectorAll("option:not([data-blend])").length;
  const report = `?backend=${app.backend}&ms=${ms.toFixed(1)}&sliders=${app.styles.sliders.length}` +
    `&options=${styleOptions}&style=${encodeURIComponent(app.styles.label)}`;
  await fetch(params.get("report") + report, { method: "POST", body: data.buffer });
  if (app.styles.colors) {  // a painting's colours: the mapped output too, as shown
    const frame = output.squeeze([0]);
    const mapped = recolor(frame, await mapFor(frame));
    const body = (await mapped.data()).buffer;
    tf.dispose([frame, mapped]);
    await fetch(`${params.get("report")}?part=matched`, { method: "POST", body });
  }
  output.dispose();
  setState("done", `test done on ${app.backend} in ${ms.toFixed(0)} ms`);
}

// ---------------------------------------------------------------- start

function fileHint() {
  const hint = $("hint");
  hint.hidden = false;
  hint.innerHTML = "<b>This page was opened from disk</b>, and browsers do not let a page " +
    "loaded from <code>file://</code> read the model files. Serve the repository instead: " +
    "in its root folder run <code>python -m http.server 8000</code>, then open " +
    "<a href='http://localhost:8000/web/'>http://localhost:8000/web/</a>.";
  setState("error", "Opened from disk: see the note above.", "error");
}

function wireControls() {
  $("file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";  // picking the same file again is a new pick
    if (file) setPhoto(file, file.name).catch(fail);
  });
  ["dragenter", "dragover"].forEach((type) => document.addEventListener(type, (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => document.addEventListener(type, (event) => {
    event.preventDefault();
    if (type === "drop" || event.target === document.documentElement) {
      document.body.classList.remove("dragging");
    }
  }));
  document.addEventListener("drop", (event) => {
    const file = [...(event.dataTransfer ? event.dataTransfer.files : [])]
      .find((f) => f.type.startsWith("image/"));
    if (file) setPhoto(file, file.name).catch(fail);
    else setState(document.body.dataset.state, "That is not an image file.", "warn");
  });
  $("painting-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) usePainting(file, file.name).then(() => run()).catch(fail);
  });
  $("maxside").addEventListener("change", () => { if (!camera.running) run().catch(fail); });
  $("style").addEventListener("change", () => {
    if ($("style").value === "blend") return;
    pickStyle(Number($("style").value));
    if (!camera.running) run().catch(fail);
  });
  $("apply-blend").addEventListener("click", () => {
    if (applyBlend() && !camera.running) run().catch(fail);
  });
  $("reset-blend").addEventListener("click", () => {
    pickStyle(0);
    if (!camera.running) run().catch(fail);
  });
  $("download").addEventListener("click", download);
  $("camera-button").addEventListener("click", () => {
    if (camera.running) {
      stopCamera();
    } else {
      startCamera().catch((e) => {
        stopCamera();
        fail(new Error(`camera: ${e.message}`));
      });
    }
  });
}

async function main() {
  if (window.location.protocol === "file:") {
    fileHint();
    return;
  }
  if (typeof tf === "undefined") {
    throw new Error("TF.js did not load: run `npm ci` in web/ (it vendors TF.js into web/node_modules)");
  }
  setState("loading", "Starting…");
  if (params.get("size")) $("maxside").value = params.get("size");
  wireControls();
  app.backend = await chooseBackend();
  showFacts();
  await loadGallery();
  const entry = findEntry(params.get("model"));
  if (!entry) throw new Error("no models: gallery/models.json is missing (scripts/web_gallery.py)");
  // a photo picked (or the sample loading) while the model loads is kept and run after
  const photoUrl = params.get("photo") || (app.gallery.samples[0] || {}).url;
  const testMode = params.get("input") || params.get("camera");
  const loads = [selectModel(entry, params.get("style"))];
  if (photoUrl && !testMode) {
    loads.push(loadPhotoUrl(photoUrl, params.get("photo") ? undefined : app.gallery.samples[0].name));
  }
  await Promise.all(loads);
  if (params.get("input")) await runTensorTest();
  else if (params.get("camera")) await runCameraTest();
}

main().catch(fail);
