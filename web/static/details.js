// A task's details in a modal dialog: every timestamp, where it ran and why,
// its error, previews of input and output, and what can be done with it.

import { ApiError, request, withToken } from "./api.js";
import { bytes, duration, el, operationText, timestamp } from "./dom.js";
import { FINAL, placeView, statusView } from "./table.js";

// Explanation fields with a label and a format; any other field is shown as is.
const EXPLANATION_FIELDS = [
  ["policy", "Policy", String],
  ["policy_version", "Policy version", String],
  ["reason", "Reason", String],
  ["explored", "Explored", (value) => (value ? "yes (a random choice)" : "no")],
  ["planned_finish_s", "Planned finish", seconds],
  ["pso_planned_finish_s", "PSO planned finish", seconds],
  ["estimated_work_s", "Estimated work", seconds],
  ["decision_ms", "Decision took", (value) => duration(value)],
  ["batch_size", "Batch size", String],
  ["replanned_from", "Re-planned from node", String],
  ["replanned_at", "Re-planned at", timestamp],
];

function seconds(value) {
  return typeof value === "number" ? duration(value * 1000) : String(value);
}

/** Q-values as {edge, cloud}, whether the server sent a map or [edge, cloud]. */
function qValues(explanation) {
  const q = explanation.q_values;
  if (Array.isArray(q)) return { edge: q[0], cloud: q[1] };
  if (q && typeof q === "object") return q;
  return null;
}

function field(label, value) {
  if (value === null || value === undefined || value === "") return null;
  const text = Array.isArray(value) ? value : [String(value)];
  return [el("dt", { textContent: label }), el("dd", {}, text)];
}

function list(pairs) {
  return el("dl", { className: "facts" }, pairs.filter(Boolean).flat());
}

export class Details {
  /** `dialog` holds the title, facts, previews, message and action buttons. */
  constructor(dialog, { say, fallbackFocus }) {
    this.dialog = dialog;
    this.say = say;
    this.fallbackFocus = fallbackFocus;
    this.title = dialog.querySelector("#details-title");
    this.facts = dialog.querySelector("#details-facts");
    this.media = dialog.querySelector("#details-media");
    this.message = dialog.querySelector("#details-message");
    this.actions = dialog.querySelector("#details-actions");
    this.task = null;
    this.opener = null;
    this.focusOwed = false;
    this.mediaKey = null;

    dialog.querySelector("#details-close").addEventListener("click", () => {
      this.close();
    });
    // Escape closes the dialog without us: the close event tidies up then.
    dialog.addEventListener("close", () => this.closed());
    // A click on the backdrop (outside the dialog's box) closes it too.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) this.close();
    });
  }

  get openId() {
    return this.dialog.open && this.task ? this.task.id : null;
  }

  /** Show one task; `opener` gets the focus back when the dialog closes. */
  async open(id, opener) {
    this.opener = opener;
    let task;
    try {
      task = await request("GET", `/api/v1/tasks/${encodeURIComponent(id)}`);
    } catch (error) {
      this.say(`Could not load the task: ${error.message}`, "error");
      return;
    }
    this.task = null;
    this.mediaKey = null;
    this.message.textContent = "";
    this.render(task);
    if (!this.dialog.open) {
      this.dialog.showModal();
      this.focusOwed = true;
    }
  }

  /** Close the dialog and put the focus back now, not when the close event
   * comes (a task later, when a deleted task's row may already be gone). */
  close() {
    this.dialog.close();
    this.returnFocus();
  }

  closed() {
    // Stop any video download the previews started.
    for (const video of this.media.querySelectorAll("video")) {
      video.removeAttribute("src");
      video.load();
    }
    this.facts.replaceChildren();
    this.media.replaceChildren();
    this.task = null;
    this.returnFocus();
  }

  returnFocus() {
    if (!this.focusOwed) return;
    this.focusOwed = false;
    // The opener's row may be gone (the task was deleted): fall back to the
    // task table's heading, so the focus never lands nowhere.
    const back = this.opener?.isConnected ? this.opener : this.fallbackFocus;
    back?.focus();
    this.opener = null;
  }

  /** Apply a `task` event to the open dialog, if it shows that task. */
  applyTask(task) {
    if (this.openId === task.id) this.render(task);
  }

  /** Apply a `task-deleted` event. */
  removeTask(id) {
    if (this.openId !== id) return;
    this.message.textContent = "This task has been deleted.";
    const hadFocus = this.actions.contains(document.activeElement);
    this.actions.replaceChildren();
    if (hadFocus) this.dialog.querySelector("#details-close").focus();
  }

  render(task) {
    this.task = task;
    this.title.textContent = task.filename;

    const sections = [this.summary(task), this.timeline(task), this.explanation(task)];
    if (task.error) {
      sections.push(
        el("section", { className: "task-error" }, [
          el("h3", { textContent: "Error" }),
          el("p", { textContent: task.error }),
        ]),
      );
    }
    this.facts.replaceChildren(...sections);

    // Previews are rebuilt only when what they show changes, so a progress
    // event does not restart a playing video.
    const mediaKey = `${task.id}:${task.status === "completed"}`;
    if (mediaKey !== this.mediaKey) {
      this.mediaKey = mediaKey;
      this.media.replaceChildren(...this.previews(task));
    }
    this.renderActions(task);
  }

  summary(task) {
    const output = task.output_name
      ? `${task.output_name} (${task.output_type || "?"}, ${bytes(task.output_size)})`
      : null;
    return el("section", {}, [
      el("h3", { textContent: "Task" }),
      list([
        field("Status", statusView(task)),
        field("Operation", operationText(task.operation)),
        field("File", `${task.kind}, ${task.content_type}, ${bytes(task.size)}`),
        field("Output", output),
        field("Tier and node", placeView(task)),
        field("Attempts", task.attempts),
        field("Task id", task.id),
        field("SHA-256", task.sha256),
      ]),
    ]);
  }

  timeline(task) {
    return el("section", {}, [
      el("h3", { textContent: "Timeline" }),
      list([
        field("Uploaded", timestamp(task.uploaded_at)),
        field("Scheduled", timestamp(task.scheduled_at)),
        field("Picked", timestamp(task.picked_at)),
        field("Started", timestamp(task.started_at)),
        field("Completed", timestamp(task.completed_at)),
        field("Queue wait", duration(task.queue_wait_ms)),
        field("Transfer", duration(task.transfer_ms)),
        field("Compute", duration(task.compute_ms)),
        field("Total", duration(task.total_ms)),
      ]),
    ]);
  }

  explanation(task) {
    const explanation = task.explanation;
    const heading = el("h3", { textContent: "Why it went there" });
    if (!explanation) {
      const note = el("p", { className: "muted", textContent: "Not placed yet." });
      return el("section", {}, [heading, note]);
    }
    const known = new Set(["q_values"]);
    const pairs = [];
    const q = qValues(explanation);
    if (q) {
      pairs.push(field("Q-value, edge", formatNumber(q.edge)));
      pairs.push(field("Q-value, cloud", formatNumber(q.cloud)));
    }
    for (const [key, label, format] of EXPLANATION_FIELDS) {
      known.add(key);
      if (key in explanation && explanation[key] !== null) {
        pairs.push(field(label, format(explanation[key])));
      }
    }
    for (const [key, value] of Object.entries(explanation)) {
      if (known.has(key) || value === null) continue;
      const text = typeof value === "object" ? JSON.stringify(value) : value;
      pairs.push(field(key.replaceAll("_", " "), text));
    }
    return el("section", {}, [heading, list(pairs)]);
  }

  previews(task) {
    const figures = [this.preview(task, "input", task.content_type)];
    if (task.status === "completed") {
      figures.push(this.preview(task, "output", task.output_type));
    }
    return [
      el("h3", { textContent: "Preview" }),
      el("div", { className: "preview-grid" }, figures),
    ];
  }

  preview(task, version, contentType) {
    const src = withToken(`/api/v1/tasks/${encodeURIComponent(task.id)}/${version}`);
    const label = `${version === "input" ? "Input" : "Output"}: ${task.filename}`;
    let media;
    if ((contentType || "").startsWith("image/")) {
      media = el("img", { src, alt: label, className: `preview-${version}` });
    } else if ((contentType || "").startsWith("video/")) {
      media = el("video", {
        src,
        controls: true,
        preload: "metadata",
        muted: true,
        className: `preview-${version}`,
        "aria-label": label,
      });
    } else {
      media = el("p", { className: "muted", textContent: "No preview for this type." });
    }
    return el("figure", {}, [
      media,
      el("figcaption", { textContent: version === "input" ? "Input" : "Output" }),
    ]);
  }

  renderActions(task) {
    const id = encodeURIComponent(task.id);
    const buttons = [];
    buttons.push(this.link("Download input", `/api/v1/tasks/${id}/input`));
    if (task.status === "completed") {
      buttons.push(this.link("Download output", `/api/v1/tasks/${id}/output`));
    }
    if (task.status === "uploaded") {
      buttons.push(this.action("Schedule", "POST", `/api/v1/tasks/${id}/schedule`));
    }
    if (task.status === "failed" || task.status === "cancelled") {
      buttons.push(this.action("Retry", "POST", `/api/v1/tasks/${id}/retry`));
    }
    if (!FINAL.has(task.status)) {
      buttons.push(this.action("Cancel", "POST", `/api/v1/tasks/${id}/cancel`));
    }
    buttons.push(this.action("Delete", "DELETE", `/api/v1/tasks/${id}`, "danger"));

    // Keep the focus on the same action when the buttons are rebuilt.
    const focused = this.actions.contains(document.activeElement)
      ? document.activeElement.textContent
      : null;
    this.actions.replaceChildren(...buttons);
    if (focused) {
      const again = buttons.find((button) => button.textContent === focused);
      (again || this.dialog.querySelector("#details-close")).focus();
    }
  }

  link(text, path) {
    return el("a", {
      className: "button secondary",
      href: withToken(path, { download: "1" }),
      textContent: text,
      download: "",
    });
  }

  action(text, method, path, kind = "secondary") {
    const button = el("button", { type: "button", className: kind, textContent: text });
    button.addEventListener("click", () => this.act(button, text, method, path));
    return button;
  }

  async act(button, text, method, path) {
    // aria-disabled, not disabled: the button keeps the keyboard focus.
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    const name = this.task ? this.task.filename : "";
    try {
      const result = await request(method, path);
      if (method === "DELETE") {
        this.close();
        this.say(`Deleted ${name}.`, "ok");
        return;
      }
      this.message.textContent = `${text}: done.`;
      if (result && result.id) this.render(result);
    } catch (error) {
      const reason = error instanceof ApiError ? error.message : String(error);
      this.message.textContent = `${text} failed: ${reason}`;
      button.setAttribute("aria-disabled", "false");
    }
  }
}

function formatNumber(value) {
  return typeof value === "number" ? value.toFixed(4) : String(value ?? "");
}
