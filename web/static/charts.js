// Charts of the whole run from GET /api/v1/stats, drawn with the vendored
// Chart.js (a classic script that defines window.Chart). Every chart also has
// a one-line text summary in its caption, for people who do not see it.

import { bytes, clock, duration } from "./dom.js";

const COLORS = { edge: "#0f766e", cloud: "#2563eb" };
const TIERS = ["edge", "cloud"];
const TITLE = { edge: "Edge", cloud: "Cloud" };

function baseOptions() {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
  };
}

function percent(part, whole) {
  return whole ? Math.round((100 * part) / whole) : 0;
}

export class Charts {
  /** `parts`: one canvas and one caption element per chart. */
  constructor(parts) {
    if (typeof window.Chart !== "function") {
      throw new Error("Chart.js did not load (static/vendor/chart.umd.js)");
    }
    this.parts = parts;
    const Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#4b5563";

    this.share = new Chart(parts.share.canvas, {
      type: "doughnut",
      data: {
        labels: TIERS.map((tier) => TITLE[tier]),
        datasets: [{ data: [0, 0], backgroundColor: TIERS.map((t) => COLORS[t]) }],
      },
      options: baseOptions(),
    });

    this.scatter = new Chart(parts.scatter.canvas, {
      type: "scatter",
      data: { datasets: TIERS.map((tier) => this.series(tier)) },
      options: {
        ...baseOptions(),
        scales: {
          x: {
            type: "logarithmic",
            title: { display: true, text: "file size" },
            ticks: {
              callback: (value) => bytes(value),
              maxTicksLimit: 5,
              maxRotation: 0,
            },
          },
          y: {
            beginAtZero: true,
            title: { display: true, text: "completion time (s)" },
          },
        },
      },
    });

    this.latency = new Chart(parts.latency.canvas, {
      type: "line",
      data: { datasets: TIERS.map((tier) => this.series(tier)) },
      options: {
        ...baseOptions(),
        spanGaps: false,
        scales: {
          x: {
            type: "linear",
            bounds: "data",
            ticks: {
              callback: (value) => clock(value),
              maxTicksLimit: 4,
              maxRotation: 0,
            },
          },
          y: {
            beginAtZero: true,
            title: { display: true, text: "mean total (s)" },
          },
        },
      },
    });

    this.throughput = new Chart(parts.throughput.canvas, {
      type: "bar",
      data: { labels: [], datasets: TIERS.map((tier) => this.series(tier)) },
      options: {
        ...baseOptions(),
        scales: {
          x: { stacked: true, ticks: { maxTicksLimit: 4, maxRotation: 0 } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { precision: 0 },
            title: { display: true, text: "completed" },
          },
        },
      },
    });
  }

  series(tier) {
    return {
      label: TITLE[tier],
      data: [],
      backgroundColor: COLORS[tier],
      borderColor: COLORS[tier],
      pointRadius: 3,
    };
  }

  /** Draw a fresh GET /api/v1/stats answer. */
  update(stats) {
    this.updateShare(stats.by_tier || {});
    this.updateScatter(stats.size_vs_time || []);
    this.updateLatency(stats.timeline || [], stats.latency_ms || {});
    this.updateThroughput(stats.timeline || []);
  }

  updateShare(byTier) {
    const counts = TIERS.map((tier) => byTier[tier] ?? 0);
    this.share.data.datasets[0].data = counts;
    this.share.update();
    const whole = counts[0] + counts[1];
    const text = whole
      ? TIERS.map(
          (tier, i) => `${TITLE[tier]} ${counts[i]} (${percent(counts[i], whole)}%)`,
        ).join(", ")
      : "No task has been placed yet.";
    this.caption("share", text);
  }

  updateScatter(points) {
    TIERS.forEach((tier, i) => {
      this.scatter.data.datasets[i].data = points
        .filter((point) => point.tier === tier && point.size > 0)
        .map((point) => ({ x: point.size, y: point.total_ms / 1000 }));
    });
    this.scatter.update();
    const text = points.length
      ? `${points.length} completed tasks, by size and time to complete.`
      : "No completed task yet.";
    this.caption("scatter", text);
  }

  updateLatency(timeline, latency) {
    TIERS.forEach((tier, i) => {
      this.latency.data.datasets[i].data = timeline.map((bucket) => {
        const mean = bucket.mean_total_ms?.[tier];
        return { x: bucket.t, y: typeof mean === "number" ? mean / 1000 : null };
      });
    });
    this.latency.update();
    const parts = TIERS.filter((tier) => latency[tier]?.count).map((tier) => {
      const figures = latency[tier];
      const p50 = duration(figures.p50);
      return `${TITLE[tier]}: p50 ${p50}, p95 ${duration(figures.p95)}`;
    });
    this.caption("latency", parts.length ? parts.join("; ") : "No latency yet.");
  }

  updateThroughput(timeline) {
    this.throughput.data.labels = timeline.map((bucket) => clock(bucket.t));
    TIERS.forEach((tier, i) => {
      this.throughput.data.datasets[i].data = timeline.map(
        (bucket) => bucket.completed?.[tier] ?? 0,
      );
    });
    this.throughput.update();
    let total = 0;
    for (const bucket of timeline) {
      for (const tier of TIERS) total += bucket.completed?.[tier] ?? 0;
    }
    this.caption("throughput", `${total} completed in the period shown.`);
  }

  caption(name, text) {
    const { canvas, summary } = this.parts[name];
    summary.textContent = text;
    canvas.setAttribute("aria-label", `${canvas.dataset.title}: ${text}`);
  }
}
