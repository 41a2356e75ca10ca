// The nodes panel: every live edge and cloud node with its speed, backlog,
// load and the age of its last heartbeat, which ticks up between heartbeats.

import { get } from "./api.js";
import { duration, el } from "./dom.js";

const TICK_MS = 1000;
// A node this long without a heartbeat is shown as late (the server drops it
// after NODE_TTL_S; until then it is still listed).
const LATE_AFTER_S = 3;

function heartbeatAge(node) {
  return node.age_s ?? node.heartbeat_age_s ?? 0;
}

export class NodesPanel {
  constructor({ list, empty, summary }, { onError }) {
    this.list = list;
    this.empty = empty;
    this.summary = summary;
    this.onError = onError;
    // node_id -> { node, receivedAt, item, parts }
    this.nodes = new Map();
    setInterval(() => this.tick(), TICK_MS);
  }

  /** Replace every node with the server's current list. */
  async load() {
    let data;
    try {
      data = await get("/api/v1/nodes");
    } catch (error) {
      this.onError(`Could not load the nodes: ${error.message}`);
      return;
    }
    const seen = new Set();
    for (const node of data.nodes) {
      seen.add(node.node_id);
      this.applyNode(node);
    }
    for (const id of [...this.nodes.keys()]) {
      if (!seen.has(id)) this.removeNode(id);
    }
  }

  /** Apply a `node` event (a heartbeat). */
  applyNode(node) {
    let entry = this.nodes.get(node.node_id);
    if (!entry) {
      entry = this.build(node);
      this.nodes.set(node.node_id, entry);
      this.place(entry);
    }
    entry.node = node;
    entry.receivedAt = performance.now();
    this.fill(entry);
    this.renderSummary();
  }

  /** Apply a `node-gone` event. */
  removeNode(id) {
    const entry = this.nodes.get(id);
    if (!entry) return;
    entry.item.remove();
    this.nodes.delete(id);
    this.renderSummary();
  }

  build(node) {
    const value = () => el("dd");
    const parts = {
      speed: value(),
      backlog: value(),
      running: value(),
      queued: value(),
      done: value(),
      heartbeat: value(),
    };
    const facts = el("dl", { className: "node-facts" }, [
      el("dt", { textContent: "Speed" }),
      parts.speed,
      el("dt", { textContent: "Backlog" }),
      parts.backlog,
      el("dt", { textContent: "Running" }),
      parts.running,
      el("dt", { textContent: "Queued" }),
      parts.queued,
      el("dt", { textContent: "Done / failed" }),
      parts.done,
      el("dt", { textContent: "Heartbeat" }),
      parts.heartbeat,
    ]);
    const item = el("li", { className: `node tier-${node.tier}` }, [
      el("h3", {}, [
        el("span", { className: "node-name", textContent: node.node_id }),
        " ",
        el("span", { className: `badge tier-${node.tier}`, textContent: node.tier }),
      ]),
      facts,
    ]);
    item.dataset.nodeId = node.node_id;
    return { node, receivedAt: 0, item, parts };
  }

  /** Insert in order: edge nodes first, then cloud, each by id. */
  place(entry) {
    const key = (node) => `${node.tier === "edge" ? 0 : 1}:${node.node_id}`;
    const mine = key(entry.node);
    const after = [...this.nodes.values()].find(
      (other) => other !== entry && other.item.isConnected && key(other.node) > mine,
    );
    this.list.insertBefore(entry.item, after ? after.item : null);
  }

  fill(entry) {
    const { node, parts } = entry;
    parts.speed.textContent = `${Number(node.speed).toFixed(2)}×`;
    parts.backlog.textContent = duration(node.backlog_s * 1000) || "0 ms";
    parts.running.textContent = `${node.running} of ${node.capacity}`;
    parts.queued.textContent = String(node.queued);
    parts.done.textContent = `${node.completed} / ${node.failed}`;
    this.fillAge(entry);
  }

  fillAge(entry) {
    const sinceReceived = (performance.now() - entry.receivedAt) / 1000;
    const age = heartbeatAge(entry.node) + sinceReceived;
    entry.parts.heartbeat.textContent = `${age.toFixed(0)} s ago`;
    entry.item.classList.toggle("late", age > LATE_AFTER_S);
  }

  tick() {
    for (const entry of this.nodes.values()) this.fillAge(entry);
  }

  renderSummary() {
    let edge = 0;
    let cloud = 0;
    for (const { node } of this.nodes.values()) {
      if (node.tier === "edge") edge += 1;
      else cloud += 1;
    }
    this.empty.hidden = this.nodes.size > 0;
    this.summary.textContent = `${edge} edge, ${cloud} cloud`;
  }
}
