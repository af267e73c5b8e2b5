//! The process allocator: mimalloc, which serves the API's many small, short-lived
//! allocations markedly faster than glibc's malloc under two busy threads, told to give
//! freed memory back to the OS soon.
//!
//! mimalloc returns ("purges") freed pages only while some thread allocates or frees
//! pages, and by default only pages freed a second or more before. Bursts on threads that
//! then go idle (the demo seed's writes, each tantivy commit on a fresh indexing thread,
//! the lake's flushes) left about 100 MB resident after the demo seed that the process
//! no longer used. 10 ms keeps the pages a busy route frees and takes again (the book read
//! shows no cost) and gives back the rest while the feeds finish. `MIMALLOC_PURGE_DELAY`
//! in the environment still wins.
// mimalloc's options are reachable through its C API only.
#![allow(unsafe_code)]

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` of mimalloc v3's `mi_option_e` (libmimalloc-sys names no
/// constant for it); `the_purge_delay_option_is_the_one_mimalloc_documents` checks it.
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Applies the purge delay. Call it first thing in `main`, while the process has one thread.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set stores a number in mimalloc's option table with a plain
        // write; no other thread exists yet to read the option at the same time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge delay in force, in milliseconds.
    fn purge_delay_ms() -> std::ffi::c_long {
        // SAFETY: mi_option_get reads a number from mimalloc's option table, which only
        // `configure` writes, and the test binary never calls it.
        unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
    }

    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_documents() {
        // The test binary never calls `configure`, so the option holds mimalloc v3's
        // documented default of 1000 ms; another number means the index points at another
        // option (a new mimalloc renumbered them).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 1000);
        }
    }
}
