// Small SVG charts (lines or bars) for the device and network pages: no library, no canvas.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function format(value) {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/**
 * A chart of series over shared labels: chart({labels, series: [{name, values, colour}], kind, title, unit}).
 * `kind` is "line" (default) or "bar"; null values are gaps.
 */
export function chart({ labels, series, kind = "line", title = "", unit = "", width = 560, height = 220 }) {
  const pad = { left: 56, right: 12, top: 24, bottom: 28 };
  const w = width - pad.left - pad.right, h = height - pad.top - pad.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && Number.isFinite(v));
  const max = niceMax(Math.max(0, ...all));
  const x = (i) => pad.left + (labels.length <= 1 ? w / 2 : (i * w) / (labels.length - 1));
  const y = (v) => pad.top + h - (v / max) * h;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  root.append(svg("title", {}, title));
  root.append(svg("text", { x: pad.left, y: 14, class: "chart-title" }, `${title}${unit ? ` (${unit})` : ""}`));
  for (const t of [0, 0.5, 1]) {
    root.append(svg("line", { x1: pad.left, x2: pad.left + w, y1: y(max * t), y2: y(max * t), class: "grid" }));
    root.append(svg("text", { x: pad.left - 6, y: y(max * t) + 4, class: "axis", "text-anchor": "end" }, format(max * t)));
  }
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % every === 0) root.append(svg("text", { x: x(i), y: height - 8, class: "axis", "text-anchor": "middle" }, String(label)));
  });
  series.forEach((s, k) => {
    if (kind === "bar") {
      const slot = w / Math.max(1, labels.length), bw = Math.max(2, (slot * 0.8) / series.length);
      s.values.forEach((v, i) => {
        if (v === null) return;
        const left = pad.left + i * slot + slot * 0.1 + k * bw;
        root.append(svg("rect", { x: left, y: y(v), width: bw, height: pad.top + h - y(v), fill: s.colour }, svg("title", {}, `${s.name} ${labels[i]}: ${format(v)}`)));
      });
    } else {
      let d = "";
      s.values.forEach((v, i) => {
        if (v === null) return;
        d += `${d && s.values[i - 1] !== null ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      });
      root.append(svg("path", { d, fill: "none", stroke: s.colour, "stroke-width": 2 }));
      s.values.forEach((v, i) => v !== null && root.append(svg("circle", { cx: x(i), cy: y(v), r: 2.5, fill: s.colour }, svg("title", {}, `${s.name} ${labels[i]}: ${format(v)}`))));
    }
  });
  let lx = pad.left + 8;
  for (const s of series) {
    root.append(svg("rect", { x: lx, y: pad.top + 2, width: 10, height: 10, fill: s.colour }));
    root.append(svg("text", { x: lx + 14, y: pad.top + 11, class: "axis" }, s.name));
    lx += 24 + s.name.length * 6.5;
  }
  return root;
}
