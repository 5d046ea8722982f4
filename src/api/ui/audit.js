// The audit view: `/v1/audit` (newest first) filtered by agent and action, and the Verify
// button (`POST /v1/audit/verify`, admin role) showing what the walk of the chain found.

import { get, post, el, shortPid, num } from "./api.js";

/** Wires the audit form; `onError(err)` when a query fails. Returns `{ query }`. */
export function createAudit(onError) {
  const form = document.getElementById("audit-form");
  const tbody = document.querySelector("#audit tbody");
  const result = document.getElementById("audit-result");

  function say(text, kind) {
    result.textContent = text;
    result.className = "result" + (kind ? " " + kind : "");
  }

  async function query() {
    const q = new URLSearchParams();
    const pid = document.getElementById("audit-pid").value.trim();
    const action = document.getElementById("audit-action").value.trim();
    const limit = document.getElementById("audit-limit").value.trim();
    if (pid) {
      q.set("pid", pid);
    }
    if (action) {
      q.set("action", action);
    }
    if (limit) {
      q.set("limit", limit);
    }
    let entries;
    try {
      entries = await get("audit" + (q.toString() ? "?" + q : ""));
    } catch (e) {
      say("query refused: " + e.message, "bad");
      onError(e);
      return;
    }
    say(num(entries.length) + " entries", "");
    tbody.replaceChildren(...entries.map((a) =>
      el("tr", { class: a.allowed ? undefined : "denied", title: a.hash },
        el("td", { class: "num" }, a.seq),
        el("td", {}, a.ts),
        el("td", { class: "mono", title: a.pid || "" }, shortPid(a.pid)),
        el("td", {}, a.actor || ""),
        el("td", {}, a.action),
        el("td", {}, a.target || ""),
        el("td", {}, a.allowed ? "yes" : "no"),
        el("td", {}, a.reason || ""))));
  }

  async function verify() {
    say("verifying…", "");
    try {
      const r = await post("audit/verify");
      if (r.ok) {
        say("chain intact: " + num(r.rows) + " rows verified", "ok");
      } else {
        say("chain BROKEN at seq " + r.first_bad_seq + " (" + (r.reason || "?") + "), " + num(r.rows) + " rows read", "bad");
      }
    } catch (e) {
      say("verify refused: " + e.message, "bad");
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    query();
  });
  document.getElementById("audit-verify").addEventListener("click", verify);
  return { query };
}
