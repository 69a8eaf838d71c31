//! The tasks on each shard: accept loops, one task per connection, the inboxes, signals,
//! and the end of a run.

use crate::bus::Inbox;
use crate::config::RunOutcome;
use crate::io::{Listener, Stream};
use crate::owner::{Down, KernelMsg};
use crate::shard::Shard;
use bytes::BytesMut;
use glommio::spawn_local;
use llmspell_core::connection::Channel;
use llmspell_runtime_common::now;
use std::cell::RefCell;
use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;
use tracing::{debug, warn};

/// A shard's state, shared by its tasks on its one thread.
pub type Shared = Rc<RefCell<Shard>>;

/// Accepts streams on one listener for as long as the shard runs.
pub async fn accept_loop(
    shard: Shared,
    channel: Channel,
    listener: Listener,
    buffers: (Option<usize>, Option<usize>),
) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!(channel = channel.name(), error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_buffers(buffers.0, buffers.1) {
            warn!(error = %e, "cannot set socket buffer sizes");
        }
        let id = {
            let mut st = shard.borrow_mut();
            let id = st.handle_accept(now(), channel, stream);
            st.process();
            id
        };
        if let Some(id) = id {
            debug!(channel = channel.name(), conn = id, "accepted");
            spawn_local(conn_task(shard.clone(), id)).detach();
        }
    }
}

const READ_CHUNK: usize = 64 * 1024;

/// Most bytes read and handled before the replies they caused are written, so that a
/// client with many requests in flight gets its first replies while the kernel works
/// through the rest (see runtime-tokio's READ_TURN, which it mirrors).
const READ_TURN: usize = 8 * 1024;

/// The spare capacity of `buf` as bytes to read into, at least a quarter chunk.
fn spare(buf: &mut BytesMut) -> &mut [u8] {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
        // Zero the new spare once, so that it may be lent out as initialized bytes.
        let len = buf.len();
        buf.resize(buf.capacity(), 0);
        buf.truncate(len);
    }
    let spare: &mut [MaybeUninit<u8>] = buf.spare_capacity_mut();
    // SAFETY: every spare byte is initialized: zeroed above after each reserve, or written
    // by an earlier read (a reserve that moves the data keeps within bytes we initialized).
    unsafe { &mut *(spare as *mut [MaybeUninit<u8>] as *mut [u8]) }
}

/// Reads a connection until it ends, and finishes the writes its turns could not.
async fn conn_task(shard: Shared, id: u64) {
    let mut buf = BytesMut::new();
    loop {
        let read = poll_fn(|cx| {
            // A turn reads at most READ_TURN bytes, unless it is in the middle of a message.
            let turn = if buf.is_empty() {
                READ_TURN
            } else {
                usize::MAX
            };
            let spare = spare(&mut buf);
            let n = spare.len().min(turn);
            shard.borrow_mut().poll_conn(id, cx, &mut spare[..n])
        })
        .await;
        let Some(n) = read else {
            break;
        };
        // SAFETY: the stream wrote n bytes into the spare capacity, all initialized.
        unsafe { buf.set_len(buf.len() + n) };
        let mut st = shard.borrow_mut();
        let failed = st.handle_input(now(), id, &mut buf).is_err();
        st.process();
        if failed {
            return;
        }
    }
    let mut st = shard.borrow_mut();
    st.handle_close(now(), id);
    st.process();
}

/// Closes this shard's connections that stay silent longer than `timeout`, checking a few
/// times per timeout (between every 10 ms and every second).
pub async fn expire_idle(shard: Shared, timeout: Duration) {
    let every = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        glommio::timer::sleep(every).await;
        let mut st = shard.borrow_mut();
        if st.expire_idle(now(), timeout) > 0 {
            st.process();
        }
    }
}

/// The kernel's inbox: other shards' reports and the workers' events.
pub async fn kernel_inbox(shard: Shared, inbox: Inbox<KernelMsg>) {
    let mut batch = Vec::new();
    while inbox.recv_into(&mut batch).await {
        let mut st = shard.borrow_mut();
        let now = now();
        if let Some(owner) = st.owner() {
            for msg in batch.drain(..) {
                match msg {
                    KernelMsg::Shard(from, ups) => {
                        for up in ups {
                            owner.handle_up(now, from, up);
                        }
                    }
                    KernelMsg::Worker(ev) => owner.handle_worker_event(now, ev),
                }
            }
        }
        batch.clear();
        st.process();
    }
}

/// A shard's inbox from the kernel, until it says stop (or the kernel's shard is gone).
pub async fn shard_inbox(shard: Shared, inbox: Inbox<Vec<Down>>) {
    let mut batch = Vec::new();
    while inbox.recv_into(&mut batch).await {
        let mut st = shard.borrow_mut();
        for downs in batch.drain(..) {
            for down in downs {
                st.handle_down(down);
            }
        }
        st.process();
        if st.stopping {
            break;
        }
    }
}

/// Reads signal numbers: SIGINT interrupts the cell, SIGTERM and SIGHUP stop the kernel.
pub async fn watch_signals(shard: Shared, mut stream: Stream) {
    let mut buf = [0u8; 64];
    loop {
        let n = match poll_fn(|cx| stream.poll_read(cx, &mut buf)).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut st = shard.borrow_mut();
        if let Some(owner) = st.owner() {
            for &signal in &buf[..n] {
                if i32::from(signal) == libc::SIGINT {
                    owner.handle_interrupt_signal();
                } else {
                    owner.outcome.get_or_insert(RunOutcome::Terminated);
                }
            }
        }
        st.process();
    }
}

/// Waits until the kernel's shard is told to stop.
pub async fn stopped(shard: &Shared) {
    poll_fn(|cx| {
        let mut st = shard.borrow_mut();
        if st.stopping {
            Poll::Ready(())
        } else {
            st.stop_waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}

/// Gives the last replies (shutdown_reply above all) up to `linger` to leave.
pub async fn flush_before_exit(shard: &Shared, linger: Duration) {
    let deadline = std::time::Instant::now() + linger;
    loop {
        {
            let mut st = shard.borrow_mut();
            st.process();
            st.try_flush_all();
            if !st.has_pending() || std::time::Instant::now() >= deadline {
                return;
            }
        }
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
}
