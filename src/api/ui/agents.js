// The live agents table: `/v1/agents` fetched on start and again (debounced) after
// lifecycle events, with states applied from the events themselves in between. Agents that
// exited stay listed (struck through, with their exit reason) until the page is reloaded.

import { get, el, shortPid, num } from "./api.js";

const KEEP_EXITED = 50;
const LIFECYCLE = new Set(["spawned", "state_changed", "crashed", "restarted", "exited", "restored", "messages_dropped"]);

/** An event's state (`"running"` or `{"waiting": "message"}`) as the API writes it. */
export function stateName(s) {
  if (s && typeof s === "object") {
    const [k, v] = Object.entries(s)[0] || ["?", ""];
    return k + "(" + v + ")";
  }
  return String(s);
}

/** An exit reason (`{"reason": "killed"}` or `{"reason": "crashed", "detail": "…"}`). */
export function exitName(r) {
  if (r && typeof r === "object") {
    return r.detail ? r.reason + ": " + r.detail : String(r.reason);
  }
  return r ? String(r) : "gone";
}

/**
 * The table in `table`; `onSelect(pid)` when a row is clicked, `onError(err)` when a fetch
 * fails. Returns the handle main.js drives.
 */
export function createAgents(table, countEl, onSelect, onError) {
  const rows = new Map(); // pid → {view fields…, exited: reason or null}
  let exitedOrder = [];
  let selected = null;
  let timer = null;
  const tbody = table.querySelector("tbody");
  const trs = new Map(); // pid → its <tr>

  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-pid]");
    if (tr) {
      select(tr.dataset.pid);
      onSelect(tr.dataset.pid);
    }
  });

  function select(pid) {
    selected = pid;
    render();
  }

  function upsert(pid, fields) {
    const row = rows.get(pid) || { pid, name: "", state: "created", mailbox_len: 0, mailbox_capacity: 0, handled: 0, restarts: 0, exited: null };
    Object.assign(row, fields);
    rows.set(pid, row);
    return row;
  }

  /** Marks `pid` as gone for good (its exit reason, or "gone" when only the list says so). */
  function markExited(pid, reason) {
    const row = rows.get(pid);
    if (!row || row.exited) {
      if (row && reason && row.exited === "gone") {
        row.exited = reason;
      }
      return;
    }
    row.exited = reason || "gone";
    row.state = "terminated";
    exitedOrder.push(pid);
    while (exitedOrder.length > KEEP_EXITED) {
      rows.delete(exitedOrder.shift());
    }
  }

  async function refresh() {
    let list;
    try {
      list = await get("agents");
    } catch (e) {
      onError(e);
      return;
    }
    const live = new Set();
    for (const a of list) {
      live.add(a.pid);
      const known = rows.get(a.pid);
      if (known && known.exited) {
        continue; // it exited after this list was taken
      }
      upsert(a.pid, a);
    }
    for (const [pid, row] of rows) {
      if (!live.has(pid) && !row.exited) {
        markExited(pid, null);
      }
    }
    render();
  }

  /** A refetch of `/v1/agents` soon (several events in a burst cost one request). */
  function scheduleRefresh() {
    if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        refresh();
      }, 250);
    }
  }

  /** Applies one kernel event. */
  function onEvent(name, data) {
    if (!LIFECYCLE.has(name) || !data || !data.pid) {
      return;
    }
    const pid = data.pid;
    if (name === "spawned") {
      upsert(pid, { name: data.name });
    } else if (name === "state_changed" && rows.has(pid) && !rows.get(pid).exited) {
      upsert(pid, { state: stateName(data.to) });
    } else if (name === "restarted" && rows.has(pid)) {
      upsert(pid, { restarts: data.restarts });
    } else if (name === "exited") {
      markExited(pid, exitName(data.reason));
    }
    render();
    scheduleRefresh();
  }

  /** Draws the rows, reusing each agent's `<tr>` (no flicker, clicks land on live nodes). */
  function render() {
    const seen = new Set();
    for (const r of rows.values()) {
      seen.add(r.pid);
      let tr = trs.get(r.pid);
      if (!tr) {
        tr = el("tr", { "data-pid": r.pid, title: r.pid },
          el("td", { class: "mono" }, shortPid(r.pid)),
          el("td", {}), el("td", { class: "state" }),
          el("td", { class: "num" }), el("td", { class: "num" }), el("td", { class: "num" }));
        trs.set(r.pid, tr);
      }
      tr.classList.toggle("exited", !!r.exited);
      tr.classList.toggle("selected", r.pid === selected);
      const cells = tr.children;
      const texts = [
        r.name,
        r.exited ? "terminated (" + r.exited + ")" : r.state,
        num(r.mailbox_len) + " / " + num(r.mailbox_capacity),
        num(r.handled),
        num(r.restarts),
      ];
      texts.forEach((t, i) => {
        if (cells[i + 1].textContent !== t) {
          cells[i + 1].textContent = t;
        }
      });
      tbody.append(tr); // moves it into order
    }
    for (const [pid, tr] of trs) {
      if (!seen.has(pid)) {
        tr.remove();
        trs.delete(pid);
      }
    }
    const live = [...rows.values()].filter((r) => !r.exited).length;
    countEl.textContent = live + " live";
  }

  function clear() {
    rows.clear();
    exitedOrder = [];
    render();
  }

  return {
    refresh,
    scheduleRefresh,
    onEvent,
    markExited: (pid, reason) => {
      markExited(pid, reason);
      render();
    },
    row: (pid) => rows.get(pid),
    select,
    clear,
  };
}
