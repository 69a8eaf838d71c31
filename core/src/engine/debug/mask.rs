//! The hook mask while breakpoints exist: which events are on, and when they change.

use std::os::raw::c_int;

use super::hook::{MASK_CALL, MASK_COUNT, MASK_LINE, MASK_RET};

/// What a hook event is about, for [`next_mask`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Moment {
    /// No function runs (a request is about to start).
    Idle,
    /// A function runs (line and count events).
    At,
    /// A function is entered.
    Call,
    /// A function returns to its caller; `bottom` when nothing but C lies below the caller.
    Return {
        /// Nothing but C lies below the caller.
        bottom: bool,
    },
}

/// The mask while breakpoints exist, after `moment`, where `needs` says whether the
/// function the moment is about (the one running, entered, or returned to) may reach a
/// breakpoint.
///
/// Call and count events are always on. Line events are on only inside functions that may
/// reach a breakpoint. Return events are turned on when a call leaves such a function for
/// one that cannot (to turn line events back on when it returns), and off again only on
/// returning to the bottom of the stack: a loop that never enters a function with a
/// breakpoint pays for call events only.
pub(crate) fn next_mask(current: c_int, moment: Moment, needs: bool) -> c_int {
    let mut mask = MASK_COUNT | MASK_CALL | (current & (MASK_RET | MASK_LINE));
    match moment {
        Moment::Idle => return MASK_COUNT | MASK_CALL,
        Moment::At if needs => mask |= MASK_LINE,
        Moment::At => mask &= !MASK_LINE,
        Moment::Call if needs => mask |= MASK_LINE,
        Moment::Call if mask & MASK_LINE != 0 => mask = (mask & !MASK_LINE) | MASK_RET,
        Moment::Call => {}
        Moment::Return { .. } if needs => mask |= MASK_LINE,
        Moment::Return { bottom } => {
            mask &= !MASK_LINE;
            if bottom {
                mask &= !MASK_RET;
            }
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: c_int = MASK_COUNT | MASK_CALL;

    #[test]
    fn line_and_return_events_follow_the_functions_with_breakpoints() {
        assert_eq!(
            next_mask(BASE | MASK_LINE | MASK_RET, Moment::Idle, true),
            BASE
        );
        // Entering a function with a breakpoint turns lines on; return events stay off.
        let m = next_mask(BASE, Moment::Call, true);
        assert_eq!(m, BASE | MASK_LINE);
        // Calling out of it turns lines off and returns on, to come back.
        let m = next_mask(m, Moment::Call, false);
        assert_eq!(m, BASE | MASK_RET);
        // Deeper calls without breakpoints change nothing.
        assert_eq!(next_mask(m, Moment::Call, false), m);
        // Returning to a function without breakpoints keeps returns on...
        assert_eq!(next_mask(m, Moment::Return { bottom: false }, false), m);
        // ...and to one with breakpoints turns lines back on.
        let back = next_mask(m, Moment::Return { bottom: false }, true);
        assert_eq!(back, BASE | MASK_RET | MASK_LINE);
        // At the bottom of the stack, nothing above can need them: returns go off.
        assert_eq!(next_mask(m, Moment::Return { bottom: true }, false), BASE);
        // A hot loop that never meets a breakpoint: call events only.
        assert_eq!(next_mask(BASE, Moment::Call, false), BASE);
        assert_eq!(next_mask(BASE | MASK_LINE, Moment::At, false), BASE);
        assert_eq!(next_mask(BASE, Moment::At, true), BASE | MASK_LINE);
    }
}
