// A grouped bar chart as hand-written SVG (no chart library): requests/s per
// target, one group per concurrency.

/** Colour per target, stable across runs. */
const COLOURS = {
  straight: "#9e9e9e",
  proxy: "#5c6bc0",
  proxy2: "#9fa8da",
  aio: "#2e7d32",
  mesh: "#81c784",
  portkey: "#ef6c00",
};

/** @param {string} text */
function escapeXml(text) {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A round axis maximum and step at or above `max`.
 * @param {number} max
 */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 1 };
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  return { top: Math.ceil(max / step) * step, step };
}

/**
 * An axis tick: 5k, 12.5k, 800.
 * @param {number} value
 */
function tickLabel(value) {
  return value >= 1000 ? `${Number((value / 1000).toFixed(1))}k` : String(Math.round(value));
}

/** @param {number} value */
function shortNumber(value) {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)}k` : String(Math.round(value));
}

/**
 * @typedef {object} ChartSeries
 * @property {string} id target id (picks the colour)
 * @property {string} label
 * @property {(number | null)[]} values one per group; null = not measured
 * @property {boolean[]} [flagged] one per group: a run with errors (drawn hatched, "!" after the value)
 */

/**
 * Renders the chart. The baseline (straight to the mock) is far faster than
 * anything with a hop in it, so it is written under each group instead of
 * drawn: as a bar it would flatten every other bar.
 * @param {{ title: string, subtitle: string, groups: string[], series: ChartSeries[], baseline?: { label: string, values: (number | null)[] } }} chart
 * @returns {string} an SVG document
 */
export function barChartSvg(chart) {
  const width = 960;
  // The legend wraps: one row per ~900 px of labels.
  const legendRows = [];
  let row = [];
  let rowWidth = 0;
  for (const series of chart.series) {
    const itemWidth = 28 + series.label.length * 6.6;
    if (rowWidth + itemWidth > width - 96 && row.length > 0) {
      legendRows.push(row);
      row = [];
      rowWidth = 0;
    }
    row.push({ series, x: rowWidth });
    rowWidth += itemWidth;
  }
  if (row.length > 0) legendRows.push(row);
  const legendHeight = legendRows.length * 18;
  const margin = { top: 60 + legendHeight + 12, right: 24, bottom: chart.baseline ? 74 : 56, left: 72 };
  const height = margin.top + 320 + margin.bottom;
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const max = Math.max(0, ...chart.series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const { top, step } = niceScale(max);
  const y = (/** @type {number} */ v) => margin.top + plotHeight - (v / top) * plotHeight;
  const groupWidth = plotWidth / Math.max(1, chart.groups.length);
  const barWidth = Math.min(56, (groupWidth * 0.8) / Math.max(1, chart.series.length));
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff" fill-opacity="0.0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c62828" stroke-width="2"/></pattern></defs>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="24" font-size="16" font-weight="600">${escapeXml(chart.title)}</text>`,
    `<text x="${margin.left}" y="42" fill="#555">${escapeXml(chart.subtitle)}</text>`,
  );
  legendRows.forEach((items, r) => {
    for (const { series, x } of items) {
      const colour = COLOURS[/** @type {keyof typeof COLOURS} */ (series.id)] ?? "#607d8b";
      const top = 54 + r * 18;
      out.push(`<rect x="${margin.left + x}" y="${top}" width="12" height="12" fill="${colour}"/>`, `<text x="${margin.left + x + 16}" y="${top + 10}">${escapeXml(series.label)}</text>`);
    }
  });
  // Axis and grid.
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${v === 0 ? "#333" : "#e0e0e0"}"/>`,
      `<text x="${margin.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${tickLabel(v)}</text>`,
    );
  }
  out.push(`<text x="18" y="${margin.top + plotHeight / 2}" transform="rotate(-90 18 ${margin.top + plotHeight / 2})" text-anchor="middle" fill="#555">requests/s</text>`);
  // Bars.
  chart.groups.forEach((group, g) => {
    const groupStart = margin.left + g * groupWidth + (groupWidth - barWidth * chart.series.length) / 2;
    chart.series.forEach((series, s) => {
      const value = series.values[g];
      const x = groupStart + s * barWidth;
      if (value === null || value === undefined) {
        out.push(`<text x="${(x + barWidth / 2).toFixed(1)}" y="${(y(0) - 4).toFixed(1)}" text-anchor="middle" fill="#999" font-size="10">n/a</text>`);
        return;
      }
      const colour = COLOURS[/** @type {keyof typeof COLOURS} */ (series.id)] ?? "#607d8b";
      const flagged = series.flagged?.[g] ?? false;
      const barTop = y(value);
      out.push(`<rect x="${(x + 2).toFixed(1)}" y="${barTop.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(y(0) - barTop).toFixed(1)}" fill="${colour}"><title>${escapeXml(`${series.label}, ${group}: ${Math.round(value)} requests/s${flagged ? " (errors in this run)" : ""}`)}</title></rect>`);
      if (flagged) out.push(`<rect x="${(x + 2).toFixed(1)}" y="${barTop.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(y(0) - barTop).toFixed(1)}" fill="url(#hatch)"/>`);
      out.push(`<text x="${(x + barWidth / 2).toFixed(1)}" y="${(barTop - 4).toFixed(1)}" text-anchor="middle" font-size="10">${shortNumber(value)}${flagged ? "!" : ""}</text>`);
    });
    const centre = (margin.left + g * groupWidth + groupWidth / 2).toFixed(1);
    out.push(`<text x="${centre}" y="${y(0) + 20}" text-anchor="middle" font-weight="600">${escapeXml(group)}</text>`);
    const base = chart.baseline?.values[g];
    if (chart.baseline && base !== null && base !== undefined) {
      out.push(`<text x="${centre}" y="${y(0) + 38}" text-anchor="middle" fill="#555">${escapeXml(`${chart.baseline.label}: ${shortNumber(base)} req/s`)}</text>`);
    }
  });
  out.push(`<text x="${width - margin.right}" y="${height - 12}" text-anchor="end" fill="#777" font-size="11">Bars with "!" had errors or non-2xx answers in the measured window.</text>`, "</svg>");
  return `${out.join("\n")}\n`;
}
