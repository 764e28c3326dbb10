//! What the requests of one connection share: the endpoint, the memo of the
//! token last presented ([`auth::GrantMemo`]), and who the caller is.
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
use crate::broker::CredentialSource;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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
        }
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
                tokio::task::spawn_blocking(move || crate::audit::caller::lookup(peer, local))
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

    /// Queue `vend` with the caller's identity, now or once it is known.
    pub(super) fn record(self: &Arc<Self>, vend: Vend) {
        if let Some(caller) = self.caller.get() {
            return self.queue(Vend {
                caller: caller.clone(),
                ..vend
            });
        }
        let mut pending = self.pending.lock().unwrap();
        match self.caller.get() {
            // Set while we took the lock.
            Some(caller) => self.queue(Vend {
                caller: caller.clone(),
                ..vend
            }),
            None => {
                pending.push(vend);
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
