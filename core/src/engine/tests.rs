//! Engine tests. Each test builds its own engine and drives it with a sink that collects
//! events; input requests are answered from a queue of scripted replies.

mod debug;
mod debug_flow;
mod exec;
mod io;
mod tools;
mod tools_api;

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::*;

/// An engine with its interrupt flag, its input channel and scripted input replies.
pub(super) struct Harness {
    pub engine: Engine,
    pub interrupt: Arc<AtomicBool>,
    pub input: Sender<InputReply>,
    /// Sent, one per input request, as the requests arrive.
    pub replies: VecDeque<InputReply>,
    next_id: u64,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(EngineConfig::default())
    }

    pub fn script(args: &[&str]) -> Harness {
        Harness::with_config(EngineConfig {
            kernel_mode: false,
            script_args: args.iter().map(|s| (*s).to_owned()).collect(),
            tools: None,
        })
    }

    pub fn with_config(config: EngineConfig) -> Harness {
        let (input, rx) = crossbeam_channel::unbounded();
        let interrupt = Arc::new(AtomicBool::new(false));
        let io = EngineIo {
            interrupt: interrupt.clone(),
            input: rx,
        };
        let engine = Engine::new(config, io).expect("engine starts");
        Harness {
            engine,
            interrupt,
            input,
            replies: VecDeque::new(),
            next_id: 0,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Runs a request; checks that every event carries its id and that the last one, and
    /// only the last one, is a `*Done` event.
    pub fn request(&mut self, request: EngineRequest) -> Vec<EngineEvent> {
        self.request_with(request, &mut |_| {})
    }

    /// Like [`Harness::request`], calling `watch` on each event as it arrives.
    pub fn request_with(
        &mut self,
        request: EngineRequest,
        watch: &mut dyn FnMut(&EngineEvent),
    ) -> Vec<EngineEvent> {
        let id = request.id();
        let mut events = Vec::new();
        let input = self.input.clone();
        let replies = &mut self.replies;
        self.engine.handle(request, &mut |event| {
            watch(&event);
            if matches!(event, EngineEvent::InputRequest { .. }) {
                if let Some(reply) = replies.pop_front() {
                    input.send(reply).expect("engine holds the receiver");
                }
            }
            events.push(event);
        });
        let (last, rest) = events.split_last().expect("at least the done event");
        assert!(is_done(last), "last event is a done event: {last:?}");
        assert!(
            rest.iter().all(|e| !is_done(e)),
            "one done event: {events:?}"
        );
        assert!(events.iter().all(|e| event_id(e) == id), "ids: {events:?}");
        events
    }

    pub fn execute_request(&mut self, code: &str, allow_stdin: bool) -> EngineRequest {
        let id = self.next_id();
        EngineRequest::Execute {
            id,
            code: code.to_owned(),
            chunk_name: format!("=[cell {id}]"),
            silent: false,
            allow_stdin,
            user_expressions: Vec::new(),
        }
    }

    /// Runs a cell (stdin allowed) and returns its events and outcome.
    pub fn execute(&mut self, code: &str) -> (Vec<EngineEvent>, ExecuteOutcome) {
        let request = self.execute_request(code, true);
        let events = self.request(request);
        let outcome = outcome(&events).clone();
        (events, outcome)
    }

    /// The `text/plain` result of a cell that must succeed.
    pub fn result(&mut self, code: &str) -> Option<String> {
        match self.execute(code).1 {
            ExecuteOutcome::Ok { result, .. } => result.map(|b| {
                b["text/plain"]
                    .as_str()
                    .expect("text/plain is a string")
                    .to_owned()
            }),
            other => panic!("{code}: {other:?}"),
        }
    }

    /// The error of a cell that must fail.
    pub fn error(&mut self, code: &str) -> LuaError {
        match self.execute(code).1 {
            ExecuteOutcome::Error(e) => e,
            other => panic!("{code}: expected an error, got {other:?}"),
        }
    }
}

pub(super) fn is_done(e: &EngineEvent) -> bool {
    matches!(
        e,
        EngineEvent::ExecuteDone { .. }
            | EngineEvent::CompleteDone { .. }
            | EngineEvent::InspectDone { .. }
            | EngineEvent::IsCompleteDone { .. }
    )
}

pub(super) fn event_id(e: &EngineEvent) -> u64 {
    e.id()
}

pub(super) fn outcome(events: &[EngineEvent]) -> &ExecuteOutcome {
    match events.last() {
        Some(EngineEvent::ExecuteDone { outcome, .. }) => outcome,
        other => panic!("not an execute: {other:?}"),
    }
}

/// The stream events, in order.
pub(super) fn streams(events: &[EngineEvent]) -> Vec<(StreamName, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Stream { name, text, .. } => Some((*name, text.clone())),
            _ => None,
        })
        .collect()
}
