// The closed epochs, newest first.
import { api, el, show, ready, showError, when, table, short } from "./common.js";

async function main() {
  try {
    const answer = await api("/v1/epochs");
    const list = (Array.isArray(answer) ? answer : answer.items).slice().sort((a, b) => b.number - a.number);
    show(
      el("h1", {}, "Epochs"),
      list.length
        ? table(
            ["epoch", "window", "root", "leaves", "reports", "rewarded devices"],
            list.map((e) => [el("a", { href: `/epochs/${e.number}` }, `epoch ${e.number}`), `${when(e.start)} → ${when(e.end)}`, el("code", {}, short(e.root || "–", 10)), String(e.leaf_count), String(e.reports), String(e.rewarded_devices)]),
            { id: "epochs" },
          )
        : el("p", { class: "muted" }, "No epoch is closed yet."),
    );
    ready("epochs");
  } catch (error) {
    showError(error);
  }
}

main();
