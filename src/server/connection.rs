//! What the requests of one connection share: the endpoint, the memo of the
//! `Host` and token last presented ([`auth::GrantMemo`]), the answer last
//! served, the header deadline, and who the caller is.
//!
//! The answer for a cached profile is kept by the connection (its own
//! copy of the body, zeroized when dropped) while the source says it is
//! fresh ([`CredentialSource::is_fresh`]): a keep-alive client asks for
//! the same profile again and again, and a lookup in the broker touches
//! locks and reference counts that every worker thread shares, where the
//! kept answer touches only what this connection owns.
//!
//! The header deadline is one timer per connection, not one per request
//! (hyper's `header_read_timeout` arms and cancels a timer for every
//! request): requests note when they end, and when the timer fires it is
//! moved to the last end plus the deadline, or, when that has passed with
//! no request under way, the connection is closed. So a connection must
//! send a whole request head within the deadline of opening and of the
//! end of its last request, as before.
//!
//! Finding the caller's process is slow (a scan of `/proc`), so it runs once
//! per connection, on a blocking thread started by the connection's first
//! credentials request, while the broker answers. Records of requests that
//! finish before it is done wait in the connection's `pending` list and are
//! queued by the lookup when it ends; every later request queues its record
//! at once. So a connection costs one task and one lookup however many
//! requests it carries.

use super::{auth, Endpoint};
use crate::audit::{Caller, Vend};
use crate::broker::{CredentialSource, Freshness, Served};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub(super) struct Connection<S> {
    pub(super) endpoint: Arc<Endpoint<S>>,
    pub(super) grants: auth::GrantMemo,
    /// The client's address and ours, to find the caller by.
    addresses: (SocketAddr, SocketAddr),
    caller: OnceLock<Arc<Caller>>,
    lookup_started: AtomicBool,
    /// Records waiting for the caller. Filled and drained under this lock,
    /// which is also held while the caller is set, so none is left behind.
    pending: Mutex<Vec<Vend>>,
    /// The answer last served from the cache, while fresh.
    kept: Mutex<Option<Kept>>,
    opened: Instant,
    /// Requests being answered, and when the last one ended (nanoseconds
    /// after `opened`): what the header deadline is measured from.
    in_flight: AtomicU32,
    last_end: AtomicU64,
}

/// A cached answer, as one connection keeps it.
struct Kept {
    profile: Box<str>,
    /// This connection's own copy: its reference count is touched by no
    /// other connection.
    served: Served,
    freshness: Freshness,
}

impl<S: CredentialSource> Connection<S> {
    pub(super) fn new(endpoint: Arc<Endpoint<S>>, peer: SocketAddr, local: SocketAddr) -> Self {
        Connection {
            endpoint,
            grants: auth::GrantMemo::default(),
            addresses: (peer, local),
            caller: OnceLock::new(),
            lookup_started: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            kept: Mutex::new(None),
            opened: Instant::now(),
            in_flight: AtomicU32::new(0),
            last_end: AtomicU64::new(0),
        }
    }

    /// What the source answers for `profile` from memory, kept for the
    /// next request while it stays fresh.
    pub(super) fn cached(&self, profile: &str) -> Option<Served> {
        let source = &self.endpoint.source;
        let mut kept = self.kept.lock().unwrap();
        if let Some(k) = kept.as_ref() {
            if &*k.profile == profile && source.is_fresh(&k.freshness) {
                return Some(copy(&k.served));
            }
        }
        let Some((served, freshness)) = source.cached_to_keep(profile) else {
            *kept = None;
            return source.cached(profile);
        };
        let own = Served {
            body: bytes::Bytes::from_owner(zeroize::Zeroizing::new(served.body.to_vec())),
            subject: served.subject.as_deref().cloned().map(Arc::new),
        };
        let answer = copy(&own);
        *kept = Some(Kept {
            profile: profile.into(),
            served: own,
            freshness,
        });
        Some(answer)
    }

    /// A request's head has been read; it is being answered.
    pub(super) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// The request's answer is on its way; the header deadline runs again.
    pub(super) fn request_ended(&self) {
        let since = self.opened.elapsed().as_nanos() as u64;
        self.last_end.store(since, Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// When the header deadline `limit` next needs a look, or `None` if it
    /// has passed: no request under way and none ended within `limit`.
    pub(super) fn header_deadline(&self, limit: Duration) -> Option<Instant> {
        let now = Instant::now();
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Some(now + limit);
        }
        let last_end = self.opened + Duration::from_nanos(self.last_end.load(Ordering::Relaxed));
        let deadline = last_end + limit;
        (deadline > now).then_some(deadline)
    }

    /// Start looking up the caller, unless it is known or under way.
    pub(super) fn find_caller(self: &Arc<Self>) {
        if self.caller.get().is_some() || self.lookup_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let connection = self.clone();
        tokio::spawn(async move {
            let (peer, local) = connection.addresses;
            let found = {
                let _turn = connection.endpoint.lookups.acquire().await;
                let sockets = connection.endpoint.sockets.clone();
                tokio::task::spawn_blocking(move || {
                    crate::audit::caller::lookup(peer, local, &sockets)
                })
                .await
                .unwrap_or_default()
            };
            let caller = Arc::new(found);
            let mut pending = connection.pending.lock().unwrap();
            let _ = connection.caller.set(caller.clone());
            for vend in pending.drain(..) {
                connection.queue(Vend {
                    caller: caller.clone(),
                    ..vend
                });
            }
        });
    }

    /// Queue the record `vend` makes with the caller's identity, now or
    /// once it is known. The record is made here, with the caller it is
    /// for: a placeholder caller for every request would be one allocation
    /// and one free per request, thrown away at once.
    pub(super) fn record(self: &Arc<Self>, vend: impl FnOnce(Arc<Caller>) -> Vend) {
        if let Some(caller) = self.caller.get() {
            return self.queue(vend(caller.clone()));
        }
        let mut pending = self.pending.lock().unwrap();
        match self.caller.get() {
            // Set while we took the lock.
            Some(caller) => self.queue(vend(caller.clone())),
            None => {
                // Replaced by the caller when the lookup ends.
                pending.push(vend(Arc::default()));
                drop(pending);
                self.find_caller();
            }
        }
    }

    fn queue(&self, vend: Vend) {
        if let Some(trail) = &self.endpoint.audit {
            trail.record(vend);
        }
    }
}

fn copy(served: &Served) -> Served {
    Served {
        body: served.body.clone(),
        subject: served.subject.clone(),
    }
}
