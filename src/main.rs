//! The `poisonscan` binary: the library's command line ([`poisonscan::cli::main`]) with the
//! process's arguments, its return value the exit code.

fn main() {
    std::process::exit(poisonscan::cli::main(std::env::args_os()));
}
