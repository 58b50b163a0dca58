//! The claim word of a single-participant side (spec/LAYOUT.md, section 11): 0 when free,
//! otherwise the holder's token, its process id. A claim of a dead (or zombie) holder is taken
//! over; a live holder's is refused.

use crate::error::{ClaimError, Side};
use crate::sync::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed},
};

/// Takes the claim word `owner` for this process: at most four compare-and-swaps, from 0 or
/// from a dead holder's token. Returns the token to give back with [`unclaim`].
pub(crate) fn claim(owner: &AtomicU32, side: Side) -> Result<u32, ClaimError> {
    let me = crate::current_pid().max(1);
    let mut expected = 0;
    // Each failed attempt observed a different owner word; a few attempts cover "free",
    // "left by an exited process" and the races between them.
    for _ in 0..4 {
        match owner.compare_exchange(expected, me, AcqRel, Acquire) {
            Ok(_) => return Ok(me),
            Err(0) => expected = 0,
            Err(cur) if cur == me || crate::pid_alive(cur) => {
                return Err(ClaimError::Busy { side, owner: cur })
            }
            Err(cur) => expected = cur,
        }
    }
    Err(ClaimError::Busy {
        side,
        owner: owner.load(Acquire),
    })
}

/// Gives the claim back if `owner` still holds `token` (0: nothing was claimed).
pub(crate) fn unclaim(owner: &AtomicU32, token: u32) {
    if token != 0 {
        let _ = owner.compare_exchange(token, 0, AcqRel, Relaxed);
    }
}
