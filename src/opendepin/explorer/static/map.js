// The network map: H3 cells on a canvas (Web Mercator, no basemap, no tiles), coloured by reward or
// activity, with layers for flagged and under-covered cells; a click lists the cell's devices.
import { api, el, show, ready, showError, tokens, deviceLink, reasons, param } from "./common.js";

const PALETTES = {
  reward: ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"],
  activity: ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"],
};
const SEA = "#f4f1ea";
const state = { data: null, colourBy: "reward", flagged: true, under: true, view: null, paths: [], selected: null };

function mercator(lat, lng) {
  const s = Math.sin((lat * Math.PI) / 180);
  return [(lng + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

function project(lat, lng) {
  const [x, y] = mercator(lat, lng);
  const v = state.view;
  return [(x - v.x) * v.scale, (y - v.y) * v.scale];
}

function fit(canvas) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const cell of state.data.cells) {
    for (let i = 0; i < cell.boundary.length; i += 2) {
      const [x, y] = mercator(cell.boundary[i], cell.boundary[i + 1]);
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  const width = canvas.clientWidth, height = canvas.clientHeight, pad = 24;
  const scale = Math.min((width - 2 * pad) / (x1 - x0 || 1e-9), (height - 2 * pad) / (y1 - y0 || 1e-9));
  state.view = { scale, x: (x0 + x1) / 2 - width / 2 / scale, y: (y0 + y1) / 2 - height / 2 / scale };
}

function value(cell) {
  return state.colourBy === "reward" ? Number(BigInt(cell.reward)) : cell.valid_reports;
}

function colour(cell, max) {
  const palette = PALETTES[state.colourBy];
  if (!cell.devices) return null;
  const t = max > 0 ? Math.sqrt(value(cell) / max) : 0;
  return palette[Math.min(palette.length - 1, Math.floor(t * (palette.length - 1) + 0.5))];
}

function draw(canvas) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio;
  canvas.height = canvas.clientHeight * ratio;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = SEA;
  ctx.fillRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  const max = Math.max(...state.data.cells.map(value), 0);
  state.paths = [];
  let drawn = 0;
  for (const cell of state.data.cells) {
    const path = new Path2D();
    for (let i = 0; i < cell.boundary.length; i += 2) {
      const [x, y] = project(cell.boundary[i], cell.boundary[i + 1]);
      if (i === 0) path.moveTo(x, y);
      else path.lineTo(x, y);
    }
    path.closePath();
    const fill = colour(cell, max);
    if (!fill && !(state.under && cell.under_covered)) continue;
    state.paths.push([path, cell]);
    if (fill) {
      ctx.fillStyle = fill;
      ctx.fill(path);
      ctx.strokeStyle = "#8a8a8a";
      ctx.lineWidth = 0.5;
      ctx.setLineDash([]);
      ctx.stroke(path);
      drawn += 1;
    }
    if (state.under && cell.under_covered) {
      ctx.fillStyle = cell.devices ? "rgba(255,140,0,0.25)" : "rgba(255,140,0,0.12)";
      ctx.fill(path);
      ctx.strokeStyle = "#e07b00";
      ctx.lineWidth = 1.2;
      ctx.setLineDash([4, 3]);
      ctx.stroke(path);
    }
    if (state.flagged && cell.flagged > 0) {
      ctx.strokeStyle = "#c62828";
      ctx.lineWidth = 2.5;
      ctx.setLineDash([]);
      ctx.stroke(path);
    }
  }
  const chosen = state.paths.find(([, cell]) => cell.cell === state.selected);
  if (chosen) {
    ctx.strokeStyle = "#1d2a30";
    ctx.lineWidth = 3;
    ctx.setLineDash([]);
    ctx.stroke(chosen[0]);
  }
  canvas.dataset.cells = String(drawn);
  window.explorerMap = { data: state.data, drawn, project, canvas, colourBy: state.colourBy };
}

function legend() {
  const palette = PALETTES[state.colourBy];
  const max = state.colourBy === "reward" ? tokens(state.data.max_reward, state.data.token, 2) : `${state.data.max_valid_reports} valid reports`;
  return el(
    "div",
    { class: "legend" },
    el("span", {}, state.colourBy === "reward" ? "reward 0" : "0"),
    palette.map((c) => el("i", { style: `background:${c}` })),
    el("span", {}, max),
    state.flagged ? el("span", { class: "key flagged" }, "flagged") : null,
    state.under ? el("span", { class: "key under" }, "under-covered") : null,
  );
}

async function showCell(cell, panel) {
  panel.replaceChildren(el("p", { class: "muted" }, `Loading ${cell.cell}…`));
  const epoch = state.data.epoch;
  const first = await api(`/v1/map/cells/${cell.cell}?epoch=${epoch}`);
  const rows = (page) =>
    page.items.map((d) => [
      deviceLink(d.device_id),
      String(d.valid_reports),
      String(d.invalid_reports),
      tokens(d.reward, state.data.token, 4),
      d.flagged
        ? el("span", { class: "badge bad" }, "flagged")
        : d.active ? el("span", { class: "badge ok" }, "ok") : el("span", { class: "badge" }, "silent"),
    ]);
  const list = el("div", {}, renderTable(rows(first)));
  let next = first.next;
  const more = el("button", {
    type: "button",
    onclick: async () => {
      const page = await api(`/v1/map/cells/${cell.cell}?epoch=${epoch}&after=${encodeURIComponent(next)}`);
      list.append(renderTable(rows(page)));
      next = page.next;
      if (!next) more.remove();
    },
  }, "more devices");
  const parts = [
    el("h3", {}, `Cell ${cell.cell}`),
    el("p", {}, `${cell.devices} devices, ${cell.active} active, ${cell.flagged} flagged; reward `, tokens(cell.reward, state.data.token, 4)),
    cell.under_covered ? el("p", { class: "under-note" }, "Under-covered: no device here earned in this epoch.") : null,
    first.items.length ? list : el("p", { class: "muted" }, "No device in this cell."),
    next ? more : null,
  ];
  panel.replaceChildren(...parts.filter((part) => part !== null));
  panel.dataset.cell = cell.cell;
}

function renderTable(rows) {
  return el(
    "table",
    { class: "cell-devices" },
    el("thead", {}, el("tr", {}, ["device", "valid", "invalid", "reward", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))),
  );
}

function interact(canvas, panel) {
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => (drag = { x: e.offsetX, y: e.offsetY, moved: false }));
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (drag.moved) {
      state.view.x -= dx / state.view.scale;
      state.view.y -= dy / state.view.scale;
      drag.x = e.offsetX;
      drag.y = e.offsetY;
      draw(canvas);
    }
  });
  canvas.addEventListener("pointerup", (e) => {
    const moved = drag && drag.moved;
    drag = null;
    if (moved) return;
    const ctx = canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const hit = state.paths.find(([path]) => ctx.isPointInPath(path, e.offsetX * ratio, e.offsetY * ratio));
    if (hit) {
      state.selected = hit[1].cell;
      draw(canvas);
      showCell(hit[1], panel).catch(showError);
    }
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const factor = Math.exp(-e.deltaY / 500);
    const v = state.view;
    const wx = v.x + e.offsetX / v.scale, wy = v.y + e.offsetY / v.scale;
    v.scale *= factor;
    v.x = wx - e.offsetX / v.scale;
    v.y = wy - e.offsetY / v.scale;
    draw(canvas);
  }, { passive: false });
}

async function load(epoch, sector) {
  const query = new URLSearchParams();
  if (epoch !== null && epoch !== "") query.set("epoch", epoch);
  if (sector) query.set("sector", sector);
  state.data = await api(`/v1/map?${query}`);
}

async function main() {
  try {
    const list = (await api("/v1/network/epochs?limit=200")).items;
    if (!list.length) {
      show(el("h1", {}, "Network map"), el("p", { class: "muted" }, "No epoch is closed yet: the map shows closed epochs."));
      ready("map");
      return;
    }
    await load(param("epoch"), param("sector"));
    const canvas = el("canvas", { id: "map", "aria-label": "map of the network's H3 cells" });
    const panel = el("aside", { id: "cell-panel" }, el("p", { class: "muted" }, "Click a cell to list its devices."));
    const legendBox = el("div", {});
    const epochSelect = el(
      "select",
      { id: "epoch", onchange: async (e) => { await load(e.target.value, sectorSelect.value); fit(canvas); refresh(); } },
      list.map((e) => el("option", { value: e.number, selected: e.number === state.data.epoch }, `epoch ${e.number}`)),
    );
    const sectorSelect = el(
      "select",
      { id: "sector", onchange: async (e) => { await load(epochSelect.value, e.target.value); fit(canvas); refresh(); } },
      el("option", { value: "" }, "all sectors"),
      state.data.sectors.map((s) => el("option", { value: s, selected: s === state.data.sector }, s)),
    );
    const colourSelect = el(
      "select",
      { id: "colour", onchange: (e) => { state.colourBy = e.target.value; refresh(); } },
      el("option", { value: "reward" }, "colour by reward"),
      el("option", { value: "activity" }, "colour by activity (valid reports)"),
    );
    const toggle = (name, label) =>
      el("label", {}, el("input", { type: "checkbox", id: `layer-${name}`, checked: state[name], onchange: (e) => { state[name] = e.target.checked; refresh(); } }), label);
    const summary = el("p", { class: "muted" });
    function refresh() {
      draw(canvas);
      legendBox.replaceChildren(legend());
      const d = state.data;
      summary.textContent = `${d.devices} devices in ${d.cells.filter((c) => c.devices).length} cells at H3 resolution ${d.resolution}; ` +
        `${d.cells.filter((c) => c.flagged).length} flagged, ${d.cells.filter((c) => c.under_covered).length} under-covered.`;
    }
    show(
      el("h1", {}, "Network map"),
      el("div", { class: "controls" }, epochSelect, sectorSelect, colourSelect, toggle("flagged", "flagged cells"), toggle("under", "under-covered cells")),
      legendBox,
      el("div", { class: "map-layout" }, el("div", { class: "map-box" }, canvas), panel),
      summary,
    );
    fit(canvas);
    refresh();
    interact(canvas, panel);
    window.addEventListener("resize", () => draw(canvas));
    ready("map");
  } catch (error) {
    showError(error);
  }
}

main();
