//! Tests of the multiplexed driver: what completes a kernel request, and whole steps of
//! floor peers (both clients) against an echo ROUTER on 127.0.0.1 in a thread.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::*;
use crate::client::ClientKind;

/// How long any of these tests may wait for the network.
const LIMIT: Duration = Duration::from_secs(10);

fn message<'a>(channel: Channel, msg_type: &'a str, parent: u64, state: &'a str) -> Message<'a> {
    let status = msg_type.ends_with("_reply").then_some(Cow::Borrowed(state));
    let execution_state = (msg_type == "status").then_some(Cow::Borrowed(state));
    Message {
        channel,
        msg_type: Cow::Borrowed(msg_type),
        parent: Some(parent),
        execution_state,
        status,
    }
}

#[test]
fn executes_complete_at_reply_and_idle_in_either_order() {
    let mut t = Tracker::new(&KernelRequest::Execute("1+1".into()));
    let t0 = Instant::now();
    let mut done = Vec::new();
    t.sent(1, t0);
    t.sent(2, t0);
    t.handle(&message(Channel::Iopub, "status", 1, "busy"), t0, &mut done);
    t.handle(
        &message(Channel::Shell, "execute_reply", 1, "ok"),
        t0,
        &mut done,
    );
    assert!(done.is_empty());
    t.handle(&message(Channel::Iopub, "status", 1, "idle"), t0, &mut done);
    assert_eq!(done.len(), 1);
    t.handle(&message(Channel::Iopub, "status", 2, "idle"), t0, &mut done);
    // An idle on shell or a reply on iopub does not count.
    t.handle(
        &message(Channel::Iopub, "execute_reply", 2, "ok"),
        t0,
        &mut done,
    );
    assert_eq!((done.len(), t.in_flight()), (1, 1));
    let later = t0 + Duration::from_micros(7);
    t.handle(
        &message(Channel::Shell, "execute_reply", 2, "error"),
        later,
        &mut done,
    );
    assert_eq!(done, [0, 7_000]);
    assert_eq!((t.in_flight(), t.reply_errors), (0, 1));
    // Late duplicates and other clients' requests change nothing.
    t.handle(
        &message(Channel::Iopub, "status", 2, "idle"),
        later,
        &mut done,
    );
    t.handle(
        &message(Channel::Shell, "execute_reply", 9, "ok"),
        later,
        &mut done,
    );
    assert_eq!((done.len(), t.reply_errors), (2, 1));
}

#[test]
fn kernel_info_completes_at_its_reply() {
    let mut t = Tracker::new(&KernelRequest::KernelInfo);
    let t0 = Instant::now();
    let mut done = Vec::new();
    t.sent(5, t0);
    t.handle(
        &message(Channel::Shell, "execute_reply", 5, "ok"),
        t0,
        &mut done,
    );
    assert!(done.is_empty());
    t.handle(
        &message(Channel::Shell, "kernel_info_reply", 5, "ok"),
        t0,
        &mut done,
    );
    assert_eq!((done.len(), t.in_flight(), t.reply_errors), (1, 0, 0));
    let mut tools = Tracker::new(&KernelRequest::ToolInvoke);
    tools.sent(1, t0);
    tools.handle(
        &message(Channel::Shell, "tool_reply", 1, "ok"),
        t0,
        &mut done,
    );
    assert_eq!(tools.in_flight(), 1);
}

/// An echo ROUTER on a free loopback port, in a thread until dropped.
struct Server {
    endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(ctx: &zmq::Context) -> Server {
        let router = ctx.socket(zmq::ROUTER).unwrap();
        router.set_linger(0).unwrap();
        router.bind("tcp://127.0.0.1:0").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + LIMIT * 3;
            while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                if router.poll(zmq::POLLIN, 10).unwrap_or(0) == 0 {
                    continue;
                }
                while let Ok(message) = router.recv_multipart(zmq::DONTWAIT) {
                    router.send_multipart(message, 0).unwrap();
                }
            }
        });
        Server {
            endpoint,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn peers(ctx: &zmq::Context, kind: ClientKind, endpoint: &str, m: usize) -> Vec<FloorPeer> {
    (0..m)
        .map(|_| {
            let client = FloorClient::connect(ctx, kind, endpoint, Instant::now() + LIMIT).unwrap();
            FloorPeer::new(client)
        })
        .collect()
}

#[test]
fn many_floor_clients_complete_every_request() {
    let ctx = zmq::Context::new();
    let server = Server::start(&ctx);
    for kind in [ClientKind::Native, ClientKind::Zmq] {
        let mut peers = peers(&ctx, kind, &server.endpoint, 3);
        let load = Load {
            depth: 4,
            total: 500,
            budget: LIMIT,
            timeout: LIMIT,
        };
        let out = drive(&mut peers, &load, None).unwrap();
        let t = &out.throughput;
        assert_eq!((t.sent, t.completed, t.depth), (500, 500, 12), "{kind:?}");
        assert!(!t.timed_out && !t.budget_hit && t.per_sec > 0.0);
        assert_eq!(out.samples.len(), 500);
        assert!(peers.iter().all(|p| p.in_flight() == 0));
        // Fewer requests than slots: only those are sent.
        let out = drive(&mut peers, &Load { total: 5, ..load }, None).unwrap();
        assert_eq!((out.throughput.sent, out.throughput.completed), (5, 5));
        // No time at all: nothing is sent.
        let none = Load {
            budget: Duration::ZERO,
            ..load
        };
        let out = drive(&mut peers, &none, None).unwrap();
        assert_eq!((out.throughput.sent, out.throughput.completed), (0, 0));
        assert!(out.throughput.budget_hit);
    }
}

#[test]
fn a_server_that_goes_away_times_the_step_out() {
    let ctx = zmq::Context::new();
    for kind in [ClientKind::Native, ClientKind::Zmq] {
        let server = Server::start(&ctx);
        let mut peers = peers(&ctx, kind, &server.endpoint, 2);
        drop(server);
        let load = Load {
            depth: 3,
            total: 100,
            budget: LIMIT,
            timeout: Duration::from_millis(200),
        };
        let t0 = Instant::now();
        let out = drive(&mut peers, &load, None).unwrap();
        let t = &out.throughput;
        assert_eq!((t.sent, t.completed), (6, 0), "{kind:?}");
        assert!(t.timed_out && out.samples.is_empty());
        assert!(t0.elapsed() < LIMIT);
    }
}
