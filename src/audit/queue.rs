//! The queue between the threads that serve requests and the one thread
//! that writes the audit log, made so that queueing a record costs a
//! request no wake-up and no write to memory another core is using.
//!
//! A single channel is one queue every worker pushes to: the push
//! contends on the channel's tail with the other workers and on its head
//! with the writer, and a writer waiting on it must be woken. Here each
//! thread pushes to a shard of its own (threads are dealt shards in turn,
//! so the endpoint's few workers never share one): an uncontended lock
//! and a `Vec::push` into room already there. The writer takes every
//! shard's records in one pass (swapping in the emptied vector of the
//! pass before, so nothing is allocated) every [`super::BATCH_PAUSE`]
//! while records come. Only when a pass finds nothing does it say it is
//! going to sleep and park; the first push after that wakes it. So under
//! load no request wakes anyone, and a lone record is still written at
//! once.
//!
//! No wake-up is lost: the writer announces its sleep before it looks at
//! the shards a last time, under each shard's lock; a push is made under
//! that lock too, and reads the announcement after it. So either the
//! writer's last look finds the record, or the push (ordered after that
//! look by the lock) sees the announcement and wakes it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;

/// Shards; more than the threads that push (the workers, the socket's
/// handlers, a lookup's blocking thread) so that two seldom share one.
const SHARDS: usize = 16;

/// One shard, on a cache line of its own so that two threads pushing to
/// neighbours do not take the line from each other.
#[repr(align(128))]
#[derive(Default)]
struct Shard<T>(Mutex<Vec<T>>);

pub(super) struct Queue<T> {
    shards: [Shard<T>; SHARDS],
    /// Records one shard holds before new ones are refused.
    bound: usize,
    /// The writer said it will park; the next push must wake it.
    sleeping: AtomicBool,
    /// Every handle is gone: the writer writes what is left and ends.
    closed: AtomicBool,
    writer: OnceLock<Thread>,
}

/// What a thread pushes to: dealt once per thread, in turn.
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    MINE.with(|mine| *mine)
}

impl<T> Queue<T> {
    pub(super) fn new(bound: usize) -> Self {
        Queue {
            shards: std::array::from_fn(|_| Shard(Mutex::new(Vec::new()))),
            bound,
            sleeping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            writer: OnceLock::new(),
        }
    }

    /// The thread [`Queue::take`] runs on, to be woken.
    pub(super) fn set_writer(&self, writer: Thread) {
        let _ = self.writer.set(writer);
    }

    /// Queue `item`; gives it back when its shard is full.
    pub(super) fn push(&self, item: T) -> Result<(), T> {
        {
            let mut shard = lock(&self.shards[my_shard()]);
            if shard.len() >= self.bound {
                return Err(item);
            }
            shard.push(item);
        }
        // Read after the push: see the module doc.
        if self.sleeping.load(Ordering::Relaxed) && self.sleeping.swap(false, Ordering::AcqRel) {
            self.wake();
        }
        Ok(())
    }

    /// No more pushes: the writer drains the shards and ends.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// Move every queued record into `into` (the shards keep the spare
    /// vectors in `spares`, so a pass allocates nothing once warm).
    fn drain(&self, into: &mut Vec<T>, spares: &mut [Vec<T>; SHARDS]) {
        for (shard, spare) in self.shards.iter().zip(spares.iter_mut()) {
            {
                let mut queued = lock(shard);
                if queued.is_empty() {
                    continue;
                }
                std::mem::swap(&mut *queued, spare);
            }
            into.append(spare);
        }
    }

    /// The writer's wait: records queued since the last call, in `into`.
    /// Returns at once when there are some; otherwise parks until a push
    /// or `quiet` passes. `false` once the queue is closed and empty.
    pub(super) fn take(
        &self,
        into: &mut Vec<T>,
        spares: &mut [Vec<T>; SHARDS],
        quiet: std::time::Duration,
    ) -> Taken {
        let closed = self.closed.load(Ordering::Acquire);
        self.drain(into, spares);
        if !into.is_empty() {
            return Taken::Some;
        }
        if closed {
            return Taken::Closed;
        }
        self.sleeping.store(true, Ordering::Relaxed);
        // The last look, after the announcement (each shard under its lock).
        self.drain(into, spares);
        if !into.is_empty() || self.closed.load(Ordering::Acquire) {
            self.sleeping.store(false, Ordering::Relaxed);
            return if into.is_empty() {
                Taken::Quiet
            } else {
                Taken::Some
            };
        }
        let parked = std::time::Instant::now();
        std::thread::park_timeout(quiet);
        self.sleeping.store(false, Ordering::Relaxed);
        if parked.elapsed() >= quiet {
            Taken::Quiet
        } else {
            Taken::Woken
        }
    }

    /// After a burst: give back the room the shards and `spares` grew to.
    /// Each vector keeps the length of the largest pass it ever held (a
    /// pass grows when the writer is kept off a core under load), so
    /// without this an idle daemon would hold its busiest moment's
    /// vectors for good. A shard that holds records keeps just their room.
    pub(super) fn release_room(&self, spares: &mut [Vec<T>; SHARDS]) {
        for (shard, spare) in self.shards.iter().zip(spares.iter_mut()) {
            *spare = Vec::new();
            lock(shard).shrink_to_fit();
        }
    }
}

/// What [`Queue::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Taken {
    /// Records.
    Some,
    /// Woken (by a push, or spuriously): look again.
    Woken,
    /// Nothing for `quiet`.
    Quiet,
    /// Closed, and nothing is left.
    Closed,
}

/// The spare vectors a writer keeps, one per shard.
pub(super) fn spares<T>() -> [Vec<T>; SHARDS] {
    std::array::from_fn(|_| Vec::new())
}

fn lock<T>(shard: &Shard<T>) -> std::sync::MutexGuard<'_, Vec<T>> {
    // A pusher that panicked holding the lock left a whole Vec behind.
    shard
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// A writer thread taking everything until the queue is closed.
    fn writer(queue: &Arc<Queue<u64>>) -> std::thread::JoinHandle<(Vec<u64>, usize)> {
        let queue = queue.clone();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            queue.set_writer(std::thread::current());
            ready_tx.send(()).unwrap();
            let (mut all, mut spares, mut batch) = (Vec::new(), spares(), Vec::new());
            let mut passes = 0;
            loop {
                match queue.take(&mut batch, &mut spares, Duration::from_secs(5)) {
                    Taken::Closed => return (all, passes),
                    Taken::Some => {
                        passes += 1;
                        all.append(&mut batch);
                    }
                    Taken::Woken | Taken::Quiet => {}
                }
            }
        });
        ready.recv().unwrap();
        handle
    }

    #[test]
    fn every_push_from_every_thread_is_taken_before_the_writer_ends() {
        let queue = Arc::new(Queue::new(usize::MAX));
        let handle = writer(&queue);
        let pushers: Vec<_> = (0..8u64)
            .map(|t| {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    for n in 0..20_000 {
                        queue.push(t * 1_000_000 + n).unwrap();
                        if n % 5000 == 0 {
                            // Let the writer run dry and park now and then.
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                })
            })
            .collect();
        for p in pushers {
            p.join().unwrap();
        }
        queue.close();
        let (mut all, _) = handle.join().unwrap();
        all.sort_unstable();
        let expected: Vec<u64> = (0..8u64)
            .flat_map(|t| (0..20_000).map(move |n| t * 1_000_000 + n))
            .collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn a_lone_push_wakes_a_parked_writer_at_once() {
        let queue = Arc::new(Queue::new(16));
        let (tx, rx) = std::sync::mpsc::channel();
        let q = queue.clone();
        let handle = std::thread::spawn(move || {
            q.set_writer(std::thread::current());
            let (mut spares, mut batch) = (spares(), Vec::new());
            tx.send(()).unwrap();
            loop {
                match q.take(&mut batch, &mut spares, Duration::from_secs(30)) {
                    Taken::Some => {
                        tx.send(()).unwrap();
                        batch.clear();
                    }
                    Taken::Closed => return,
                    _ => {}
                }
            }
        });
        rx.recv().unwrap();
        for _ in 0..20 {
            // Long enough for the writer to park; a lost wake-up would
            // leave this record for the 30 s `quiet`.
            std::thread::sleep(Duration::from_millis(5));
            queue.push(1u64).unwrap();
            rx.recv_timeout(Duration::from_secs(5))
                .expect("the push woke the writer");
        }
        queue.close();
        handle.join().unwrap();
    }

    #[test]
    fn a_burst_leaves_no_room_behind_once_released() {
        let queue = Queue::new(4096);
        let (mut batch, mut spares) = (Vec::new(), spares());
        // Two passes, so that each shard and its spare have both held a
        // pass; then one record stays queued.
        for _ in 0..2 {
            for n in 0..3000u64 {
                queue.push(n).unwrap();
            }
            queue.take(&mut batch, &mut spares, Duration::ZERO);
            batch.clear();
        }
        queue.push(7).unwrap();
        let room = |queue: &Queue<u64>, spares: &[Vec<u64>; SHARDS]| -> usize {
            let shards: usize = queue.shards.iter().map(|s| lock(s).capacity()).sum();
            shards + spares.iter().map(Vec::capacity).sum::<usize>()
        };
        assert!(room(&queue, &spares) >= 6000, "the passes grew the vectors");
        queue.release_room(&mut spares);
        assert!(room(&queue, &spares) < 16, "{}", room(&queue, &spares));
        assert_eq!(
            queue.take(&mut batch, &mut spares, Duration::ZERO),
            Taken::Some
        );
        assert_eq!(batch, [7], "a queued record is kept");
    }

    #[test]
    fn a_full_shard_gives_the_record_back() {
        let queue = Queue::new(2);
        assert_eq!(queue.push(1u8), Ok(()));
        assert_eq!(queue.push(2), Ok(()));
        assert_eq!(queue.push(3), Err(3));
        let (mut batch, mut spares) = (Vec::new(), spares());
        assert_eq!(
            queue.take(&mut batch, &mut spares, Duration::ZERO),
            Taken::Some
        );
        assert_eq!(batch, [1, 2]);
        assert_eq!(queue.push(3), Ok(()));
    }
}
