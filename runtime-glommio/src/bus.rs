//! Hand-off between threads without locks: a crossbeam channel for the items and a
//! doorbell that wakes the one task that drains it.
//!
//! The receiving task is a glommio task on a shard; the senders are other shards, the
//! engine thread and the tool workers. Glommio takes a wake from a foreign thread through
//! its own queue and writes the executor's eventfd only when the executor sleeps, so a
//! busy shard is never interrupted by a syscall, and a burst of items rings once.

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Poll, Waker};

/// The doorbell: set by senders, cleared by the one receiving task.
#[derive(Default)]
struct Bell {
    /// Whether items may have arrived since the receiver last looked.
    rung: AtomicBool,
    /// The receiving task's waker, stored at its first wait. Glommio gives a task the same
    /// waker every time, and only one task ever waits on a bell.
    waker: OnceLock<Waker>,
}

impl Bell {
    fn ring(&self) {
        // SeqCst on both sides: either the receiver sees `rung`, or we see its waker.
        if !self.rung.swap(true, Ordering::SeqCst) {
            if let Some(w) = self.waker.get() {
                w.wake_by_ref();
            }
        }
    }
}

/// The sending side; cheap to clone and `Send`.
pub struct Outbox<T> {
    tx: Sender<T>,
    bell: Arc<Bell>,
}

impl<T> Clone for Outbox<T> {
    fn clone(&self) -> Self {
        Outbox {
            tx: self.tx.clone(),
            bell: self.bell.clone(),
        }
    }
}

impl<T> Outbox<T> {
    /// Sends an item and wakes the receiver. False when the receiver is gone.
    pub fn send(&self, item: T) -> bool {
        let sent = self.tx.send(item).is_ok();
        self.bell.ring();
        sent
    }
}

/// The receiving side, drained by one task.
pub struct Inbox<T> {
    rx: Receiver<T>,
    bell: Arc<Bell>,
}

/// A new channel.
pub fn channel<T>() -> (Outbox<T>, Inbox<T>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let bell = Arc::new(Bell::default());
    (
        Outbox {
            tx,
            bell: bell.clone(),
        },
        Inbox { rx, bell },
    )
}

impl<T> Inbox<T> {
    /// Waits until items may have arrived, then moves every waiting item into `out`.
    /// Returns false once every sender is gone and nothing is left. Call it from one task
    /// only.
    pub async fn recv_into(&self, out: &mut Vec<T>) -> bool {
        loop {
            match self.drain(out) {
                Some(false) => return false,
                _ if !out.is_empty() => return true,
                _ => {}
            }
            poll_fn(|cx| {
                let _ = self.bell.waker.set(cx.waker().clone());
                if self.bell.rung.swap(false, Ordering::SeqCst) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }

    /// Moves what is waiting into `out` without waiting. None: nothing was there;
    /// Some(true): items moved; Some(false): every sender is gone.
    fn drain(&self, out: &mut Vec<T>) -> Option<bool> {
        let before = out.len();
        loop {
            match self.rx.try_recv() {
                Ok(item) => out.push(item),
                Err(TryRecvError::Empty) => {
                    return (out.len() > before).then_some(true);
                }
                Err(TryRecvError::Disconnected) => {
                    return if out.len() > before {
                        Some(true)
                    } else {
                        Some(false)
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glommio::LocalExecutorBuilder;
    use std::time::Duration;

    #[test]
    fn items_from_another_thread_wake_the_receiving_task() {
        let (tx, rx) = channel::<u32>();
        let sender = std::thread::spawn(move || {
            for i in 0..1000 {
                assert!(tx.send(i));
                if i % 100 == 0 {
                    // Let the receiver fall asleep now and then.
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        let ex = LocalExecutorBuilder::default()
            .io_memory(64 << 10)
            .make()
            .expect("executor");
        let got = ex.run(async move {
            let mut got = Vec::new();
            let mut batch = Vec::new();
            while rx.recv_into(&mut batch).await {
                got.append(&mut batch);
            }
            got
        });
        sender.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
    }
}
