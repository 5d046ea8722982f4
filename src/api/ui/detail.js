// One agent's detail: its status, context (resident and swapped pages and tokens), usage and
// checkpoints, and the stop / kill / checkpoint buttons (kill asks for confirmation). A
// refusal of the API (403 for a role too low, 409, …) is shown next to the buttons.

import { get, post, el, fillPairs, num } from "./api.js";

/** The detail pane; `agents` is the table's handle (for rows of exited agents). */
export function createDetail(agents) {
  const pane = document.getElementById("detail");
  const pidEl = document.getElementById("detail-pid");
  const info = document.getElementById("detail-info");
  const context = document.getElementById("detail-context");
  const usage = document.getElementById("detail-usage");
  const checkpoints = document.querySelector("#detail-checkpoints tbody");
  const result = document.getElementById("detail-result");
  const buttons = ["btn-stop", "btn-kill", "btn-checkpoint"].map((id) => document.getElementById(id));
  let current = null;
  let timer = null;
  let lastView = null; // the last status fetched of the open agent (kept once it is gone)

  function say(text, kind) {
    result.textContent = text;
    result.className = "result" + (kind ? " " + kind : "");
  }

  function stateOf(pid, view) {
    const row = agents.row(pid);
    if (row && row.exited) {
      return "terminated (" + row.exited + ")";
    }
    return view ? view.state : row ? row.state : "unknown";
  }

  /** Shows `pid` (fetching everything again). */
  async function show(pid) {
    if (pid !== current) {
      say("", "");
    }
    current = pid;
    pane.hidden = false;
    pidEl.textContent = pid;
    const [a, c, u, k] = await Promise.allSettled([
      get("agents/" + pid),
      get("agents/" + pid + "/context"),
      get("agents/" + pid + "/usage"),
      get("agents/" + pid + "/checkpoints"),
    ]);
    if (current !== pid) {
      return; // another agent was opened meanwhile
    }
    const view = a.status === "fulfilled" ? a.value : null;
    if (view) {
      lastView = view;
    } else if (lastView && lastView.pid !== pid) {
      lastView = null;
    }
    const row = agents.row(pid);
    const gone = !!(row && row.exited) || (a.status === "rejected" && a.reason.status === 404);
    const base = view || lastView || row || {};
    const state = el("dd", { id: "detail-state" }, stateOf(pid, view));
    info.replaceChildren(
      el("dt", {}, "name"), el("dd", {}, base.name || "—"),
      el("dt", {}, "state"), state,
      el("dt", {}, "type"), el("dd", {}, base.agent_type || "—"),
      el("dt", {}, "priority"), el("dd", {}, num(base.priority)),
      el("dt", {}, "restart"), el("dd", {}, base.restart || "—"),
      el("dt", {}, "mailbox"), el("dd", {}, num(base.mailbox_len) + " / " + num(base.mailbox_capacity)),
      el("dt", {}, "handled"), el("dd", {}, num(base.handled)),
      el("dt", {}, "restarts"), el("dd", {}, num(base.restarts)),
      el("dt", {}, "spawned"), el("dd", {}, base.created_at || "—"));
    if (c.status === "fulfilled") {
      const x = c.value;
      fillPairs(context, [
        ["budget", num(x.budget_tokens) + " tokens"],
        ["resident", num(x.resident_pages) + " pages, " + num(x.resident_tokens) + " tokens (" + num(x.pinned_tokens) + " pinned)"],
        ["swapped", num(x.swapped_pages) + " pages, " + num(x.swapped_tokens) + " tokens"],
        ["faults / hits", num(x.faults) + " / " + num(x.hits) + " (hit rate " + num(x.hit_rate, 2) + ")"],
        ["evictions", num(x.evictions)],
      ]);
    } else {
      fillPairs(context, [["—", gone ? "not live" : c.reason.message]]);
    }
    if (u.status === "fulfilled") {
      const x = u.value;
      fillPairs(usage, [
        ["LLM calls", num(x.calls)],
        ["tokens in / out", num(x.input_tokens) + " / " + num(x.output_tokens)],
        ["cost", "$" + num(x.cost_usd, 4)],
      ]);
    } else {
      fillPairs(usage, [["—", gone ? "not live" : u.reason.message]]);
    }
    if (k.status === "fulfilled") {
      checkpoints.replaceChildren(...k.value.map((cp) =>
        el("tr", { title: cp.id },
          el("td", { class: "num" }, cp.sequence),
          el("td", { class: "num" }, cp.step),
          el("td", {}, cp.kind),
          el("td", { class: "num" }, num(cp.bytes)),
          el("td", {}, cp.created_at))));
      if (k.value.length === 0) {
        checkpoints.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "hint" }, "none")));
      }
    } else {
      const none = k.reason.status === 404 ? "none" : k.reason.message;
      checkpoints.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "hint" }, none)));
    }
    buttons.forEach((b) => { b.disabled = gone; });
  }

  async function act(label, path, confirmText) {
    const pid = current;
    if (!pid) {
      return;
    }
    if (confirmText && !window.confirm(confirmText)) {
      say(label + " cancelled", "");
      return;
    }
    say(label + "…", "");
    try {
      const r = await post("agents/" + pid + "/" + path);
      if (r && r.reason) {
        agents.markExited(pid, r.reason);
        say(label + ": " + r.reason, "ok");
      } else if (r && r.id) {
        say("checkpoint " + r.sequence + " taken (" + num(r.bytes) + " bytes)", "ok");
      } else {
        say(label + ": done", "ok");
      }
    } catch (e) {
      say(label + " refused: " + e.message, "bad");
    }
    if (current === pid) {
      await show(pid);
    }
  }

  buttons[0].addEventListener("click", () => act("stop", "stop"));
  buttons[1].addEventListener("click", () => {
    const row = agents.row(current);
    const name = row && row.name ? row.name + " " : "";
    act("kill", "kill", "Kill agent " + name + "(" + current + ")? Its handler is aborted at once.");
  });
  buttons[2].addEventListener("click", () => act("checkpoint", "checkpoints"));

  return {
    show,
    /** Refreshes the open agent after an event about it. */
    onEvent(name, data) {
      if (current && data && data.pid === current && timer === null) {
        timer = setTimeout(() => {
          timer = null;
          if (current) {
            show(current);
          }
        }, 300);
      }
    },
    current: () => current,
    hide() {
      current = null;
      pane.hidden = true;
    },
  };
}
