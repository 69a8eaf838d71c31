//! The warm scenarios of a `compare` run, for every kernel with a session: the tool
//! probe, the round trips (kernel_info, execute, tool invoke; the floor's too, in the first
//! of them) and the pipelined runs (executes, tool calls).

use std::time::{Duration, Instant};

use super::{check_interrupt, record, secs, share, Floors, Interrupted, Runner, TOOL_PROBE_WAIT};
use crate::client::BenchError;
use crate::results::Results;
use crate::session::{Request, Session};

impl Runner<'_> {
    /// Sends every kernel one `tool_request` and records whether it answered within
    /// [`TOOL_PROBE_WAIT`]; the tool scenarios skip those that did not, with a note.
    pub(super) fn probe_tools(
        &mut self,
        r: &mut Results,
        sessions: &mut [Option<Session>],
    ) -> Result<(), Interrupted> {
        for (i, slot) in sessions.iter_mut().enumerate() {
            check_interrupt()?;
            let Some(session) = slot else { continue };
            eprintln!("probing {} for tool_request", self.specs[i].name);
            let k = &mut r.kernels[i];
            match session.probe_tools(TOOL_PROBE_WAIT) {
                Ok(Ok(())) => k.tool_support = Some(true),
                Ok(Err(why)) => {
                    eprintln!("  {}: tool scenarios skipped: {why}", k.name);
                    k.tool_support = Some(false);
                    k.notes
                        .push(format!("tool-invoke and pipelined-tools skipped: {why}"));
                }
                Err(e) => {
                    let dead = matches!(e, BenchError::KernelExited(_));
                    record(&mut k.errors, "tool probe", e)?;
                    if dead {
                        *slot = None;
                    }
                }
            }
        }
        Ok(())
    }

    /// The kernels' part of a pipelined scenario: "pipelined" (executes),
    /// "pipelined-tools" or "pipelined-kernel-info". A kernel whose round trips of the same
    /// request all failed, or that does not answer tool requests, is skipped.
    pub(super) fn pipelined(
        &mut self,
        r: &mut Results,
        sessions: &mut [Option<Session>],
        scenario: &str,
    ) -> Result<(), Interrupted> {
        let s = self.s;
        if !s.wants(scenario) {
            return Ok(());
        }
        let tools = scenario == "pipelined-tools";
        let round_trip = match scenario {
            "pipelined-tools" => "tool-invoke",
            "pipelined-kernel-info" => "kernel-info",
            _ => "execute",
        };
        eprintln!("{scenario}");
        for (i, slot) in sessions.iter_mut().enumerate() {
            check_interrupt()?;
            let Some(session) = slot else { continue };
            if s.wants(round_trip) && self.samples.of(round_trip)[i].is_empty() {
                continue;
            }
            if tools && r.kernels[i].tool_support != Some(true) {
                continue;
            }
            let request = match round_trip {
                "tool-invoke" => Request::ToolInvoke,
                "kernel-info" => Request::KernelInfo,
                _ => Request::Execute(&self.specs[i].code),
            };
            match session.pipelined(
                request,
                s.depth,
                s.pipeline_total,
                secs(s.pipeline_budget_s),
                self.timeout,
            ) {
                Ok(t) => {
                    let k = &mut r.kernels[i];
                    if t.timed_out {
                        k.errors.push(format!(
                            "{scenario}: {} of {} sent never completed",
                            t.sent - t.completed,
                            t.sent
                        ));
                    }
                    match round_trip {
                        "tool-invoke" => k.pipelined_tools = Some(t),
                        "kernel-info" => k.pipelined_kernel_info = Some(t),
                        _ => k.pipelined = Some(t),
                    }
                }
                Err(e) => record(&mut r.kernels[i].errors, scenario, e)?,
            }
        }
        Ok(())
    }

    /// Warmup, then `rounds` rounds that visit the floor (in the first round-trip scenario
    /// only) and each kernel in turn, adding to `self.samples`.
    pub(super) fn round_trips(
        &mut self,
        r: &mut Results,
        floor: &mut Option<Floors>,
        sessions: &mut [Option<Session>],
        scenario: &str,
    ) -> Result<(), Interrupted> {
        let s = self.s;
        if !s.wants(scenario) {
            return Ok(());
        }
        eprintln!("{scenario} round trips");
        let budget = secs(s.scenario_budget_s);
        let rounds = s.rounds.max(1);
        // The floor's round trips are measured once, in the first round-trip scenario.
        let with_floor = self.samples.floor.iter().all(Vec::is_empty);
        let mut spent = vec![Duration::ZERO; sessions.len()];
        // Kernels that do not answer tool requests sit the tool scenario out.
        let mut failed: Vec<bool> = r
            .kernels
            .iter()
            .map(|k| scenario == "tool-invoke" && k.tool_support != Some(true))
            .collect();
        for round in 0..=rounds {
            // Round 0 is the warmup.
            let chunk = |total: usize| {
                if round == 0 {
                    s.warmup
                } else {
                    share(total, round, rounds)
                }
            };
            let clients = floor.as_mut().map_or(&mut [][..], |f| &mut f.clients[..]);
            for (j, (client, result)) in clients.iter_mut().zip(&mut r.floors).enumerate() {
                let Some(f) = client else { continue };
                if round > 0 && with_floor && result.errors.is_empty() {
                    match f.round_trips(chunk(s.floor_requests), budget, self.timeout) {
                        Ok(v) => self.samples.floor[j].extend(v),
                        Err(e) => record(&mut result.errors, "floor round trip", e)?,
                    }
                }
            }
            for (i, slot) in sessions.iter_mut().enumerate() {
                check_interrupt()?;
                let Some(session) = slot else { continue };
                if failed[i] || spent[i] >= budget {
                    continue;
                }
                let code = &self.specs[i].code;
                let t0 = Instant::now();
                for _ in 0..chunk(s.requests) {
                    let sample = match scenario {
                        "execute" => session.round_trip(Request::Execute(code), self.timeout),
                        "tool-invoke" => session.round_trip(Request::ToolInvoke, self.timeout),
                        _ => session.kernel_info(self.timeout),
                    };
                    match sample {
                        Ok(ns) if round > 0 => self.samples.of(scenario)[i].push(ns),
                        Ok(_) => {}
                        Err(e) => {
                            let dead = matches!(e, BenchError::KernelExited(_));
                            failed[i] = true;
                            record(&mut r.kernels[i].errors, scenario, e)?;
                            if dead {
                                *slot = None;
                            }
                            break;
                        }
                    }
                    // The warmup has the budget to itself; the timed rounds share one.
                    let used = if round > 0 { spent[i] } else { Duration::ZERO };
                    if t0.elapsed() + used >= budget {
                        break;
                    }
                }
                if round > 0 {
                    spent[i] += t0.elapsed();
                }
            }
        }
        Ok(())
    }
}
