// A device: identity, status, ingest rejections, reward history with the formula behind every amount,
// and its reports with their verdicts.
import { api, el, show, ready, showError, tokens, tokenFloat, when, facts, table, reasons, pathTail, epochLink, short } from "./common.js";
import { chart } from "./chart.js";

function attributes(map) {
  const entries = Object.entries(map || {});
  if (!entries.length) return el("span", { class: "muted" }, "none");
  return el("span", {}, entries.map(([k, v]) => el("span", { class: "badge" }, `${k} = ${v}`)));
}

function rejectionsSection(rejections) {
  const counted = Object.entries(rejections.counted || {});
  const samples = rejections.samples || [];
  return el(
    "section",
    { id: "rejections" },
    el("h2", {}, "Ingest rejections"),
    el("p", { class: "muted" }, "Reports the node refused before any verdict. Counted exactly once the device's signature verified; reports that named this device but failed their signature are shown from the node's kept samples (anyone can send those)."),
    counted.length
      ? table(["reason (authenticated)", "count"], counted.map(([r, n]) => [el("span", { class: "badge bad" }, r), String(n)]), { id: "rejections-counted" })
      : el("p", { class: "muted" }, "No authenticated rejection."),
    samples.length
      ? table(
          ["received", "reason", "message", "report id", "signature"],
          samples.map((s) => [when(s.received_at), el("span", { class: "badge bad" }, s.reason), s.message, short(s.report_id || "–", 8), s.authenticated ? "verified" : "not verified"]),
          { id: "rejections-samples" },
        )
      : el("p", { class: "muted" }, "No kept sample names this device."),
  );
}

/** BigInt recomputation of one category's amount from the formula's inputs. */
function recompute(c) {
  const units = BigInt(c.units), total = BigInt(c.total_units);
  let amount = units > 0n && total > 0n ? (BigInt(c.pool) * units) / total : 0n;
  if (c.cap_units !== null) amount = amount < BigInt(c.cap_units) ? amount : BigInt(c.cap_units);
  return amount;
}

function breakdown(map) {
  return el("ul", { class: "plain small" }, Object.entries(map || {}).map(([k, v]) => el("li", {}, `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)));
}

function epochBlock(item, token, owner) {
  const rows = item.categories.map((c) => {
    const mine = recompute(c);
    const same = mine === BigInt(c.amount);
    return el(
      "tr",
      { class: "reward-row", dataset: { category: c.category, amount: c.amount, recomputed: mine.toString() } },
      el("td", {}, c.category),
      el("td", {}, tokens(c.pool, token)),
      el("td", {}, String(c.units)),
      el("td", {}, String(c.total_units)),
      el("td", {}, c.cap_units === null ? "–" : tokens(c.cap_units, token)),
      el("td", {}, el("code", { class: "formula" }, `⌊${c.pool} × ${c.units} ÷ ${c.total_units}⌋${c.cap_units === null ? "" : " (≤ cap)"} = ${mine}`)),
      el("td", {}, tokens(c.amount, token)),
      el("td", { class: same ? "ok" : "bad" }, same ? "✓ reproduces" : "✗ differs"),
      el("td", {}, breakdown(c.breakdown)),
    );
  });
  const sum = item.categories.reduce((acc, c) => acc + BigInt(c.amount), 0n);
  return el(
    "div",
    { class: "epoch-block", dataset: { epoch: item.epoch, amount: item.amount, sum: sum.toString() } },
    el("h3", {}, epochLink(item.epoch), ` · ${when(item.start)} → ${when(item.end)} · earned `, el("strong", { class: "epoch-amount" }, tokens(item.amount, token))),
    item.categories.length
      ? el(
          "table",
          { class: "rewards" },
          el("thead", {}, el("tr", {}, ["category", "pool", "units", "total units", "cap", "formula", "paid", "", "multipliers"].map((h) => el("th", {}, h)))),
          el("tbody", {}, rows),
          el("tfoot", {}, el("tr", {}, el("td", { colspan: 6 }, "epoch total (sum of categories)"), el("td", { class: "epoch-sum" }, tokens(sum.toString(), token)), el("td", {}, sum === BigInt(item.amount) ? "✓" : "✗"), el("td", {}))),
        )
      : el("p", { class: "muted" }, "No units in any category this epoch."),
    BigInt(item.amount) > 0n
      ? el("p", {}, "The owner's cumulative amount is a leaf of the epoch's Merkle tree: ",
          el("a", { class: "verify-link", href: `/epochs/${item.epoch}?owner=${encodeURIComponent(owner)}#verify` }, "verify it against the root in this browser"),
          " (it adds up every device of the owner over every epoch so far).")
      : null,
    el("p", {}, "verdicts: ", reasons(item.reports_by_reason), " · notes: ", item.notes.length ? item.notes.map((n) => el("span", { class: "badge bad", title: JSON.stringify(n.evidence) }, n.reason)) : el("span", { class: "muted" }, "none"), " · rejections: ", reasons(item.rejections)),
  );
}

async function rewardsSection(id, token, owner) {
  const history = el("div", { id: "reward-history" });
  const chartBox = el("div", {});
  const items = [];
  let next = null;
  const more = el("button", { type: "button", id: "older", onclick: () => load(next) }, "older epochs");
  async function load(before) {
    const page = await api(`/v1/devices/${encodeURIComponent(id)}/rewards${before === null ? "" : `?before=${before}`}`);
    items.push(...page.items);
    page.items.forEach((item) => history.append(epochBlock(item, token, owner)));
    next = page.next;
    more.hidden = next === null;
    const ordered = [...items].reverse();
    chartBox.replaceChildren(chart({
      title: "earned per epoch", unit: token.symbol, kind: "bar",
      labels: ordered.map((i) => i.epoch),
      series: [{ name: "earned", colour: "#31a354", values: ordered.map((i) => tokenFloat(i.amount, token)) }],
    }));
  }
  await load(null);
  return el(
    "section",
    {},
    el("h2", {}, "Rewards"),
    el("p", { class: "muted" }, "Each amount is ⌊pool × the device's units ÷ the units of every device⌋ in its category (at most the cap for usage); this page recomputes it from those inputs with exact integers. The multipliers are what made the device's units."),
    chartBox,
    history,
    more,
  );
}

async function reportsSection(id, epoch) {
  if (epoch === null || epoch === undefined) return el("section", {}, el("h2", {}, "Reports"), el("p", { class: "muted" }, "No closed epoch yet."));
  const body = el("tbody", {});
  let next = null;
  const more = el("button", { type: "button", onclick: () => load(next) }, "more reports");
  const head = el("p", { class: "muted" });
  async function load(after) {
    const page = await api(`/v1/devices/${encodeURIComponent(id)}/reports?epoch=${epoch}${after === null ? "" : `&after=${after}`}`);
    head.textContent = `${page.total} accepted reports in epoch ${epoch}, each with its verdict and evidence.`;
    for (const r of page.items) {
      body.append(el("tr", {}, el("td", {}, when(r.ts)), el("td", {}, r.kind), el("td", {}, String(r.seq)),
        el("td", {}, el("span", { class: r.reason === "ok" ? "badge ok" : "badge bad" }, r.reason)),
        el("td", { class: "small" }, JSON.stringify(r.evidence))));
    }
    next = page.next;
    more.hidden = next === null;
  }
  await load(null);
  return el("section", { id: "reports" }, el("h2", {}, `Reports of epoch ${epoch}`), head,
    el("table", {}, el("thead", {}, el("tr", {}, ["device time", "kind", "seq", "verdict", "evidence"].map((h) => el("th", {}, h)))), body), more);
}

async function main() {
  try {
    const id = pathTail();
    const device = await api(`/v1/devices/${encodeURIComponent(id)}/overview`);
    const token = device.token;
    if (!device.registered) {
      show(el("h1", {}, "Unregistered device"), el("p", {}, el("code", {}, id)),
        el("p", {}, "The node knows no such device; these refused reports named it."), rejectionsSection(device.rejections));
      ready("device");
      return;
    }
    const status = device.status;
    show(
      el("h1", {}, "Device"),
      el("p", {}, el("code", { id: "device-id" }, device.device_id)),
      el("section", {}, el("h2", {}, "Identity"), facts([
        ["key", `${device.key_type} ${device.public_key}`],
        ["owner", el("code", {}, device.owner)],
        ["maker", el("span", {}, device.maker_name ? `${device.maker_name} ` : "", el("code", {}, device.maker))],
        ["location (H3)", device.location ?? "–"],
        ["onboarded", when(device.onboarded_at)],
        ["attested by the maker", attributes(device.attributes.maker)],
        ["stated by the owner", attributes(device.attributes.owner)],
        ["maker signature", el("code", { class: "small" }, device.onboarding.maker_signature ?? "–")],
        ["owner's location signature", el("code", { class: "small" }, device.onboarding.location_signature ?? "–")],
      ])),
      el("section", {}, el("h2", {}, "Status"), facts([
        ["state", el("span", { id: "device-state" }, status.state)],
        ["latest closed epoch", status.epoch === null ? "–" : epochLink(status.epoch)],
        ["valid / invalid reports", status.epoch === null ? "–" : `${status.valid_reports} / ${status.invalid_reports}`],
        ["notes", status.notes && status.notes.length ? status.notes.join(", ") : "none"],
        ["earned", status.epoch === null ? "–" : tokens(status.reward, token)],
      ])),
      rejectionsSection(device.rejections),
      await rewardsSection(id, token, device.owner),
      await reportsSection(id, status.epoch),
    );
    ready("device");
  } catch (error) {
    showError(error);
  }
}

main();
