// The registered devices, a page at a time (GET /v1/devices).
import { api, el, show, ready, showError, when, deviceLink, short } from "./common.js";

async function main() {
  try {
    const body = el("tbody", {});
    let next = null;
    const more = el("button", { type: "button", id: "more", onclick: () => load(next).catch(showError) }, "more devices");
    async function load(after) {
      const page = await api(`/v1/devices?limit=100${after === null ? "" : `&after=${encodeURIComponent(after)}`}`);
      const items = page.devices;
      for (const d of items) {
        body.append(el("tr", {}, el("td", {}, deviceLink(d.device_id)), el("td", {}, el("code", {}, short(d.owner, 8))), el("td", {}, el("code", {}, short(d.maker, 8))), el("td", {}, d.location ?? "–"), el("td", {}, when(d.onboarded_at))));
      }
      next = page.next_after ?? null;
      more.hidden = next === null;
    }
    await load(null);
    show(el("h1", {}, "Devices"), el("table", { id: "devices" }, el("thead", {}, el("tr", {}, ["device", "owner", "maker", "location (H3)", "onboarded"].map((h) => el("th", {}, h)))), body), more);
    ready("devices");
  } catch (error) {
    showError(error);
  }
}

main();
