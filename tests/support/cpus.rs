//! The CPUs a test may pin glommio shards to.

/// The first CPU this process may run on.
pub fn first_cpu() -> usize {
    // SAFETY: an all-zero cpu_set_t is valid; sched_getaffinity fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(rc, 0);
    (0..8 * std::mem::size_of::<libc::cpu_set_t>())
        // SAFETY: the index is within the set's bits.
        .find(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .expect("some CPU is allowed")
}
