// Wires the page together: the upload form, the live task table, the details
// dialog, the nodes panel and the charts, all fed by one live feed.

import { get } from "./api.js";
import { Charts } from "./charts.js";
import { Details } from "./details.js";
import { say } from "./dom.js";
import { LiveFeed } from "./live.js";
import { NodesPanel } from "./nodes.js";
import { FINAL, TaskTable } from "./table.js";
import { Uploader } from "./upload.js";

const STATS_MS = 5000;
const STATS_SOON_MS = 1000;
const OPERATIONS_RETRY_MS = 3000;
const MODES = {
  connecting: "Connecting…",
  live: "Live",
  polling: "Live updates interrupted: refreshing every 2 s",
};

const byId = (id) => document.getElementById(id);
const showError = (text) => say(text, "error");

const table = new TaskTable(
  {
    body: byId("task-rows"),
    empty: byId("tasks-empty"),
    prev: byId("prev-page"),
    next: byId("next-page"),
    info: byId("page-info"),
    counters: byId("counters"),
    status: byId("filter-status"),
    tier: byId("filter-tier"),
    size: byId("page-size"),
    heading: byId("tasks-heading"),
  },
  { onOpen: (id, button) => details.open(id, button), onError: showError },
);

const details = new Details(byId("details"), {
  say,
  fallbackFocus: byId("tasks-heading"),
});

const nodes = new NodesPanel(
  {
    list: byId("node-list"),
    empty: byId("nodes-empty"),
    summary: byId("nodes-summary"),
  },
  { onError: showError },
);

function chartParts() {
  const parts = {};
  for (const name of ["share", "scatter", "latency", "throughput"]) {
    parts[name] = {
      canvas: byId(`chart-${name}`),
      summary: byId(`chart-${name}-summary`),
    };
  }
  return parts;
}

let charts = null;
try {
  charts = new Charts(chartParts());
} catch (error) {
  byId("stats-note").textContent = error.message;
  byId("stats-note").hidden = false;
}

let statsTimer = null;
let statsDue = 0;

/** Refresh the charts and counters in `delayMs`, unless one is due sooner. */
function statsIn(delayMs) {
  const due = performance.now() + delayMs;
  if (statsTimer !== null && statsDue <= due) return;
  clearTimeout(statsTimer);
  statsDue = due;
  statsTimer = setTimeout(refreshStats, delayMs);
}

async function refreshStats() {
  statsTimer = null;
  const note = byId("stats-note");
  try {
    if (!document.hidden) {
      const stats = await get("/api/v1/stats");
      charts?.update(stats);
      table.setCounts(stats);
      note.hidden = true;
    }
  } catch (error) {
    note.textContent = `The charts are waiting for the statistics: ${error.message}`;
    note.hidden = false;
  } finally {
    statsIn(STATS_MS);
  }
}

async function loadOperations() {
  try {
    const catalog = await get("/api/v1/operations");
    new Uploader(
      {
        form: byId("upload-form"),
        input: byId("files"),
        dropZone: byId("drop-zone"),
        list: byId("file-list"),
        count: byId("file-count"),
        scheduleAll: byId("schedule-all"),
        image: {
          select: byId("image-operation"),
          help: byId("image-operation-help"),
          params: byId("image-params"),
        },
        video: {
          select: byId("video-operation"),
          help: byId("video-operation-help"),
          params: byId("video-params"),
        },
      },
      catalog,
    );
  } catch (error) {
    showError(`Could not load the operations: ${error.message}`);
    setTimeout(loadOperations, OPERATIONS_RETRY_MS);
  }
}

function reloadAll() {
  return Promise.all([table.reload(), nodes.load()]);
}

const feed = new LiveFeed({
  onEvent(type, data, replayed) {
    if (type === "task") {
      table.applyTask(data, replayed);
      details.applyTask(data);
      // A task that just finished moves the charts: redraw them soon.
      if (FINAL.has(data.status)) statsIn(STATS_SOON_MS);
    } else if (type === "task-deleted") {
      table.removeTask(data.id);
      details.removeTask(data.id);
    } else if (type === "node") {
      nodes.applyNode(data);
    } else if (type === "node-gone") {
      nodes.removeNode(data.node_id);
    }
  },
  onResync: reloadAll,
  onPoll: reloadAll,
  onMode(mode) {
    const status = byId("connection");
    status.dataset.mode = mode;
    status.querySelector(".connection-text").textContent = MODES[mode];
  },
});

loadOperations();
reloadAll();
feed.start();
refreshStats();
