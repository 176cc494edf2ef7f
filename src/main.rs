//! The `poisonscan` binary: the library's command line ([`poisonscan::cli::main`]) with the
//! process's arguments, its return value the exit code.

/// A failed allocation is poisonscan's error, exit code 2, not an abort (see `poisonscan::oom`).
#[global_allocator]
static ALLOCATOR: poisonscan::oom::Allocator = poisonscan::oom::Allocator;

fn main() {
    // A panic inside the Parquet decoder is damaged data, reported as an error naming the
    // file: no panic message on top of it.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !poisonscan::ingest::in_decoder() {
            report(info);
        }
    }));
    #[cfg(unix)]
    stop_cleanly();
    std::process::exit(poisonscan::cli::main(std::env::args_os()));
}

/// A run stopped by SIGINT, SIGTERM or SIGHUP removes the temporary files of the outputs it was
/// writing, then ends as the signal ends it. A file size limit (`ulimit -f`) sends SIGXFSZ,
/// which would kill the process with its temporary file in place: it is caught (and does
/// nothing), so the write fails with an error the run reports, removing the file.
#[cfg(unix)]
fn stop_cleanly() {
    use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM, SIGXFSZ};
    let ignored = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(SIGXFSZ, ignored) {
        eprintln!("warning: cannot catch SIGXFSZ: {e}");
    }
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    poisonscan::output::stop(|| {
                        let _ = signal_hook::low_level::emulate_default_handler(sig);
                        std::process::exit(128 + sig);
                    });
                }
            });
        }
        Err(e) => eprintln!("warning: cannot catch SIGINT and SIGTERM: {e}"),
    }
}
