//! Topic subscriptions: publish once, every subscriber gets exactly one copy.

use std::sync::Arc;

use dashmap::DashMap;

use crate::pid::Pid;

/// Topic → subscribers, without duplicates.
#[derive(Default)]
pub(crate) struct Topics {
    map: DashMap<Arc<str>, Vec<Pid>>,
}

impl Topics {
    /// Subscribes `pid`; returns the interned topic name when it was not yet subscribed.
    pub(crate) fn subscribe(&self, topic: &str, pid: Pid) -> Option<Arc<str>> {
        let key: Arc<str> = match self.map.get(topic) {
            Some(e) => e.key().clone(),
            None => Arc::from(topic),
        };
        let mut subs = self.map.entry(key.clone()).or_default();
        if subs.contains(&pid) {
            None
        } else {
            subs.push(pid);
            Some(key)
        }
    }

    pub(crate) fn unsubscribe(&self, topic: &str, pid: Pid) {
        let empty = match self.map.get_mut(topic) {
            Some(mut subs) => {
                subs.retain(|p| *p != pid);
                subs.is_empty()
            }
            None => false,
        };
        if empty {
            self.map.remove_if(topic, |_, subs| subs.is_empty());
        }
    }

    /// The current subscribers and the interned topic name.
    pub(crate) fn subscribers(&self, topic: &str) -> Option<(Arc<str>, Vec<Pid>)> {
        self.map
            .get(topic)
            .map(|e| (e.key().clone(), e.value().clone()))
    }
}
