// The console's plots: plain SVG line charts, no library (loaded before console.js).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// Draws y against x for points [{x, y}] into the <svg>; logY plots log10(y) (y > 0 only).
function drawChart(svg, points, { logY = false, gap = false, xLabel, yLabel }) {
  const width = 480, height = 240, left = 62, right = 12, top = 12, bottom = 34;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logY || p.y > 0));
  const ys = usable.map((p) => (logY ? Math.log10(p.y) : p.y));
  svg.replaceChildren();
  svg.setAttribute("data-points", String(usable.length));
  svg.append(s("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }),
    s("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }),
    s("text", { x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle" }, xLabel),
    s("text", { x: 12, y: (top + height - bottom) / 2, transform: `rotate(-90 12 ${(top + height - bottom) / 2})`, "text-anchor": "middle" }, yLabel));
  if (!usable.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "waiting for progress…"));
    return;
  }
  const x0 = Math.min(...usable.map((p) => p.x)), x1 = Math.max(...usable.map((p) => p.x));
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-12 * Math.max(1, Math.abs(y1))) { y0 -= 0.5; y1 += 0.5; }
  const px = (x) => left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (width - left - right);
  const py = (y) => height - bottom - ((y - y0) / (y1 - y0)) * (height - top - bottom);
  const label = (y) => (logY ? (10 ** y).toExponential(1) : Number(y).toPrecision(4));
  const tick = (x) => (Number.isInteger(x) ? String(x) : Number(x).toPrecision(3));
  svg.append(s("text", { x: left - 6, y: py(y1) + 4, "text-anchor": "end" }, label(y1)),
    s("text", { x: left - 6, y: py(y0) + 4, "text-anchor": "end" }, label(y0)),
    s("text", { x: px(x0), y: height - bottom + 14, "text-anchor": "start" }, tick(x0)),
    s("text", { x: px(x1), y: height - bottom + 14, "text-anchor": "end" }, tick(x1)));
  const d = usable.map((p, i) => `${i ? "L" : "M"}${px(p.x).toFixed(1)},${py(ys[i]).toFixed(1)}`).join("");
  svg.append(s("path", { class: gap ? "line gap" : "line", d }));
  const last = usable[usable.length - 1];
  svg.setAttribute("aria-label", `${yLabel} against ${xLabel}: ${usable.length} points, latest ${Number(last.y).toPrecision(5)} at ${Number(last.x).toPrecision(4)}`);
}
