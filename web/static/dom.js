// Small DOM and formatting helpers. Text from the server only ever goes into
// textContent or attributes, never into HTML.

/** Create an element with properties and children (strings become text). */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("aria-") || name === "role") {
      node.setAttribute(name, value);
    } else node[name] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/** Say something in the page's polite status region. */
export function say(text, kind = "") {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = kind ? `message ${kind}` : "message";
}

/** Milliseconds as a short duration ("", "850 ms", "2.31 s", "3 min 5 s"). */
export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A byte count for people ("812 B", "1.4 MB"). */
export function bytes(count) {
  if (count === null || count === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** An epoch-seconds time as local date and time with milliseconds. */
export function timestamp(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const date = new Date(seconds * 1000);
  const clock = date.toLocaleTimeString([], { hour12: false });
  const ms = String(date.getMilliseconds()).padStart(3, "0");
  return `${date.toLocaleDateString()} ${clock}.${ms}`;
}

/** An epoch-seconds time as a short clock reading for chart axes. */
export function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

/** The operation and its params as one short line ("resize width=100"). */
export function operationText(operation) {
  const params = Object.entries(operation.params || {})
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
  return params ? `${operation.name} ${params}` : operation.name;
}
