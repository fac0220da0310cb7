// Charts drawn by the page itself: a line chart as SVG (spend and requests per day) and bars as
// HTML (quotas, top models). No chart library: the CSP allows scripts from this origin only.

import { h, svg, formatDate, formatNumber, parseDate } from "./dom.js";

/** A round number ≥ max for the axis top (1, 2, 5 × 10^n). */
function niceMax(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** "Dec 1" for an axis label. */
function shortDay(value) {
  const date = parseDate(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

function shortNumber(n) {
  const value = Number(n);
  // Small amounts (a day of cheap requests costs millionths of a credit) keep two significant
  // digits, so the axis does not read 0, 0, 0.
  if (value !== 0 && Math.abs(value) < 1) return value.toLocaleString(undefined, { maximumSignificantDigits: 2 });
  return value.toLocaleString(undefined, { notation: "compact", maximumFractionDigits: 1 });
}

/**
 * A line chart drawn as SVG: axes, a polyline and dots with <title> tooltips.
 * Points may carry `y2` for a second series (dashed, scaled on the right axis), e.g. spend and requests.
 * @param {{x: string, y: number, y2?: number}[]} points
 * @param {{label: string, height?: number, width?: number, yLabel?: string, y2Label?: string,
 *          format?: (n: number) => string, format2?: (n: number) => string}} options
 *   `width`: the drawing's width in px (default 480); pass the container's width so text keeps its size.
 * @returns {SVGSVGElement} `<svg role="img" aria-label=label>`
 */
export function lineChart(points, { label, height = 160, width = 480, yLabel = "", y2Label = "", format = formatNumber, format2 = formatNumber } = {}) {
  width = Math.max(280, Math.round(width) || 480);
  const hasY2 = points.some((p) => p.y2 !== undefined && p.y2 !== null);
  const max1 = niceMax(Math.max(0, ...points.map((p) => Number(p.y) || 0)));
  const max2 = niceMax(Math.max(0, ...points.map((p) => Number(p.y2) || 0)));
  // Room for the longest axis label (about 7 px a character at the tick size), so none is cut.
  const labelWidth = (max) => 12 + 7 * Math.max(...[0, 0.5, 1].map((f) => shortNumber(max * f).length));
  const pad = { top: 12, right: hasY2 ? Math.max(44, labelWidth(max2)) : 12, bottom: 24, left: Math.max(44, labelWidth(max1)) };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (i) => pad.left + (points.length <= 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const y = (v, max) => pad.top + plotH - ((Number(v) || 0) / max) * plotH;

  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": label,
    class: "chart line-chart",
    preserveAspectRatio: "xMidYMid meet",
  });
  root.append(svg("title", {}, label));

  // Grid lines and left/right axis labels at 0, half and max.
  for (const fraction of [0, 0.5, 1]) {
    const gy = pad.top + plotH - fraction * plotH;
    root.append(svg("line", { x1: pad.left, x2: pad.left + plotW, y1: gy, y2: gy, class: fraction === 0 ? "axis" : "gridline" }));
    root.append(svg("text", { x: pad.left - 6, y: gy + 4, "text-anchor": "end", class: "tick" }, shortNumber(max1 * fraction)));
    if (hasY2) root.append(svg("text", { x: pad.left + plotW + 6, y: gy + 4, "text-anchor": "start", class: "tick series-2" }, shortNumber(max2 * fraction)));
  }
  root.append(svg("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: pad.top + plotH, class: "axis" }));

  if (points.length === 0) {
    root.append(svg("text", { x: width / 2, y: pad.top + plotH / 2, "text-anchor": "middle", class: "chart-empty" }, "No data yet"));
    return root;
  }

  // X labels: first, middle and last, so they never overlap on a phone.
  const labelled = new Set([0, Math.floor((points.length - 1) / 2), points.length - 1]);
  for (const i of labelled) {
    const anchor = i === 0 ? "start" : i === points.length - 1 ? "end" : "middle";
    root.append(svg("text", { x: x(i), y: height - 6, "text-anchor": anchor, class: "tick" }, shortDay(points[i].x)));
  }

  const line = (key, max) => points.map((p, i) => `${x(i).toFixed(1)},${y(p[key], max).toFixed(1)}`).join(" ");
  if (hasY2) root.append(svg("polyline", { points: line("y2", max2), class: "series series-2", fill: "none" }));
  root.append(svg("polyline", { points: line("y", max1), class: "series series-1", fill: "none" }));

  points.forEach((p, i) => {
    const parts = [`${formatDate(p.x)}: ${format(p.y)}${yLabel ? " " + yLabel : ""}`];
    if (hasY2) parts.push(`${format2(p.y2)}${y2Label ? " " + y2Label : ""}`);
    root.append(svg("circle", { cx: x(i), cy: y(p.y, max1), r: 3, class: "dot series-1" }, svg("title", {}, parts.join(", "))));
  });
  return root;
}

/**
 * Horizontal bars, as an HTML list (the bar widths are set through CSSOM, which CSP allows).
 * Items may carry `valueText` (what to print instead of the value) and `note` (a line under the bar).
 * `max` defaults to the largest value.
 * @param {{label: string, value: number, max?: number, valueText?: string, note?: string|Node}[]} items
 * @param {{label: string}} options the list's accessible name.
 * @returns {HTMLElement} a `ul.bar-chart`
 */
export function barChart(items, { label } = {}) {
  const largest = Math.max(0, ...items.map((i) => Number(i.value) || 0));
  return h(
    "ul",
    { class: "bar-chart", "aria-label": label },
    items.map((item) => {
      const max = item.max ?? largest;
      const percent = max > 0 ? Math.min(100, Math.max(0, ((Number(item.value) || 0) / max) * 100)) : 0;
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = `${percent}%`;
      if (percent < 15) fill.classList.add("low");
      return h(
        "li",
        {},
        h("div", { class: "bar-head" }, h("span", { class: "bar-label" }, item.label), h("span", { class: "bar-value" }, item.valueText ?? formatNumber(item.value))),
        h(
          "span",
          { class: "bar", role: "meter", "aria-label": item.label, "aria-valuemin": "0", "aria-valuemax": String(max), "aria-valuenow": String(Number(item.value) || 0), "aria-valuetext": item.valueText ?? formatNumber(item.value) },
          fill,
        ),
        item.note ? h("p", { class: "bar-note" }, item.note) : null,
      );
    }),
  );
}
