// The web console: plain JavaScript over the public API (/v1), with the API key the user
// signs in with. No build step, no third-party code; the charts are SVG drawn by charts.js.
"use strict";

const KEY_NAME = "sparsecoding-api-key";
const NPY = "application/x-npy";
const main = () => document.getElementById("main");
let stopStream = null; // closes the job page's event stream when the page changes

// --- the API ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path, { method = "GET", body, type, accept = "application/json" } = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY_NAME)}`, Accept: accept };
  if (type) headers["Content-Type"] = type;
  const response = await fetch(path, { method, body, headers });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const message = problem.detail || problem.title || `${response.status} ${response.statusText}`;
    if (response.status === 401) signOut(`The API key was refused: ${message}`);
    throw new ApiError(message, response.status);
  }
  return response;
}

const getJson = async (path) => (await api(path)).json();
const postJson = async (path, value) =>
  (await api(path, { method: "POST", body: JSON.stringify(value), type: "application/json" })).json();

// --- small DOM helpers -----------------------------------------------------------------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

function toast(message) {
  const note = h("div", {}, message);
  document.getElementById("toast").append(note);
  setTimeout(() => note.remove(), 6000);
}

const number = (value, digits = 4) =>
  value === null || value === undefined ? "—" : Number(value).toPrecision(digits);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const bytes = (n) => (n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
const stateBadge = (state) => h("span", { class: `state state-${state}` }, state);

async function download(path, filename) {
  const blob = await (await api(path, { accept: NPY })).blob();
  const link = h("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
}

// Pages of a list: `?offset=` in the view's hash; PAGE rows each, newest first.
const PAGE = 25;
const offsetOf = (params) => Math.max(0, Number(params?.get("offset")) || 0);

function pager(listing, offset, section) {
  if (listing.count <= PAGE) return "";
  const to = (start) => `#/${section}?offset=${start}`;
  const last = Math.min(offset + listing.data.length, listing.count);
  return h("nav", { class: "pager", "aria-label": `Pages of ${section}` },
    offset > 0 ? h("a", { href: to(Math.max(0, offset - PAGE)) }, "← Newer") : h("span", { class: "muted" }, "← Newer"),
    h("span", {}, `${offset + 1}–${last} of ${listing.count}`),
    last < listing.count ? h("a", { href: to(offset + PAGE) }, "Older →") : h("span", { class: "muted" }, "Older →"));
}

async function atomsImage(modelId) {
  const blob = await (await api(`/v1/models/${modelId}/atoms.png?scale=6`, { accept: "image/png" })).blob();
  return h("img", { class: "atoms", src: URL.createObjectURL(blob), alt: `Atoms of model ${modelId}` });
}

// --- sign-in ---------------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(KEY_NAME);
  if (stopStream) { stopStream(); stopStream = null; }
  history.replaceState(null, "", "#/signin"); // no hashchange: the message stays on screen
  showSignIn(message);
}

function showSignIn(message) {
  document.getElementById("nav").hidden = true;
  const input = h("input", { type: "password", id: "api-key", name: "key", required: true, autocomplete: "off" });
  const error = h("p", { class: "error", id: "signin-error", role: "alert" }, message || "");
  const form = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_NAME, input.value.trim());
    try {
      await api("/v1/datasets?limit=1");
      history.replaceState(null, "", "#/datasets");
      route();
    } catch (failure) {
      // a refused key has already brought back this form, with the reason (signOut)
      if (failure.status !== 401) error.textContent = failure.message;
    }
  } },
    h("label", { for: "api-key" }, "API key", input),
    h("button", { type: "submit" }, "Sign in"), error);
  main().replaceChildren(h("section", { class: "card signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Use an API key of this service (sparsecoding serve prints one on first start; sparsecoding new-key makes more). It is kept in this tab only."),
    form));
  input.focus();
}

// --- datasets --------------------------------------------------------------------------

async function showDatasets(params) {
  const offset = offsetOf(params);
  const listing = await getJson(`/v1/datasets?limit=${PAGE}&offset=${offset}`);
  const file = h("input", { type: "file", id: "dataset-file", accept: ".npy", required: true });
  const name = h("input", { type: "text", id: "dataset-name", maxlength: 200, placeholder: "optional" });
  const status = h("p", { class: "muted", role: "status" });
  const form = h("form", { class: "grid", onsubmit: async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    status.textContent = `Uploading ${chosen.name} (${bytes(chosen.size)})…`;
    const query = name.value ? `?name=${encodeURIComponent(name.value)}` : "";
    try {
      const dataset = await (await api(`/v1/datasets${query}`, { method: "POST", body: chosen, type: NPY })).json();
      toast(`Uploaded ${dataset.id}: ${dataset.n_samples} × ${dataset.n_features} ${dataset.dtype}`);
      showDatasets();
    } catch (failure) { status.textContent = failure.message; status.className = "error"; }
  } },
    h("label", { for: "dataset-file", class: "wide" }, "A .npy file (n_samples × n_features)", file),
    h("label", { for: "dataset-name" }, "Name", name),
    h("button", { type: "submit" }, "Upload"));
  const rows = listing.data.map((d) => h("tr", {},
    h("td", {}, h("code", {}, d.id)), h("td", {}, d.name || "—"),
    h("td", { class: "num" }, `${d.n_samples} × ${d.n_features}`), h("td", {}, d.dtype),
    h("td", { class: "num" }, bytes(d.nbytes)), h("td", {}, when(d.created_at)),
    h("td", {}, h("a", { href: `#/jobs?dataset=${d.id}` }, "Fit…")),
    h("td", {}, h("button", { class: "danger", type: "button", onclick: () => deleteDataset(d) }, "Delete"))));
  main().replaceChildren(h("h1", {}, "Datasets"),
    h("section", { class: "card" }, h("h2", {}, "Upload"), form, status),
    h("section", { class: "card" }, h("h2", {}, `Your datasets (${listing.count})`),
      rows.length ? h("table", { id: "datasets" },
        h("thead", {}, h("tr", {}, ["Id", "Name", "Shape", "Dtype", "Size", "Uploaded", "", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows)) : h("p", { class: "muted" }, "None yet: upload a .npy above."),
      pager(listing, offset, "datasets")));
}

async function deleteDataset(dataset) {
  const what = dataset.name ? `${dataset.name} (${dataset.id})` : dataset.id;
  if (!confirm(`Delete dataset ${what}? Models learned from it stay.`)) return;
  try {
    await api(`/v1/datasets/${dataset.id}`, { method: "DELETE" });
    toast(`Deleted ${dataset.id}`);
  } catch (failure) { toast(failure.message); }
  route();
}

// --- jobs ------------------------------------------------------------------------------

function field(id, label, input) { input.id = id; return h("label", { for: id }, label, input); }

async function showJobs(params) {
  const offset = offsetOf(params);
  const [jobs, datasets] = await Promise.all([getJson(`/v1/jobs?limit=${PAGE}&offset=${offset}`), getJson("/v1/datasets?limit=100")]);
  const dataset = h("select", { required: true },
    datasets.data.map((d) => h("option", { value: d.id, selected: d.id === params.get("dataset") },
      `${d.name || d.id} (${d.n_samples} × ${d.n_features})`)));
  const k = h("input", { type: "number", min: 1, value: 32, required: true });
  const alpha = h("input", { type: "number", min: 0, step: "any", value: 1, required: true });
  const mode = h("select", {}, ["auto", "batch", "online"].map((m) => h("option", { value: m }, m)));
  const maxIter = h("input", { type: "number", min: 1, value: 100 });
  const timeLimit = h("input", { type: "number", min: 0, step: "any", placeholder: "none" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "grid", onsubmit: async (event) => {
    event.preventDefault();
    const spec = { dataset_id: dataset.value, n_components: Number(k.value), alpha: Number(alpha.value),
      mode: mode.value, max_iter: Number(maxIter.value) };
    if (timeLimit.value) spec.time_limit = Number(timeLimit.value);
    try {
      const job = await postJson("/v1/jobs", spec);
      location.hash = `#/jobs/${job.id}`;
    } catch (failure) { error.textContent = failure.message; }
  } },
    field("job-dataset", "Dataset", dataset), field("job-k", "Atoms (n_components)", k),
    field("job-alpha", "alpha (ℓ1 weight)", alpha), field("job-mode", "Mode", mode),
    field("job-max-iter", "max_iter", maxIter), field("job-time-limit", "Time limit (s)", timeLimit),
    h("button", { type: "submit", disabled: datasets.count === 0 }, "Submit"));
  const rows = jobs.data.map((job) => h("tr", { "data-job": job.id },
    h("td", {}, h("a", { href: `#/jobs/${job.id}` }, h("code", {}, job.id))), h("td", {}, stateBadge(job.state)),
    h("td", { class: "num" }, `${job.n_components}`),
    h("td", { class: "num" }, job.progress ? `${job.progress.iteration}` : "—"),
    h("td", { class: "num" }, number(job.objective ?? job.progress?.objective)),
    h("td", {}, when(job.created_at)),
    h("td", {}, ["queued", "running"].includes(job.state)
      ? h("button", { class: "danger", type: "button", onclick: () => cancel(job.id) }, "Cancel") : "")));
  main().replaceChildren(h("h1", {}, "Jobs"),
    h("section", { class: "card" }, h("h2", {}, "Submit a fit"),
      datasets.count ? "" : h("p", { class: "muted" }, "Upload a dataset first."), form, error),
    h("section", { class: "card" }, h("h2", {}, `Your jobs (${jobs.count})`),
      rows.length ? h("table", { id: "jobs" },
        h("thead", {}, h("tr", {}, ["Id", "State", "Atoms", "Iteration", "Objective", "Submitted", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows)) : h("p", { class: "muted" }, "None yet."),
      pager(jobs, offset, "jobs")));
}

async function cancel(jobId) {
  try {
    await api(`/v1/jobs/${jobId}/cancel`, { method: "POST" });
    toast(`Cancelling ${jobId}`);
  } catch (failure) { toast(failure.message); }
  setTimeout(route, 400);
}

// --- one job: details, live convergence plot, atoms --------------------------------------

async function showJob(jobId) {
  const job = await getJson(`/v1/jobs/${jobId}`);
  const records = [];
  let axis = "iteration";
  const objective = s("svg", { class: "chart", id: "objective-chart", role: "img" });
  const gap = s("svg", { class: "chart", id: "gap-chart", role: "img" });
  const facts = h("dl", { class: "facts", id: "job-facts" });
  const atoms = h("div", { id: "atoms" });
  const actions = h("div", { class: "row" });
  const toggle = h("button", { type: "button", class: "quiet", id: "axis-toggle", onclick: () => {
    axis = axis === "iteration" ? "elapsed_s" : "iteration";
    toggle.textContent = axis === "iteration" ? "Plot against time" : "Plot against iteration";
    redraw();
  } }, "Plot against time");
  function redraw() {
    const xLabel = axis === "iteration" ? "iteration" : "seconds";
    drawChart(objective, records.map((r) => ({ x: r[axis], y: r.objective })), { xLabel, yLabel: "objective J / n" });
    drawChart(gap, records.map((r) => ({ x: r[axis], y: r.max_gap })), { logY: true, gap: true, xLabel, yLabel: "largest relative duality gap" });
  }
  function describe(current) {
    const entries = [["State", stateBadge(current.state)], ["Dataset", h("code", {}, current.dataset_id)],
      ["Atoms", String(current.n_components)], ["alpha", String(current.options.alpha)],
      ["Mode", String(current.options.mode)], ["Iterations", current.n_iter ?? current.progress?.iteration ?? "—"],
      ["Objective", number(current.objective ?? current.progress?.objective, 6)],
      ["Stop reason", current.stop_reason || "—"], ["Submitted", when(current.created_at)]];
    if (current.error) entries.push(["Error", h("span", { class: "error" }, current.error)]);
    if (current.model_id) entries.push(["Model", h("a", { href: `#/models/${current.model_id}` }, h("code", {}, current.model_id))]);
    facts.replaceChildren(...entries.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
    actions.replaceChildren(["queued", "running"].includes(current.state)
      ? h("button", { class: "danger", type: "button", onclick: () => cancel(current.id) }, "Cancel job") : "");
  }
  describe(job);
  redraw();
  main().replaceChildren(h("h1", {}, "Job ", h("code", {}, jobId)),
    h("section", { class: "card" }, facts, actions),
    h("section", { class: "card" }, h("div", { class: "row" }, h("h2", {}, "Convergence"), toggle),
      h("div", { class: "charts" },
        h("figure", {}, h("figcaption", {}, "Objective (online fits: running estimate)"), objective),
        h("figure", {}, h("figcaption", {}, "Duality gap of the codes (log scale)"), gap))),
    h("section", { class: "card" }, h("h2", {}, "Atoms"), atoms));
  atoms.replaceChildren(h("p", { class: "muted" }, "Shown when the job has a model."));
  const showAtoms = async (modelId) => atoms.replaceChildren(await atomsImage(modelId));
  if (job.model_id) await showAtoms(job.model_id);
  let current = job;
  await follow(jobId, (kind, data) => {
    if (kind === "progress") {
      records.push(data);
      redraw();
      if (current.state !== "running" && !current.finished_at) current = { ...current, state: "running" };
      describe({ ...current, progress: data });
    }
    if (kind === "status") {
      current = data;
      describe(data);
      if (data.model_id) showAtoms(data.model_id);
    }
  });
}

// Reads the job's Server-Sent Events with fetch (EventSource cannot send the API key).
async function follow(jobId, onEvent) {
  const controller = new AbortController();
  stopStream = () => controller.abort();
  let response;
  try {
    response = await fetch(`/v1/jobs/${jobId}/events`, { signal: controller.signal,
      headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY_NAME)}`, Accept: "text/event-stream" } });
  } catch { return; }
  if (!response.ok || !response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) kind = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data) onEvent(kind, JSON.parse(data));
      }
    }
  } catch { /* aborted: the user left the page */ }
}

// --- models ----------------------------------------------------------------------------

async function showModels(params) {
  const offset = offsetOf(params);
  const models = await getJson(`/v1/models?limit=${PAGE}&offset=${offset}`);
  const rows = models.data.map((m) => h("tr", {},
    h("td", {}, h("a", { href: `#/models/${m.id}` }, h("code", {}, m.id))),
    h("td", { class: "num" }, `${m.n_components} × ${m.n_features}`), h("td", { class: "num" }, String(m.alpha)),
    h("td", { class: "num" }, number(m.objective, 6)), h("td", {}, h("a", { href: `#/jobs/${m.job_id}` }, "job")),
    h("td", {}, when(m.created_at))));
  main().replaceChildren(h("h1", {}, "Models"), h("section", { class: "card" },
    rows.length ? h("table", { id: "models" },
      h("thead", {}, h("tr", {}, ["Id", "Atoms × features", "alpha", "Objective", "From", "Created"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows)) : h("p", { class: "muted" }, "None yet: a succeeded job stores one."),
    pager(models, offset, "models")));
}

async function showModel(modelId) {
  const model = await getJson(`/v1/models/${modelId}`);
  const rows = h("textarea", { id: "encode-rows", spellcheck: "false",
    placeholder: `one row per line, ${model.n_features} numbers separated by spaces or commas` });
  const output = h("div", { id: "encode-output" });
  const form = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    const data = rows.value.trim().split("\n").filter((line) => line.trim())
      .map((line) => line.trim().split(/[\s,]+/).map(Number));
    try {
      const result = await postJson(`/v1/models/${modelId}/encode`, { data });
      const atomsHead = h("tr", {}, h("th", {}, "row"), result.codes[0].map((_, j) => h("th", { class: "num" }, `atom ${j}`)));
      output.replaceChildren(h("p", { class: "muted" }, `objective J / n ${number(result.objective, 6)}`),
        h("div", { class: "scroll" }, h("table", { id: "codes" }, h("thead", {}, atomsHead),
          h("tbody", {}, result.codes.map((code, i) => h("tr", {}, h("th", {}, String(i)),
            code.map((value) => h("td", { class: "num" }, value === 0 ? "0" : value.toPrecision(4)))))))));
    } catch (failure) { output.replaceChildren(h("p", { class: "error", role: "alert" }, failure.message)); }
  } }, h("label", { for: "encode-rows" }, "Rows to encode", rows), h("div", { class: "row" }, h("button", { type: "submit" }, "Encode")));
  main().replaceChildren(h("h1", {}, "Model ", h("code", {}, modelId)),
    h("section", { class: "card" }, h("dl", { class: "facts" },
      ...[["Atoms", model.n_components], ["Features", model.n_features], ["alpha", model.alpha],
        ["Objective", number(model.objective, 6)], ["Stop reason", model.stop_reason], ["Created", when(model.created_at)]]
        .flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, String(value))])),
      h("div", { class: "row" },
        h("button", { type: "button", id: "download-dictionary", onclick: () => download(`/v1/models/${modelId}/dictionary`, `${modelId}-dictionary.npy`) }, "Download dictionary (.npy)"),
        h("button", { type: "button", class: "quiet", id: "download-codes", onclick: () => download(`/v1/jobs/${model.job_id}/codes`, `${model.job_id}-codes.npy`) }, "Download codes (.npy)"))),
    h("section", { class: "card" }, h("h2", {}, "Atoms"), await atomsImage(modelId)),
    h("section", { class: "card" }, h("h2", {}, "Encode a small matrix"), form, output));
}

// --- routing ---------------------------------------------------------------------------

async function route() {
  if (stopStream) { stopStream(); stopStream = null; }
  if (!sessionStorage.getItem(KEY_NAME)) return showSignIn();
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  const section = parts[0] || "datasets";
  document.getElementById("nav").hidden = false;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const views = { datasets: showDatasets, jobs: (p) => (parts[1] ? showJob(parts[1]) : showJobs(p)),
    models: (p) => (parts[1] ? showModel(parts[1]) : showModels(p)) };
  const view = views[section] || showDatasets;
  document.title = `sparsecoding · ${section}`;
  try {
    await view(new URLSearchParams(query || ""));
  } catch (failure) {
    if (failure.status !== 401) main().replaceChildren(h("p", { class: "error", role: "alert" }, failure.message));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  route();
});
