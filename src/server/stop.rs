//! Shutdown's word to each open connection: finish the request under way,
//! then close.
//!
//! Each connection has a [`Stop`] of its own, which the accept loop keeps
//! in [`Stops`] while the connection is open and asks, every one at once,
//! at shutdown. One `watch` channel that every connection waited on did
//! this before, but a task waiting on a shared channel refreshes its waker
//! in the channel's waiter list, under that list's lock, each time it is
//! polled: under load every request took a lock that both workers' cores
//! pass back and forth. A connection's own [`Stop`] is touched by nothing
//! else until shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::task::Id;

/// One connection's stop signal.
#[derive(Default)]
pub(super) struct Stop(Notify);

impl Stop {
    /// Completes once shutdown has asked, also when it asked before this
    /// was first awaited. Dropped unfinished, it loses no request to stop.
    pub(super) async fn asked(&self) {
        self.0.notified().await;
    }
}

/// The stop signal of every open connection, by its task.
#[derive(Default)]
pub(super) struct Stops(HashMap<Id, Arc<Stop>>);

impl Stops {
    /// The connection served by task `connection` is open.
    pub(super) fn opened(&mut self, connection: Id, stop: Arc<Stop>) {
        self.0.insert(connection, stop);
    }

    /// The connection served by task `connection` has ended.
    pub(super) fn ended(&mut self, connection: Id) {
        self.0.remove(&connection);
    }

    /// Ask every open connection to stop.
    pub(super) fn ask_all(&self) {
        for stop in self.0.values() {
            // Kept as a permit when the connection is not waiting yet.
            stop.0.notify_one();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;
    use tokio::task::JoinSet;

    #[tokio::test]
    async fn every_open_connection_is_asked_and_an_ended_one_is_forgotten() {
        let mut stops = Stops::default();
        let mut tasks = JoinSet::new();
        let mut open = Vec::new();
        for _ in 0..3 {
            let stop = Arc::new(Stop::default());
            let waiting = stop.clone();
            let task = tasks.spawn(async move { waiting.asked().await });
            stops.opened(task.id(), stop.clone());
            open.push((task.id(), stop));
        }
        let (ended, ended_stop) = open.remove(0);
        stops.ended(ended);
        assert_eq!(stops.len(), 2);

        stops.ask_all();
        let mut asked = Vec::new();
        for _ in 0..2 {
            let (id, ()) = tasks.join_next_with_id().await.unwrap().unwrap();
            asked.push(id);
        }
        asked.sort();
        let mut expected: Vec<Id> = open.iter().map(|(id, _)| *id).collect();
        expected.sort();
        assert_eq!(asked, expected);
        // The forgotten connection was not asked: its task still waits.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(tasks.try_join_next().is_none());
        assert_eq!(tasks.len(), 1);
        ended_stop.0.notify_one();
        let (id, ()) = tasks.join_next_with_id().await.unwrap().unwrap();
        assert_eq!(id, ended);
    }

    #[test]
    fn a_connection_asked_before_it_waits_still_stops() {
        let mut stops = Stops::default();
        let stop = Arc::new(Stop::default());
        let id = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async { tokio::spawn(async {}).id() });
        stops.opened(id, stop.clone());
        stops.ask_all();
        assert!(stop.asked().now_or_never().is_some());
    }
}
