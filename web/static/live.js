// The live feed: server-sent events from /api/v1/events. While the stream is
// down (or the server has no events route) the page polls the list routes
// every POLL_MS instead, and tries the stream again with a growing delay.

import { withToken } from "./api.js";

const EVENTS_PATH = "/api/v1/events";
const EVENT_TYPES = ["task", "task-deleted", "node", "node-gone"];
const POLL_MS = 2000;
const BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * Connects to the event stream and reports to its owner:
 * - onEvent(type, data, replayed): one event; `replayed` is true for events
 *   that arrived while the owner was reloading and may predate what it loaded;
 * - onResync(): (re)load the current state; events wait until it is done;
 * - onPoll(): the degraded mode's periodic reload;
 * - onMode(mode): "connecting", "live" or "polling".
 */
export class LiveFeed {
  constructor({ onEvent, onResync, onPoll, onMode }) {
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.onPoll = onPoll;
    this.onMode = onMode;
    this.source = null;
    this.failures = 0;
    this.pollTimer = null;
    this.pollRun = null;
    this.buffer = null;
  }

  start() {
    this.onMode("connecting");
    this.connect();
  }

  connect() {
    const source = new EventSource(withToken(EVENTS_PATH));
    this.source = source;
    source.addEventListener("open", () => this.opened());
    source.addEventListener("error", () => this.dropped(source));
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => this.received(type, message));
    }
  }

  async opened() {
    this.failures = 0;
    this.stopPolling();
    this.onMode("live");

    // Changes made while we were away are not replayed by the server: load
    // the current state, holding the events that arrive meanwhile.
    const held = [];
    this.buffer = held;
    try {
      await this.onResync();
    } finally {
      // The stream may have dropped (and a new one started) meanwhile.
      if (this.buffer === held) this.buffer = null;
      for (const [type, data] of held) this.onEvent(type, data, true);
    }
  }

  dropped(source) {
    if (source !== this.source) return;
    // The browser would retry on its own at a fixed pace; we back off instead.
    source.close();
    this.source = null;
    this.buffer = null;
    this.onMode("polling");
    this.startPolling();

    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures += 1;
    setTimeout(() => this.connect(), delay);
  }

  received(type, message) {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch (error) {
      console.error(`malformed ${type} event from the server`, error);
      return;
    }
    if (this.buffer !== null) this.buffer.push([type, data]);
    else this.onEvent(type, data, false);
  }

  startPolling() {
    if (this.pollTimer !== null) return;
    // Each polling run has its own id, so a reload still in flight when
    // polling stops and starts again cannot start a second loop.
    const run = Symbol("poll");
    this.pollRun = run;
    const tick = async () => {
      try {
        await this.onPoll();
      } finally {
        if (this.pollRun === run) this.pollTimer = setTimeout(tick, POLL_MS);
      }
    };
    this.pollTimer = setTimeout(tick, 0);
  }

  stopPolling() {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pollRun = null;
  }
}
