// The token-usage chart: `/v1/usage` sampled every few seconds while the page is open, drawn
// as two SVG polylines (prompt and completion tokens since the kernel started). No library.

import { get, num } from "./api.js";

const NS = "http://www.w3.org/2000/svg";
const KEEP = 180; // samples (15 minutes at 5 s)
const W = 800;
const H = 260;
const PAD = { left: 64, right: 16, top: 24, bottom: 28 };

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

/** Samples into `chartEl` (an `<svg>`) every `periodMs`; `onError(err)` on a failed sample. */
export function createUsageChart(chartEl, nowEl, periodMs, onError) {
  const samples = [];
  let timer = null;

  async function sample() {
    try {
      const u = await get("usage");
      samples.push({ t: Date.now(), prompt: u.total.prompt_tokens, completion: u.total.completion_tokens });
      while (samples.length > KEEP) {
        samples.shift();
      }
      nowEl.textContent = num(u.total.prompt_tokens) + " prompt, " + num(u.total.completion_tokens) +
        " completion tokens, " + num(u.total.calls) + " calls, $" + num(u.total.cost_usd, 4);
      draw();
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        stop(); // a new token starts sampling again
      }
      onError(e);
    }
  }

  function stop() {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  function draw() {
    const kids = [];
    const x0 = PAD.left;
    const x1 = W - PAD.right;
    const y0 = H - PAD.bottom;
    const y1 = PAD.top;
    kids.push(svg("line", { class: "axis", x1: x0, y1: y0, x2: x1, y2: y0 }));
    kids.push(svg("line", { class: "axis", x1: x0, y1: y0, x2: x0, y2: y1 }));
    if (samples.length === 0) {
      kids.push(svg("text", { class: "label", x: x0 + 8, y: y1 + 16 }, "no sample yet"));
      chartEl.replaceChildren(...kids);
      return;
    }
    const tMin = samples[0].t;
    const tMax = Math.max(samples[samples.length - 1].t, tMin + 1);
    const vMax = Math.max(1, ...samples.map((s) => Math.max(s.prompt, s.completion)));
    const x = (t) => x0 + ((t - tMin) / (tMax - tMin)) * (x1 - x0);
    const y = (v) => y0 - (v / vMax) * (y0 - y1);
    for (let i = 0; i <= 4; i++) {
      const v = (vMax * i) / 4;
      kids.push(svg("line", { class: "axis", x1: x0 - 4, y1: y(v), x2: x0, y2: y(v) }));
      kids.push(svg("text", { class: "label", x: x0 - 8, y: y(v) + 4, "text-anchor": "end" }, num(Math.round(v))));
    }
    const span = Math.round((tMax - tMin) / 1000);
    kids.push(svg("text", { class: "label", x: x0, y: H - 8 }, "−" + span + " s"));
    kids.push(svg("text", { class: "label", x: x1, y: H - 8, "text-anchor": "end" }, "now"));
    for (const key of ["prompt", "completion"]) {
      const pts = samples.map((s) => x(s.t).toFixed(1) + "," + y(s[key]).toFixed(1)).join(" ");
      kids.push(svg("polyline", { class: key, points: pts }));
    }
    kids.push(svg("rect", { class: "legend-prompt", x: x0 + 8, y: 6, width: 10, height: 10 }));
    kids.push(svg("text", { class: "label", x: x0 + 22, y: 15 }, "prompt tokens"));
    kids.push(svg("rect", { class: "legend-completion", x: x0 + 120, y: 6, width: 10, height: 10 }));
    kids.push(svg("text", { class: "label", x: x0 + 134, y: 15 }, "completion tokens"));
    chartEl.replaceChildren(...kids);
  }

  return {
    start() {
      if (timer === null) {
        sample();
        timer = setInterval(sample, periodMs);
      }
    },
    stop,
    draw,
  };
}
