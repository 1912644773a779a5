// The network: supply, burn against mint, revenue against incentives, devices joining and leaving, ingest lag.
import { api, el, show, ready, showError, tokens, tokenFloat, when, facts, table } from "./common.js";
import { chart } from "./chart.js";

async function main() {
  try {
    const data = await api("/v1/network");
    const token = data.token;
    const rows = data.epochs;
    const labels = rows.map((r) => r.epoch);
    const series = (name, colour, pick) => ({ name, colour, values: rows.map(pick) });
    const amount = (key) => (r) => tokenFloat(r[key], token);
    const charts = rows.length
      ? [
          chart({ title: "mint and burn", unit: token.symbol, labels, kind: "bar", series: [series("paid (minted on claim)", "#31a354", amount("paid")), series("burned for credits", "#e6550d", amount("burned"))] }),
          chart({ title: "supply", unit: token.symbol, labels, series: [series("supply", "#3182bd", amount("supply"))] }),
          chart({ title: "revenue and incentives", unit: "USD", labels, series: [series("revenue", "#e6550d", (r) => Number(r.revenue_usd)), series("incentives", "#31a354", (r) => Number(r.incentives_usd))] }),
          chart({ title: "devices", labels, series: [series("active", "#3182bd", (r) => r.devices_active), series("joined", "#31a354", (r) => r.devices_joined), series("left", "#c62828", (r) => r.devices_left)] }),
          chart({ title: "ingest lag", unit: "s", labels, series: [series("p50", "#3182bd", (r) => r.lag_p50_s), series("p95", "#9e9ac8", (r) => r.lag_p95_s)] }),
        ]
      : [el("p", { class: "muted" }, "No epoch is closed yet.")];
    show(
      el("h1", {}, `Network ${data.network}`),
      facts([
        ["devices onboarded", String(data.devices)],
        ["open epoch", String(data.next_epoch)],
        ["node clock", when(data.now)],
        ["last report received", when(data.last_report_received)],
        ["ingest lag now", data.last_report_received === null ? "–" : `${data.now - data.last_report_received} s since the last report`],
        ["token supply on chain", data.chain ? tokens(data.chain_total_supply, token) : "no chain connected"],
      ]),
      el("div", { class: "charts", id: "charts" }, charts),
      el("h2", {}, "Per epoch"),
      table(
        ["epoch", "emitted", "paid", "burned", "supply", "revenue $", "incentives $", "active", "joined", "left", "reports", "refused", "invalid", "lag p50/p95/max s"],
        rows.map((r) => [el("a", { href: `/epochs/${r.epoch}` }, String(r.epoch)), tokens(r.emitted, token, 2), tokens(r.paid, token, 2), tokens(r.burned, token, 2), tokens(r.supply, token, 2),
          r.revenue_usd, r.incentives_usd, String(r.devices_active), String(r.devices_joined), String(r.devices_left), String(r.reports), String(r.rejected), String(r.invalid),
          `${r.lag_p50_s ?? "–"} / ${r.lag_p95_s ?? "–"} / ${r.lag_max_s ?? "–"}`]),
        { id: "network-table" },
      ),
      el("h2", {}, "What the figures are"),
      facts(Object.entries(data.definitions)),
    );
    ready("network");
  } catch (error) {
    showError(error);
  }
}

main();
