//! An allocation that fails is an error, not an abort. Rust ends the process with SIGABRT when
//! memory cannot be had (`handle_alloc_error`): one line without context, and an exit a CI gate
//! reads as a crash. Under the command line, the global [`Allocator`] (the system's allocator
//! underneath) reports such a failure as poisonscan's error instead, once [`arm`]ed: the bytes
//! asked for and the limit that refused them (`RLIMIT_AS`, `RLIMIT_DATA`, or the machine's
//! memory), then it removes the temporary files of the outputs being written
//! ([`crate::output`]) and exits with code 2. Code that can do without an allocation asks for
//! it inside [`fallible`]: there a failure is returned to the caller as usual.
//!
//! Written by hand: stable Rust has no hook for allocation failure
//! (`std::alloc::set_alloc_error_hook` is unstable), and no crate wraps one. An allocator may not
//! allocate, so the message is formatted into a buffer on the stack and written with write(2).
//!
//! A cgroup's `memory.max` does not make an allocation fail (the kernel's OOM killer ends the
//! process instead); poisonscan keeps within such a limit by its design (memory bounded by the
//! columns, the sample and 16 bytes a row, not by the data's size).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a failed allocation ends the process with poisonscan's error (the command line's).
static ARMED: AtomicBool = AtomicBool::new(false);
/// Set by the first thread that reports a failure: any other waits for the exit.
static REPORTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Inside [`fallible`] (or while a failure is being reported): a failed allocation is
    /// returned to its caller.
    static FALLIBLE: Cell<bool> = const { Cell::new(false) };
}

/// The command line's global allocator: the system's, with failures reported as errors once
/// [`arm`]ed (see the module's documentation).
pub struct Allocator;

// SAFETY: every call is forwarded to `System` with the caller's arguments; a null result is
// either returned as it is or ends the process.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System.alloc`'s.
        checked(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        checked(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc`, and the caller's contract is `System.realloc`'s.
        checked(unsafe { System.realloc(ptr, layout, new_size) }, new_size)
    }
}

/// While the returned guard lives, a failed allocation outside [`fallible`] is reported and
/// ends the process with exit code 2 (when [`Allocator`] is the global allocator; otherwise
/// nothing changes). The command line holds one for its run: a library caller in the same
/// process (the Python API) is never ended by it afterwards.
#[must_use = "the allocator is armed only while the guard lives"]
pub fn arm() -> Armed {
    ARMED.store(true, Ordering::Relaxed);
    Armed(())
}

/// See [`arm`].
pub struct Armed(());

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.store(false, Ordering::Relaxed);
    }
}

/// Run `f`, whose allocations may fail and be handled (`try_reserve`): a failure inside is
/// returned to the caller, not reported.
pub fn fallible<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = FALLIBLE.try_with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FALLIBLE.with(|c| c.replace(true)));
    f()
}

fn checked(p: *mut u8, size: usize) -> *mut u8 {
    // During the thread's teardown the flag is gone: the failure is returned (Rust aborts).
    if p.is_null()
        && ARMED.load(Ordering::Relaxed)
        && !FALLIBLE.try_with(Cell::get).unwrap_or(true)
        && !absurd_in_decoder(size)
    {
        out_of_memory(size);
    }
    p
}

/// A request inside the Parquet decoder for more than the process could ever have (its limit,
/// or the machine's memory): a size read from a damaged file. It is returned to the decoder,
/// whose failure is reported as the damaged file it is (`ingest::parquet`), not as a lack of
/// memory.
fn absurd_in_decoder(size: usize) -> bool {
    if !crate::ingest::in_decoder() {
        return false;
    }
    #[cfg(unix)]
    {
        let (address_space, data) = limits();
        // SAFETY: sysconf has no preconditions.
        let (pages, page) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let machine = (pages > 0 && page > 0).then(|| pages as u64 * page as u64);
        let most = [address_space, data, machine].into_iter().flatten().min();
        most.is_some_and(|m| size as u64 > m)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Text in a buffer on the stack (the rest is cut).
struct StackText {
    buf: [u8; 1024],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Bytes as people read them: `512 bytes`, `1.5 GiB`.
struct Bytes(u64);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 1024 {
            return write!(f, "{} bytes", self.0);
        }
        let mut v = self.0 as f64 / 1024.0;
        let mut i = 0;
        while v >= 1024.0 && i + 1 < units.len() {
            v /= 1024.0;
            i += 1;
        }
        write!(f, "{v:.1} {}", units[i])
    }
}

/// The soft limits on the address space and on the data, where set.
#[cfg(unix)]
fn limits() -> (Option<u64>, Option<u64>) {
    // A macro: the resource's type differs between C libraries.
    macro_rules! soft {
        ($resource:expr) => {{
            let mut r = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes the struct it is given.
            let ok = unsafe { libc::getrlimit($resource, &mut r) } == 0;
            (ok && r.rlim_cur != libc::RLIM_INFINITY).then_some(r.rlim_cur as u64)
        }};
    }
    (soft!(libc::RLIMIT_AS), soft!(libc::RLIMIT_DATA))
}

/// The message for a failed allocation of `size` bytes, naming the limits that apply.
fn message(size: usize, address_space: Option<u64>, data: Option<u64>) -> StackText {
    let mut t = StackText {
        buf: [0; 1024],
        len: 0,
    };
    let _ = write!(
        t,
        "error: out of memory: an allocation of {} failed under ",
        Bytes(size as u64)
    );
    let _ = match (address_space, data) {
        (Some(a), Some(d)) => write!(
            t,
            "the process's limits on its address space (RLIMIT_AS, `ulimit -v`) of {} and on its data (RLIMIT_DATA, `ulimit -d`) of {}",
            Bytes(a),
            Bytes(d)
        ),
        (Some(a), None) => write!(
            t,
            "the process's limit on its address space (RLIMIT_AS, `ulimit -v`) of {}",
            Bytes(a)
        ),
        (None, Some(d)) => write!(
            t,
            "the process's limit on its data (RLIMIT_DATA, `ulimit -d`) of {}",
            Bytes(d)
        ),
        (None, None) => write!(
            t,
            "the machine's memory (the process has no RLIMIT_AS or RLIMIT_DATA limit)"
        ),
    };
    let _ = write!(
        t,
        "\nhint: raise the limit, or ask for less memory: fewer --threads, a smaller --sample-size, fewer columns (--columns, --exclude), or the data in parts profiled apart and combined with `poisonscan merge`\n"
    );
    t
}

#[cold]
fn out_of_memory(size: usize) -> ! {
    // Whatever is allocated from here on may fail and is handled where it happens.
    let _ = FALLIBLE.try_with(|c| c.set(true));
    #[cfg(unix)]
    {
        if REPORTING.swap(true, Ordering::SeqCst) {
            // Another thread reports and exits.
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        }
        let (address_space, data) = limits();
        let t = message(size, address_space, data);
        let mut rest = &t.buf[..t.len];
        while !rest.is_empty() {
            // SAFETY: `rest` is valid for its length.
            let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                break;
            }
            rest = &rest[n as usize..];
        }
        // Held until the exit: no output is staged in between.
        let _staged = crate::output::remove_staged_now();
        // SAFETY: _exit ends the process at once, running nothing that could allocate.
        unsafe { libc::_exit(2) }
    }
    #[cfg(not(unix))]
    {
        let _ = REPORTING.swap(true, Ordering::SeqCst);
        std::alloc::handle_alloc_error(
            Layout::from_size_align(size, 1).unwrap_or(Layout::new::<u8>()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &StackText) -> &str {
        std::str::from_utf8(&t.buf[..t.len]).unwrap()
    }

    #[test]
    fn the_message_names_the_limit_that_applies() {
        let gib = 1u64 << 30;
        let t = message(3 << 29, Some(gib), None);
        assert!(text(&t).starts_with(
            "error: out of memory: an allocation of 1.5 GiB failed under the process's limit on its address space (RLIMIT_AS, `ulimit -v`) of 1.0 GiB\nhint: raise the limit"
        ));
        let t = message(100, None, Some(300 << 20));
        assert!(text(&t).contains("an allocation of 100 bytes failed under the process's limit on its data (RLIMIT_DATA, `ulimit -d`) of 300.0 MiB"));
        let t = message(2048, Some(gib), Some(gib));
        assert!(text(&t).contains("of 2.0 KiB failed under the process's limits on its address space (RLIMIT_AS, `ulimit -v`) of 1.0 GiB and on its data"));
        let t = message(2048, None, None);
        assert!(
            text(&t).contains(
                "the machine's memory (the process has no RLIMIT_AS or RLIMIT_DATA limit)"
            )
        );
        assert!(text(&t).ends_with("`poisonscan merge`\n"));
    }

    #[test]
    fn fallible_allocations_are_returned_and_the_flag_restored() {
        // Not armed in unit tests: a failure is the caller's either way; the flag nests.
        let r = fallible(|| {
            let inner = fallible(|| FALLIBLE.with(Cell::get));
            (inner, FALLIBLE.with(Cell::get))
        });
        assert_eq!(r, (true, true));
        assert!(!FALLIBLE.with(Cell::get));
        let mut v: Vec<u8> = Vec::new();
        assert!(fallible(|| v.try_reserve_exact(usize::MAX / 2)).is_err());
    }
}
