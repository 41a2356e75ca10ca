// Uploading: files picked or dropped, an operation for photos and one for
// videos, and one request per file so each has its own progress bar.

import { request, uploadFile } from "./api.js";
import { bytes, el, say } from "./dom.js";

const KINDS = ["image", "video"];
const PARALLEL_UPLOADS = 3;
const PREFERRED = { image: "grayscale", video: "transcode" };
// When the browser does not know a file's type, its suffix decides.
const SUFFIX_KINDS = {
  png: "image",
  jpg: "image",
  jpeg: "image",
  webp: "image",
  gif: "image",
  bmp: "image",
  tif: "image",
  tiff: "image",
  mp4: "video",
  m4v: "video",
  webm: "video",
  mov: "video",
  mkv: "video",
  avi: "video",
  mpg: "video",
  mpeg: "video",
};

function option(value) {
  return el("option", { value, textContent: value });
}

export class Uploader {
  /**
   * `parts`: the form, file input, drop zone, file list, the two operation
   * fieldsets and the "schedule all" button; `catalog` is GET /api/v1/operations.
   */
  constructor(parts, catalog) {
    this.parts = parts;
    this.catalog = catalog;
    this.supported = catalog.supported_types || {};
    this.items = [];
    this.busy = false;

    for (const kind of KINDS) this.buildOperations(kind);
    const suffixes = Object.keys(SUFFIX_KINDS).map((suffix) => `.${suffix}`);
    parts.input.accept = [...Object.keys(this.supported), ...suffixes].join(",");
    parts.input.addEventListener("change", () => {
      this.add(parts.input.files);
      // Cleared so that picking the same file again still counts.
      parts.input.value = "";
    });
    this.watchDrops();
    parts.form.addEventListener("submit", (event) => this.submit(event));
    parts.scheduleAll.addEventListener("click", () => this.scheduleAll());
    this.renderList();
  }

  // --- operations and their parameters --------------------------------------

  buildOperations(kind) {
    const { select, help, params } = this.parts[kind];
    const operations = this.catalog[kind] || {};
    select.replaceChildren(...Object.keys(operations).map(option));
    if (PREFERRED[kind] in operations) select.value = PREFERRED[kind];
    const show = () => {
      const operation = operations[select.value];
      help.textContent = operation ? operation.description : "";
      params.replaceChildren(
        ...Object.entries(operation ? operation.params : {}).map(([name, spec]) =>
          this.paramField(kind, name, spec),
        ),
      );
    };
    select.addEventListener("change", show);
    show();
  }

  paramField(kind, name, spec) {
    const id = `${kind}-param-${name}`;
    const helpId = `${id}-help`;
    let input;
    if (spec.choices || spec.type === "boolean") {
      const choices = spec.choices || [true, false];
      input = el("select", {}, choices.map((choice) => option(String(choice))));
    } else if (spec.type === "integer" || spec.type === "number") {
      const whole = spec.type === "integer";
      input = el("input", {
        type: "number",
        step: whole ? "1" : "any",
        inputMode: whole ? "numeric" : "decimal",
      });
      if (typeof spec.min === "number") input.min = String(spec.min);
      if (typeof spec.max === "number") input.max = String(spec.max);
    } else {
      input = el("input", { type: "text" });
    }
    // The default is shown as the value: what is sent is what is seen.
    if (spec.default !== null && spec.default !== undefined) {
      input.value = String(spec.default);
    }
    input.id = id;
    input.name = name;
    input.dataset.type = spec.type;
    input.setAttribute("aria-describedby", helpId);
    return el("div", { className: "param" }, [
      el("label", { htmlFor: id, textContent: name }),
      input,
      el("small", { id: helpId, className: "help", textContent: spec.description }),
    ]);
  }

  /** The form fields for files of one kind: operation, params, schedule. */
  fields(kind, schedule) {
    const { select, params } = this.parts[kind];
    const values = {};
    for (const input of params.querySelectorAll("input, select")) {
      if (input.value === "") continue;
      const type = input.dataset.type;
      if (type === "integer") values[input.name] = parseInt(input.value, 10);
      else if (type === "number") values[input.name] = parseFloat(input.value);
      else if (type === "boolean") values[input.name] = input.value === "true";
      else values[input.name] = input.value;
    }
    return {
      operation: select.value,
      params: JSON.stringify(values),
      schedule: schedule ? "true" : "false",
    };
  }

  // --- the files -------------------------------------------------------------

  kindOf(file) {
    if (this.supported[file.type]) return this.supported[file.type];
    const dot = file.name.lastIndexOf(".");
    const suffix = dot === -1 ? "" : file.name.slice(dot + 1).toLowerCase();
    return SUFFIX_KINDS[suffix] || null;
  }

  add(files) {
    if (this.busy) {
      say("Wait for the uploads to finish before adding files.", "error");
      return;
    }
    // Files already sent make way for the new choice.
    this.items = this.items.filter((item) => item.state !== "done");
    for (const file of files) {
      const duplicate = this.items.some(
        (item) =>
          item.file.name === file.name &&
          item.file.size === file.size &&
          item.file.lastModified === file.lastModified,
      );
      if (!duplicate) this.items.push(this.buildItem(file));
    }
    this.renderList();
  }

  buildItem(file) {
    const kind = this.kindOf(file);
    const progress = el("progress", {
      max: 1,
      value: 0,
      "aria-label": `Upload of ${file.name}`,
    });
    const state = el("span", { className: "file-state" });
    const remove = el("button", {
      type: "button",
      className: "link",
      textContent: "Remove",
      "aria-label": `Remove ${file.name}`,
    });
    const li = el("li", { className: "file-item" }, [
      el("span", { className: "file-name", textContent: file.name }),
      el("span", {
        className: "file-meta",
        textContent: `${kind || "unsupported"} · ${bytes(file.size)}`,
      }),
      progress,
      state,
      remove,
    ]);
    const item = { file, kind, li, progress, stateText: state, remove };
    this.setState(item, "ready", "");
    remove.addEventListener("click", () => {
      if (this.busy) return;
      this.items = this.items.filter((other) => other !== item);
      this.renderList();
      this.parts.input.focus();
    });
    if (!kind) {
      this.setState(item, "unsupported", "Not a supported photo or video type.");
    }
    return item;
  }

  setState(item, state, text) {
    item.state = state;
    item.stateText.textContent = text;
    item.li.dataset.state = state;
  }

  renderList() {
    this.parts.list.replaceChildren(...this.items.map((item) => item.li));
    this.parts.list.hidden = this.items.length === 0;
    const waiting = this.items.filter((item) => this.sendable(item)).length;
    this.parts.count.textContent = waiting
      ? `${waiting} file${waiting === 1 ? "" : "s"} ready to upload`
      : "No files chosen";
  }

  sendable(item) {
    return item.state === "ready" || item.state === "failed";
  }

  watchDrops() {
    const zone = this.parts.dropZone;
    // A file dropped anywhere else must not make the browser leave the page.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (event) => event.preventDefault());
    }
    zone.addEventListener("dragenter", () => zone.classList.add("dragging"));
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      this.add(event.dataTransfer.files);
    });
  }

  // --- sending ---------------------------------------------------------------

  async submit(event) {
    event.preventDefault();
    if (this.busy) return;
    const schedule = event.submitter?.value === "schedule";
    const pending = this.items.filter((item) => this.sendable(item));
    if (pending.length === 0) {
      say("Choose or drop at least one photo or video first.", "error");
      this.parts.input.focus();
      return;
    }
    const kinds = new Set(pending.map((item) => item.kind));
    for (const kind of kinds) {
      const invalid = [...this.parts[kind].params.querySelectorAll("input")].find(
        (input) => !input.checkValidity(),
      );
      if (invalid) {
        invalid.reportValidity();
        return;
      }
    }
    const fields = Object.fromEntries(
      [...kinds].map((kind) => [kind, this.fields(kind, schedule)]),
    );

    this.setBusy(true);
    say(`Uploading ${pending.length} file${pending.length === 1 ? "" : "s"}…`);
    const queue = [...pending];
    const worker = async () => {
      while (queue.length) {
        const item = queue.shift();
        await this.send(item, fields[item.kind], schedule);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, worker));
    this.setBusy(false);

    const failed = pending.filter((item) => item.state === "failed");
    const sent = pending.length - failed.length;
    const what = schedule ? "uploaded and scheduled" : "uploaded";
    if (failed.length === 0) {
      say(`${sent} file${sent === 1 ? "" : "s"} ${what}.`, "ok");
    } else {
      const first = failed[0];
      say(
        `${sent} of ${pending.length} ${what}; ${first.file.name}: ${first.error}`,
        "error",
      );
    }
    this.renderList();
  }

  async send(item, fields, schedule) {
    this.setState(item, "uploading", "Uploading…");
    item.progress.value = 0;
    try {
      await uploadFile(item.file, fields, (fraction) => {
        item.progress.value = fraction;
      });
      this.setState(item, "done", schedule ? "Uploaded and scheduled" : "Uploaded");
    } catch (error) {
      item.error = error.message;
      this.setState(item, "failed", `Failed: ${error.message}`);
    }
  }

  setBusy(busy) {
    this.busy = busy;
    // aria-disabled rather than disabled: a disabled button would drop the
    // keyboard focus; clicks are ignored while busy anyway.
    const buttons = this.parts.form.querySelectorAll("button[type=submit]");
    for (const button of [...buttons, ...this.items.map((item) => item.remove)]) {
      button.setAttribute("aria-disabled", String(busy));
    }
    this.parts.form.setAttribute("aria-busy", String(busy));
  }

  async scheduleAll() {
    try {
      const data = await request("POST", "/schedule-tasks");
      const n = data.scheduled;
      const tasks = `task${n === 1 ? "" : "s"}`;
      say(n ? `Scheduled ${n} uploaded ${tasks}.` : "No task was waiting.", "ok");
    } catch (error) {
      say(`Could not schedule: ${error.message}`, "error");
    }
  }
}
