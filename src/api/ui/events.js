// The live event stream `/v1/events`, read with fetch() so the bearer token can be sent
// (EventSource cannot send an Authorization header). Frames are parsed here (`id:`,
// `event:`, `data:` lines, a blank line ends one); on a drop it reconnects with
// `Last-Event-ID`, so the server replays what was missed.

import { url, headers, failure } from "./api.js";

/**
 * Follows the stream until `stop()` is called. `onEvent(name, data, id)` gets every event
 * (data parsed as JSON), `onStatus(state, detail)` gets "live", "retry" or "off".
 */
export function follow(onEvent, onStatus) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let delay = 500;

  async function once() {
    controller = new AbortController();
    const h = headers({ Accept: "text/event-stream" });
    if (lastId !== null) {
      h["Last-Event-ID"] = lastId;
    }
    const res = await fetch(url("events"), { headers: h, signal: controller.signal, cache: "no-store" });
    if (!res.ok) {
      throw await failure(res);
    }
    onStatus("live", "");
    delay = 500;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, end);
        buf = buf.slice(end + 2);
        dispatch(frame);
      }
    }
  }

  function dispatch(frame) {
    let id = null;
    let name = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line === "" || line.startsWith(":")) {
        continue; // a comment (keepalive)
      }
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) {
        value = value.slice(1);
      }
      if (field === "id") {
        id = value;
      } else if (field === "event") {
        name = value;
      } else if (field === "data") {
        data.push(value);
      }
    }
    if (data.length === 0) {
      return;
    }
    if (id !== null) {
      lastId = id;
    }
    let parsed;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch (_) {
      parsed = data.join("\n");
    }
    onEvent(name, parsed, id);
  }

  async function loop() {
    while (!stopped) {
      try {
        await once();
        if (!stopped) {
          onStatus("retry", "the stream ended; reconnecting");
        }
      } catch (e) {
        if (stopped) {
          break;
        }
        if (e && (e.status === 401 || e.status === 403)) {
          onStatus("off", e.message);
          return; // a new token restarts the stream
        }
        onStatus("retry", e && e.message ? e.message : String(e));
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
    // Stopped: say nothing (a stream started after this one owns the status now).
  }

  loop();
  return {
    stop() {
      stopped = true;
      if (controller) {
        controller.abort();
      }
    },
  };
}
