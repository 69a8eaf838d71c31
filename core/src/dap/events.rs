//! What the session makes of the engine's reports and of the program's output.

use serde_json::json;

use super::Session;
use crate::engine::debug::{DebugEvent, THREAD_ID};

impl Session {
    /// Handles what the engine's debugger reported.
    pub fn handle_engine_event(&mut self, event: DebugEvent) {
        match event {
            DebugEvent::Reply { token, result } => {
                if let Some((tag, seq, command)) = self.pending.remove(&token) {
                    let result = result.map_err(|e| format!("{command}: {e}"));
                    self.respond(tag, seq, &command, result);
                }
            }
            DebugEvent::Stopped {
                reason,
                description,
                hit_breakpoint_ids,
            } => {
                self.stopped = true;
                let mut body = json!({"reason": reason.as_str(), "threadId": THREAD_ID,
                    "allThreadsStopped": true, "preserveFocusHint": false});
                if let Some(d) = description {
                    body["description"] = d.clone().into();
                    body["text"] = d.into();
                }
                if !hit_breakpoint_ids.is_empty() {
                    body["hitBreakpointIds"] = hit_breakpoint_ids.into();
                }
                self.event("stopped", body);
            }
            DebugEvent::Continued => {
                self.stopped = false;
                self.event(
                    "continued",
                    json!({"threadId": THREAD_ID, "allThreadsContinued": true}),
                );
            }
            DebugEvent::Output { text } => {
                self.event("output", json!({"category": "console", "output": text}));
            }
        }
    }

    /// Standalone: the program wrote to stdout or stderr.
    pub fn handle_program_output(&mut self, category: &str, text: &str) {
        self.event("output", json!({"category": category, "output": text}));
    }

    /// Standalone: the program ended with `exit_code`.
    pub fn handle_program_exit(&mut self, exit_code: i32) {
        self.stopped = false;
        self.event("exited", json!({ "exitCode": exit_code }));
        self.event("terminated", json!({}));
    }

    /// A message that could not be read: an `output` event tells the client why.
    pub fn handle_bad_message(&mut self, why: &str) {
        self.event(
            "output",
            json!({"category": "important", "output": format!("llmspell: {why}\n")}),
        );
    }
}
