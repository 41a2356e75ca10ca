// The first page: upload form, "Schedule all", and a task table that refreshes
// every second. User-supplied text only ever goes into textContent.
"use strict";

const REFRESH_MS = 1000;
let catalog = {};

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function say(text, kind = "") {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = "message " + kind;
}

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    body,
    headers: { Accept: "application/json" },
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function paramInput(name, spec) {
  let input;
  if (spec.type === "boolean" || spec.choices) {
    const options = spec.choices || ["true", "false"];
    input = el("select", { name }, [el("option", { value: "", textContent: "default" })]);
    for (const choice of options) {
      input.append(el("option", { value: choice, textContent: choice }));
    }
  } else {
    input = el("input", { name, type: "text", inputMode: "decimal" });
    if (spec.default !== null) input.placeholder = String(spec.default);
  }
  input.title = spec.description;
  return el("label", {}, [name, input]);
}

function showParams() {
  const [kind, name] = document.getElementById("operation").selectedOptions[0]
    .dataset.key.split(":");
  const operation = catalog[kind][name];
  document.getElementById("operation-help").textContent = operation.description;
  const box = document.getElementById("params");
  box.replaceChildren();
  for (const [param, spec] of Object.entries(operation.params)) {
    box.append(paramInput(param, spec));
  }
}

async function loadOperations() {
  const data = await api("GET", "/api/v1/operations");
  catalog = { image: data.image, video: data.video };
  const select = document.getElementById("operation");
  for (const kind of ["image", "video"]) {
    const group = el("optgroup", { label: kind + "s" });
    for (const name of Object.keys(catalog[kind])) {
      const option = el("option", { value: name, textContent: name });
      option.dataset.key = kind + ":" + name;
      group.append(option);
    }
    select.append(group);
  }
  select.addEventListener("change", showParams);
  showParams();
}

async function upload(event) {
  event.preventDefault();
  const form = event.target;
  say("Uploading…");
  try {
    const data = await api("POST", "/api/v1/tasks", new FormData(form));
    const scheduled = data.scheduled ? `, ${data.scheduled} scheduled` : "";
    say(`Uploaded ${data.tasks.length} file(s)${scheduled}.`, "ok");
    document.getElementById("files").value = "";
    refresh();
  } catch (error) {
    say(error.message, "error");
  }
}

async function scheduleAll() {
  try {
    const data = await api("POST", "/schedule-tasks");
    say(`Scheduled ${data.scheduled} task(s).`, "ok");
    refresh();
  } catch (error) {
    say(error.message, "error");
  }
}

async function remove(id) {
  try {
    await api("DELETE", `/api/v1/tasks/${id}`);
    refresh();
  } catch (error) {
    say(error.message, "error");
  }
}

function seconds(ms) {
  return ms === null || ms === undefined ? "" : (ms / 1000).toFixed(2) + " s";
}

function row(task) {
  const version = task.status === "completed" ? "output" : "input";
  const link = el("a", {
    href: `/api/v1/tasks/${task.id}/${version}`,
    textContent: version,
  });
  const drop = el("button", { type: "button", className: "link", textContent: "delete" });
  drop.addEventListener("click", () => remove(task.id));
  return el("tr", {}, [
    el("td", { className: "name", textContent: task.filename, title: task.filename }),
    el("td", { textContent: task.operation.name }),
    el("td", { className: "status-" + task.status, textContent: task.status }),
    el("td", { textContent: task.tier || "" }),
    el("td", { textContent: task.node_id || "" }),
    el("td", { textContent: seconds(task.total_ms) }),
    el("td", {}, [link, " ", drop]),
  ]);
}

async function refresh() {
  try {
    const data = await api("GET", "/api/v1/tasks?limit=200");
    document.querySelector("#tasks tbody").replaceChildren(...data.tasks.map(row));
    document.getElementById("empty").hidden = data.tasks.length > 0;
  } catch (error) {
    say("Could not load tasks: " + error.message, "error");
  }
}

async function poll() {
  await refresh();
  setTimeout(poll, REFRESH_MS);
}

document.getElementById("upload-form").addEventListener("submit", upload);
document.getElementById("schedule-all").addEventListener("click", scheduleAll);
loadOperations().catch((error) => say(error.message, "error"));
poll();
