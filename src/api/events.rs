//! `/v1/events`: the kernel's events as server-sent events. One pump task per [`super::Api`]
//! numbers every event (ids increase; they start at the server's start time in microseconds,
//! so they also increase across restarts) and keeps the last `api.event_history` in a ring, so
//! a client reconnecting with `Last-Event-ID` first gets what it missed, then the live stream.
//! A comment line is sent every `api.keepalive_secs` to keep proxies from closing the stream.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::web::Bytes;
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::events::EventStream;

/// One numbered event: its id, its name and its JSON.
pub(crate) type Numbered = (u64, Arc<str>, Arc<str>);

/// The recent events and the live feed.
#[derive(Debug)]
pub(crate) struct EventRing {
    recent: Mutex<Recent>,
    live: broadcast::Sender<Numbered>,
    /// Set to `true` to end every open stream (server shutdown).
    closing: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug)]
struct Recent {
    next_id: u64,
    events: VecDeque<Numbered>,
    capacity: usize,
}

impl EventRing {
    /// A ring keeping `capacity` events; its pump reads `stream` until the kernel is gone or
    /// the ring is dropped.
    pub(crate) fn start(capacity: usize, stream: EventStream) -> Arc<Self> {
        let capacity = capacity.max(1);
        let first = u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros()),
        )
        .unwrap_or(1)
        .max(1);
        let (live, _) = broadcast::channel(capacity);
        let ring = Arc::new(EventRing {
            recent: Mutex::new(Recent {
                next_id: first,
                events: VecDeque::with_capacity(capacity.min(4096)),
                capacity,
            }),
            live,
            closing: tokio::sync::watch::Sender::new(false),
        });
        tokio::spawn(pump(Arc::downgrade(&ring), stream));
        ring
    }

    fn push(&self, name: &str, json: String) {
        let mut r = self.recent.lock();
        let event = (r.next_id, Arc::from(name), Arc::from(json.as_str()));
        r.next_id += 1;
        if r.events.len() == r.capacity {
            r.events.pop_front();
        }
        r.events.push_back(event.clone());
        // Sent under the lock: a subscriber that read the ring first misses nothing.
        let _ = self.live.send(event);
    }

    /// The live feed and the kept events after `after`, taken at one instant (nothing is
    /// missed or repeated between the two).
    /// Also the oldest id still kept when events after `after` are no longer all kept (the
    /// client missed some for good: it was away too long, or its id is from an earlier run).
    pub(crate) fn subscribe(
        &self,
        after: Option<u64>,
    ) -> (
        broadcast::Receiver<Numbered>,
        VecDeque<Numbered>,
        Option<u64>,
    ) {
        let r = self.recent.lock();
        let rx = self.live.subscribe();
        let (backlog, gap) = match after {
            Some(last) => {
                let oldest = r.events.front().map_or(r.next_id, |e| e.0);
                let gap = (oldest > last.saturating_add(1)).then_some(oldest);
                (
                    r.events.iter().filter(|e| e.0 > last).cloned().collect(),
                    gap,
                )
            }
            None => (VecDeque::new(), None),
        };
        (rx, backlog, gap)
    }

    /// Ends every open stream, now and from now on (before a server stops gracefully: SSE
    /// responses never end on their own).
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// The kept events after `last` (after falling behind the live feed).
    fn since(&self, last: u64) -> VecDeque<Numbered> {
        self.recent
            .lock()
            .events
            .iter()
            .filter(|e| e.0 > last)
            .cloned()
            .collect()
    }
}

async fn pump(ring: Weak<EventRing>, mut stream: EventStream) {
    loop {
        let (name, json) = match stream.recv().await {
            Ok(event) => {
                let value = serde_json::to_value(&event).unwrap_or_default();
                let name = value
                    .get("event")
                    .and_then(|n| n.as_str())
                    .unwrap_or("event")
                    .to_string();
                (name, value.to_string())
            }
            Err(RecvError::Lagged(missed)) => (
                "lagged".to_string(),
                serde_json::json!({ "event": "lagged", "missed": missed }).to_string(),
            ),
            Err(RecvError::Closed) => return,
        };
        let Some(ring) = ring.upgrade() else { return };
        ring.push(&name, json);
    }
}

/// One SSE frame.
fn frame((id, name, json): &Numbered) -> Bytes {
    Bytes::from(format!("id: {id}\nevent: {name}\ndata: {json}\n\n"))
}

struct Client {
    ring: Arc<EventRing>,
    rx: broadcast::Receiver<Numbered>,
    backlog: VecDeque<Numbered>,
    last: u64,
    keepalive: tokio::time::Interval,
    closing: tokio::sync::watch::Receiver<bool>,
}

/// The SSE body for a client that saw everything up to `after`.
pub(crate) fn stream(
    ring: Arc<EventRing>,
    after: Option<u64>,
    keepalive: Duration,
) -> impl futures::Stream<Item = Result<Bytes, actix_web::Error>> {
    let (rx, backlog, gap) = ring.subscribe(after);
    let closing = ring.closing.subscribe();
    let period = keepalive.max(Duration::from_millis(10));
    let client = Client {
        ring,
        rx,
        backlog,
        last: after.unwrap_or(0),
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + period, period),
        closing,
    };
    // An opening comment, so the client sees the stream is up before the first event; then,
    // if events after its Last-Event-ID are gone, a `gap` event (without an id) saying so.
    let mut opening = String::from(": connected\n\n");
    if let (Some(after), Some(oldest)) = (after, gap) {
        opening.push_str(&format!(
            "event: gap\ndata: {{\"event\":\"gap\",\"after\":{after},\"oldest_kept\":{oldest}}}\n\n"
        ));
    }
    let hello = futures::stream::once(async move { Ok(Bytes::from(opening)) });
    hello.chain(futures::stream::unfold(client, next))
}

use futures::StreamExt as _;

async fn next(mut c: Client) -> Option<(Result<Bytes, actix_web::Error>, Client)> {
    loop {
        if *c.closing.borrow() {
            return None;
        }
        if let Some(event) = c.backlog.pop_front() {
            if event.0 > c.last {
                c.last = event.0;
                return Some((Ok(frame(&event)), c));
            }
            continue;
        }
        tokio::select! {
            _ = c.closing.changed() => return None,
            _ = c.keepalive.tick() => {
                return Some((Ok(Bytes::from_static(b": keepalive\n\n")), c));
            }
            r = c.rx.recv() => match r {
                Ok(event) => c.backlog.push_back(event),
                Err(RecvError::Lagged(_)) => c.backlog = c.ring.since(c.last),
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
