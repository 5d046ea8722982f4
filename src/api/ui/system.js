// The scheduler (`/v1/scheduler`: policy, slots, queue by priority, waits, per-agent
// counters) and the providers (`/v1/providers`: rate budgets, breaker states, counters).

import { get, el, shortPid, num, fillPairs } from "./api.js";

/** Fetches and draws the scheduler view; throws ApiError. */
export async function showScheduler() {
  const s = await get("scheduler");
  fillPairs(document.getElementById("sched-summary"), [
    ["policy", s.policy],
    ["slots", num(s.running) + " running of " + num(s.global_slots)],
    ["queued", num(s.queued) + " waiting for a slice, " + num(s.waiting_quota) + " for quota"],
    ["wait p50 / p90 / p99", num(s.wait_p50_ms, 1) + " / " + num(s.wait_p90_ms, 1) + " / " + num(s.wait_p99_ms, 1) + " ms"],
    ["grants / preemptions / expirations / denials", [s.grants, s.preemptions, s.expirations, s.denials].map((n) => num(n)).join(" / ")],
    ["window", num(s.global_window.tokens) + " tokens, " + num(s.global_window.calls) + " calls, $" + num(s.global_window.cost_usd, 4)],
  ]);
  const queue = Object.entries(s.queue_depth_by_priority || {});
  document.querySelector("#sched-queue tbody").replaceChildren(
    ...(queue.length ? queue.map(([p, n]) => el("tr", {}, el("td", {}, p), el("td", { class: "num" }, num(n))))
      : [el("tr", {}, el("td", { colspan: 2, class: "hint" }, "the queue is empty"))]));
  document.querySelector("#sched-agents tbody").replaceChildren(...s.agents.map((a) =>
    el("tr", { title: a.pid },
      el("td", { class: "mono" }, shortPid(a.pid)),
      el("td", { class: "num" }, num(a.grants)),
      el("td", { class: "num" }, num(a.preemptions)),
      el("td", { class: "num" }, num(a.expirations)),
      el("td", { class: "num" }, num(a.calls)),
      el("td", { class: "num" }, num(a.input_tokens)),
      el("td", { class: "num" }, num(a.output_tokens)),
      el("td", { class: "num" }, num(a.cost_usd, 4)))));
}

function unlimited(v) {
  return v === null || v === undefined ? "∞" : num(v);
}

/** Fetches and draws the providers view; throws ApiError. */
export async function showProviders() {
  const list = await get("providers");
  const rows = list.map((p) => {
    let breaker = p.breaker;
    if (p.breaker_open_for_ms !== null && p.breaker_open_for_ms !== undefined) {
      breaker += " (" + num(Math.ceil(p.breaker_open_for_ms / 1000)) + " s)";
    }
    if (p.paused_for_ms) {
      breaker += ", paused " + num(Math.ceil(p.paused_for_ms / 1000)) + " s";
    }
    return el("tr", {},
      el("td", {}, p.backend),
      el("td", { class: "breaker-" + p.breaker }, breaker),
      el("td", { class: "num" }, num(p.queued)),
      el("td", { class: "num" }, num(p.in_flight)),
      el("td", { class: "num" }, unlimited(p.budget.rpm)),
      el("td", { class: "num" }, unlimited(p.budget.tpm)),
      el("td", { class: "num" }, unlimited(p.budget.tokens_available)),
      el("td", { class: "num" }, num(p.budget.max_concurrency)),
      el("td", { class: "num" }, num(p.succeeded) + " / " + num(p.failed)),
      el("td", { class: "num" }, num(p.rate_limited)),
      el("td", { class: "num" }, num(p.usage.calls)),
      el("td", { class: "num" }, num(p.usage.cost_usd, 4)));
  });
  document.querySelector("#providers tbody").replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 12, class: "hint" }, "no backend configured"))]));
}
