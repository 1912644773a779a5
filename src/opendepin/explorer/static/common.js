// Shared helpers of the explorer's pages: reading the node's API, building DOM, formatting exact amounts.

/** GET a JSON document of this node's API; an error answer throws with its reason and message. */
export async function api(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = (body && body.detail) || {};
    const error = new Error(detail.message || `${response.status} ${response.statusText}`);
    error.reason = detail.reason || `http.${response.status}`;
    error.status = response.status;
    throw error;
  }
  return body;
}

/** An element: el("a", {href: "/"}, "text", child, …); attributes starting with "on" are listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A table: headers and rows of cells (strings or nodes). */
export function table(headers, rows, attrs = {}) {
  return el(
    "table",
    attrs,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((row) => (row instanceof Node ? row : el("tr", {}, row.map((c) => el("td", {}, c)))))),
  );
}

/** Definition list from [term, value] pairs. */
export function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

/** Replace the page's main content. */
export function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return main;
}

/** Tell the tests (and anyone watching) that the page finished drawing. */
export function ready(name) {
  document.body.dataset.ready = name;
}

export function showError(error) {
  show(el("p", { class: "error" }, `${error.reason ? error.reason + ": " : ""}${error.message}`));
  ready("error");
}

/** An amount of smallest units (a decimal string) in whole tokens, exactly (BigInt, no float). */
export function tokens(units, token, digits = 6) {
  if (units === null || units === undefined) return "–";
  const value = BigInt(units);
  const scale = 10n ** BigInt(token.decimals);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const whole = (abs / scale).toLocaleString("en-US");
  const fraction = (abs % scale).toString().padStart(token.decimals, "0").slice(0, digits);
  return `${sign}${whole}${fraction ? "." + fraction : ""} ${token.symbol}`;
}

/** Whole tokens as a float, for charts only. */
export function tokenFloat(units, token) {
  return Number(BigInt(units)) / 10 ** token.decimals;
}

/** A Unix time as an ISO UTC string without seconds' fraction. */
export function when(ts) {
  return ts === null || ts === undefined ? "–" : new Date(ts * 1000).toISOString().replace(".000Z", "Z");
}

/** A long id shortened for tables (the full id stays in the title). */
export function short(id, keep = 10) {
  if (!id || id.length <= keep * 2 + 1) return id;
  return el("span", { title: id }, `${id.slice(0, keep)}…${id.slice(-6)}`);
}

export function deviceLink(id) {
  return el("a", { href: `/devices/${encodeURIComponent(id)}` }, short(id, 16));
}

export function epochLink(number) {
  return el("a", { href: `/epochs/${number}` }, `epoch ${number}`);
}

/** Reason → count pairs as small badges. */
export function reasons(counts) {
  const entries = Object.entries(counts || {});
  if (!entries.length) return el("span", { class: "muted" }, "none");
  return el(
    "span",
    {},
    entries.map(([reason, count]) => el("span", { class: reason === "ok" ? "badge ok" : "badge bad" }, `${reason} × ${count}`)),
  );
}

/** Query-string parameter of the page URL. */
export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

/** The last path segment of the page URL (an epoch number, a device id). */
export function pathTail() {
  return decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
}
