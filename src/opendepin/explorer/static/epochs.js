// The closed epochs, newest first, a page at a time (GET /v1/network/epochs).
import { api, el, show, ready, showError, when, short, tokens } from "./common.js";

async function main() {
  try {
    const body = el("tbody", {});
    let next = null;
    let token = null;
    const more = el("button", { type: "button", id: "more", onclick: () => load(next).catch(showError) }, "older epochs");
    async function load(before) {
      const page = await api(`/v1/network/epochs${before === null ? "" : `?before=${before}`}`);
      token = page.token;
      for (const e of page.items) {
        body.append(el("tr", {},
          el("td", {}, el("a", { href: `/epochs/${e.number}` }, `epoch ${e.number}`)),
          el("td", {}, `${when(e.start)} → ${when(e.end)}`),
          el("td", {}, el("code", {}, short(e.root || "–", 10))),
          el("td", {}, tokens(e.paid, token, 2)),
          el("td", {}, String(e.leaf_count)),
          el("td", {}, String(e.reports)),
          el("td", {}, String(e.rewarded_devices))));
      }
      next = page.next;
      more.hidden = next === null;
      return page.items.length;
    }
    const count = await load(null);
    show(
      el("h1", {}, "Epochs"),
      count
        ? el("table", { id: "epochs" },
            el("thead", {}, el("tr", {}, ["epoch", "window", "root", "paid", "leaves", "reports", "rewarded devices"].map((h) => el("th", {}, h)))),
            body)
        : el("p", { class: "muted" }, "No epoch is closed yet."),
      more,
    );
    ready("epochs");
  } catch (error) {
    showError(error);
  }
}

main();
