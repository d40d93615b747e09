//! Keeps the harness, and every bootstrap it spawns, on one CPU.
//!
//! A warm invocation here is a handful of hops between two processes (the event to the
//! bootstrap, each DynamoDB call to the stub and back, the answer to the emulator). On
//! a machine with two vCPUs whose idle ones halt, a hop that wakes the other vCPU costs
//! 60-80 µs more than one that stays on the same CPU, and which hops do is the
//! scheduler's choice from one invocation to the next: the empty function's warm p50 was
//! 118-178 µs on either of two CPUs and 52-57 µs on one, and the same build's overhead
//! beyond its calls moved by tens of µs between runs (docs/performance.md, "One CPU for
//! the harness"). On one CPU the difference between a function and its calls is the work
//! the function does, repeatable to a few µs. A Lambda function at 256 MB gets about a
//! seventh of one vCPU's time, so one CPU is also the nearer picture of production.

use std::io;

/// Restricts the calling thread, and the threads and processes it starts after this,
/// to the highest-numbered CPU it may run on now (so `taskset` can choose it); returns
/// that CPU.
#[cfg(target_os = "linux")]
pub fn pin() -> io::Result<usize> {
    // SAFETY: `cpu_set_t` is plain bits, for which all zeroes is the empty set; the
    // calls are given its exact size, and `CPU_ISSET`/`CPU_SET` are only given CPU
    // numbers below `CPU_SETSIZE`.
    unsafe {
        use std::mem::{size_of, zeroed};
        let mut allowed: libc::cpu_set_t = zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return Err(io::Error::last_os_error());
        }
        let cpu = (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&cpu| libc::CPU_ISSET(cpu, &allowed))
            .ok_or_else(|| io::Error::other("this process may run on no CPU"))?;
        let mut one: libc::cpu_set_t = zeroed();
        libc::CPU_SET(cpu, &mut one);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &one) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(cpu)
    }
}

/// Lambda runs on Linux, and so does this harness's pinning; elsewhere, `--any-cpu`.
#[cfg(not(target_os = "linux"))]
pub fn pin() -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "CPU affinity is set only on Linux",
    ))
}
