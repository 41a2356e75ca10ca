// The live task table. It holds one page of rows at a time (cursor paging):
// events update the visible rows in place and adjust the status counters;
// tasks on other pages are never rendered, however many there are.

import { get } from "./api.js";
import { bytes, duration, el, operationText } from "./dom.js";

export const STATUSES = [
  "uploaded",
  "scheduled",
  "placed",
  "running",
  "completed",
  "failed",
  "cancelled",
];
export const FINAL = new Set(["completed", "failed", "cancelled"]);
// After rows come or go, the page is reloaded this soon: it fills a gap left
// by a removed row and renews the next page's cursor (which the server makes).
const REFRESH_DELAY_MS = 800;

/** The server's order: newest upload first, ties broken by id. */
function compare(a, b) {
  const byTime = (b.uploaded_at ?? 0) - (a.uploaded_at ?? 0);
  if (byTime !== 0) return byTime;
  if (a.id === b.id) return 0;
  return a.id < b.id ? -1 : 1;
}

/** How far along a copy of a record is: latest timestamp, end state, progress. */
function freshness(task) {
  const times = [
    task.uploaded_at,
    task.scheduled_at,
    task.picked_at,
    task.started_at,
    task.completed_at,
  ].filter((value) => typeof value === "number");
  return [
    times.length ? Math.max(...times) : 0,
    FINAL.has(task.status) ? 1 : 0,
    task.progress ?? -1,
  ];
}

/** Whether `candidate` is an older copy of the record than `current`. */
export function isOlder(candidate, current) {
  const a = freshness(candidate);
  const b = freshness(current);
  for (let i = 0; i < a.length; i += 1) {
    if (a[i] !== b[i]) return a[i] < b[i];
  }
  return false;
}

/** A status as a badge, with a progress bar while a video is processed. */
export function statusView(task) {
  const badge = el("span", {
    className: `badge status-${task.status}`,
    textContent: task.status,
  });
  const parts = [badge];
  if (task.status === "running" && typeof task.progress === "number") {
    const percent = Math.round(task.progress * 100);
    parts.push(
      el("progress", {
        className: "processing",
        max: 1,
        value: task.progress,
        "aria-label": `Processing ${percent}%`,
      }),
      el("span", { className: "percent", textContent: `${percent}%` }),
    );
  }
  return parts;
}

/** The tier as a badge, then the node's id. */
export function placeView(task) {
  if (!task.tier) return [el("span", { className: "muted", textContent: "not yet" })];
  return [
    el("span", { className: `badge tier-${task.tier}`, textContent: task.tier }),
    " ",
    el("span", { className: "node-id", textContent: task.node_id || "" }),
  ];
}

export class TaskTable {
  /**
   * `parts`: the table body, empty-state text, pager buttons and info, the
   * counters list and the filter selects; `onOpen(id, button)` shows details.
   */
  constructor(parts, { onOpen, onError }) {
    this.parts = parts;
    this.onOpen = onOpen;
    this.onError = onError;
    this.rows = new Map();
    this.order = [];
    this.cursors = [null];
    this.nextCursor = null;
    this.total = null;
    this.counts = null;
    this.statusById = new Map();
    this.loadSeq = 0;
    this.refreshTimer = null;
    // Live changes that arrive while a page is loading, applied again once
    // it is shown: the server may have read the page before they happened.
    this.missedWhileLoading = null;

    parts.prev.addEventListener("click", () => this.previousPage());
    parts.next.addEventListener("click", () => this.nextPage());
    for (const select of [parts.status, parts.tier, parts.size]) {
      select.addEventListener("change", () => this.filtersChanged());
    }
    this.buildCounters();
    this.renderCounters();
  }

  get pageIndex() {
    return this.cursors.length - 1;
  }

  get pageSize() {
    return Number(this.parts.size.value);
  }

  matches(task) {
    const { status, tier } = this.parts;
    return (
      (!status.value || task.status === status.value) &&
      (!tier.value || task.tier === tier.value)
    );
  }

  filtersChanged() {
    this.cursors = [null];
    this.renderCounters();
    this.reload();
  }

  async nextPage() {
    // Rows came or went since the page loaded: its cursor may be stale.
    if (this.refreshTimer !== null) await this.reload();
    if (this.nextCursor === null) return;
    this.cursors.push(this.nextCursor);
    this.reload();
  }

  previousPage() {
    if (this.cursors.length === 1) return;
    this.cursors.pop();
    this.reload();
  }

  /** Load the current page again from the server. */
  async reload() {
    const seq = ++this.loadSeq;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.missedWhileLoading = [];
    let data;
    try {
      data = await get("/api/v1/tasks", {
        status: this.parts.status.value,
        tier: this.parts.tier.value,
        limit: this.pageSize,
        cursor: this.cursors[this.pageIndex],
      });
    } catch (error) {
      if (seq === this.loadSeq) this.missedWhileLoading = null;
      this.onError(`Could not load the tasks: ${error.message}`);
      return;
    }
    // A newer load (another page or filter) started meanwhile: it wins.
    if (seq !== this.loadSeq) return;
    const missed = this.missedWhileLoading;
    this.missedWhileLoading = null;
    this.show(data);
    // Copies older than the page's are skipped, so a change the page
    // already holds is not undone.
    for (const change of missed) {
      if (change.deleted) {
        if (this.rows.has(change.id)) this.removeRow(change.id);
      } else {
        this.placeRow(change, true);
      }
    }
  }

  show(data) {
    // Rebuilding the rows must not take the focus from a keyboard user.
    const focused = this.parts.body.contains(document.activeElement)
      ? document.activeElement.closest("tr")?.dataset.taskId
      : null;
    this.order = data.tasks;
    this.nextCursor = data.next_cursor ?? null;
    this.total = typeof data.total === "number" ? data.total : null;
    this.rows.clear();
    const trs = [];
    for (const task of this.order) {
      this.statusById.set(task.id, task.status);
      const row = this.buildRow(task);
      this.rows.set(task.id, row);
      trs.push(row.tr);
    }
    this.parts.body.replaceChildren(...trs);
    this.renderPager();
    if (focused) {
      const row = this.rows.get(focused);
      (row ? row.fileButton : this.parts.heading).focus();
    }
  }

  /** Apply a `task` event; `replayed` events may be older than what is shown. */
  applyTask(task, replayed = false) {
    this.count(task.id, task.status);
    this.missedWhileLoading?.push(task);
    this.placeRow(task, replayed);
  }

  /** Show, update or drop a task's row as the page and filters say. */
  placeRow(task, replayed) {
    const row = this.rows.get(task.id);
    if (row) {
      if (replayed && isOlder(task, row.task)) return;
      if (!this.matches(task)) {
        this.removeRow(task.id);
        return;
      }
      row.task = task;
      this.order[this.order.findIndex((t) => t.id === task.id)] = task;
      this.fillRow(row);
      return;
    }
    if (this.matches(task)) this.insert(task);
  }

  /** Apply a `task-deleted` event. */
  removeTask(id) {
    this.count(id, null);
    this.missedWhileLoading?.push({ id, deleted: true });
    if (this.rows.has(id)) this.removeRow(id);
  }

  /** Take the counters from GET /api/v1/stats (the truth every few seconds). */
  setCounts(stats) {
    this.counts = {
      total: stats.total,
      byStatus: { ...stats.by_status },
    };
    this.renderCounters();
  }

  // --- keeping the page in order ---------------------------------------------

  insert(task) {
    let position = this.order.findIndex((shown) => compare(task, shown) < 0);
    if (position === -1) position = this.order.length;

    // A task sorting before this page's first row belongs to an earlier page;
    // one sorting after its last row, to a later page.
    if (position === 0 && this.pageIndex > 0 && this.order.length > 0) return;
    if (position === this.order.length && this.nextCursor !== null) return;
    if (position === this.order.length && this.order.length >= this.pageSize) {
      // A full last page gains a next page.
      this.refreshSoon();
      return;
    }

    const row = this.buildRow(task);
    this.rows.set(task.id, row);
    const before = this.order[position];
    this.order.splice(position, 0, task);
    this.parts.body.insertBefore(row.tr, before ? this.rows.get(before.id).tr : null);

    if (this.order.length > this.pageSize) {
      const dropped = this.rows.get(this.order.pop().id);
      const hadFocus = dropped.tr.contains(document.activeElement);
      dropped.tr.remove();
      this.rows.delete(dropped.task.id);
      if (hadFocus) this.rows.get(this.order.at(-1).id).fileButton.focus();
      this.refreshSoon();
    }
    if (this.total !== null) this.total += 1;
    this.renderPager();
  }

  removeRow(id) {
    const index = this.order.findIndex((task) => task.id === id);
    const row = this.rows.get(id);
    const hadFocus = row.tr.contains(document.activeElement);
    row.tr.remove();
    this.rows.delete(id);
    this.order.splice(index, 1);
    if (hadFocus) {
      // The focus moves to the row that took this one's place, never to <body>.
      const next = this.order[Math.min(index, this.order.length - 1)];
      (next ? this.rows.get(next.id).fileButton : this.parts.heading).focus();
    }
    if (this.total !== null) this.total -= 1;
    this.renderPager();
    this.refreshSoon();
  }

  refreshSoon() {
    // Not pushed back by later changes: a steady stream still gets reloads.
    if (this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(() => this.reload(), REFRESH_DELAY_MS);
  }

  // --- rows ------------------------------------------------------------------

  buildRow(task) {
    const fileButton = el("button", { type: "button", className: "file-button" });
    fileButton.addEventListener("click", () => this.onOpen(row.task.id, fileButton));
    const fileMeta = el("span", { className: "file-meta" });
    const cells = {
      file: el("td", { className: "file", dataset: { label: "File" } }, [
        fileButton,
        fileMeta,
      ]),
      operation: el("td", { dataset: { label: "Operation" } }),
      status: el("td", { className: "status", dataset: { label: "Status" } }),
      place: el("td", { dataset: { label: "Tier and node" } }),
      queue: el("td", { className: "num", dataset: { label: "Queue wait" } }),
      transfer: el("td", { className: "num", dataset: { label: "Transfer" } }),
      compute: el("td", { className: "num", dataset: { label: "Compute" } }),
      total: el("td", { className: "num", dataset: { label: "Total" } }),
    };
    const tr = el("tr", { dataset: { taskId: task.id } }, Object.values(cells));
    const row = { task, tr, cells, fileButton, fileMeta };
    this.fillRow(row);
    return row;
  }

  fillRow(row) {
    const { task, cells } = row;
    // Only text changes: a focused file button keeps its focus.
    setText(row.fileButton, task.filename);
    row.fileButton.title = `Details of ${task.filename}`;
    setText(row.fileMeta, `${task.kind} · ${bytes(task.size)}`);
    setText(cells.operation, operationText(task.operation));
    // One wrapper per cell, so the phone layout's label and value stay two.
    cells.status.replaceChildren(el("span", {}, statusView(task)));
    cells.place.replaceChildren(el("span", {}, placeView(task)));
    setText(cells.queue, duration(task.queue_wait_ms));
    setText(cells.transfer, duration(task.transfer_ms));
    setText(cells.compute, duration(task.compute_ms));
    setText(cells.total, duration(task.total_ms));
    row.tr.dataset.status = task.status;
  }

  // --- counters and pager ----------------------------------------------------

  /** Move one task between status counters; `status` null means deleted. */
  count(id, status) {
    const before = this.statusById.get(id);
    if (status === null) this.statusById.delete(id);
    else this.statusById.set(id, status);
    if (this.counts === null || before === status) return;

    const byStatus = this.counts.byStatus;
    if (before !== undefined) {
      byStatus[before] = Math.max((byStatus[before] ?? 0) - 1, 0);
      if (status === null) this.counts.total = Math.max(this.counts.total - 1, 0);
    } else if (status === "uploaded" || status === "scheduled") {
      // Unknown until now and just uploaded: a new task. Other unknown tasks
      // wait for the next stats refresh, which corrects every counter.
      this.counts.total += 1;
    } else {
      return;
    }
    if (status !== null) byStatus[status] = (byStatus[status] ?? 0) + 1;
    this.renderCounters();
  }

  /** One button per status (and "all"), built once and updated in place. */
  buildCounters() {
    this.counterButtons = new Map();
    const items = ["", ...STATUSES].map((value) => {
      const text = value || "all";
      const label = el("span", { className: "counter-label", textContent: text });
      const number = el("span", { className: "counter-number", textContent: "–" });
      const className = value ? `counter status-${value}` : "counter";
      const button = el("button", { type: "button", className }, [label, " ", number]);
      button.addEventListener("click", () => {
        this.parts.status.value = value;
        this.filtersChanged();
      });
      this.counterButtons.set(value, { button, number });
      return el("li", {}, [button]);
    });
    this.parts.counters.replaceChildren(...items);
  }

  renderCounters() {
    const counts = this.counts;
    const chosen = this.parts.status.value;
    for (const [value, { button, number }] of this.counterButtons) {
      let figure = null;
      if (counts) figure = value ? (counts.byStatus[value] ?? 0) : counts.total;
      setText(number, figure === null ? "–" : figure.toLocaleString());
      button.setAttribute("aria-pressed", String(chosen === value));
    }
  }

  renderPager() {
    const { prev, next, info, empty } = this.parts;
    const focused = document.activeElement;
    prev.disabled = this.pageIndex === 0;
    next.disabled = this.nextCursor === null;
    // A pager button that just became disabled would drop the keyboard focus.
    if (focused === prev && prev.disabled) (next.disabled ? info : next).focus();
    if (focused === next && next.disabled) (prev.disabled ? info : prev).focus();

    const filtered = this.parts.status.value || this.parts.tier.value;
    empty.hidden = this.order.length > 0;
    empty.textContent = filtered ? "No tasks match these filters." : "No tasks yet.";

    const first = this.pageIndex * this.pageSize + 1;
    const last = this.pageIndex * this.pageSize + this.order.length;
    let text = `Page ${this.pageIndex + 1}`;
    if (this.order.length > 0) {
      text += ` · tasks ${first.toLocaleString()}–${last.toLocaleString()}`;
    }
    if (this.total !== null) text += ` of ${this.total.toLocaleString()}`;
    info.textContent = text;
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
