//! The `poisonscan` binary: parse flags, call the library, map the outcome to an exit code
//! (0 gate passed, 1 gate failed, 2 the run could not complete).

use clap::Parser;

fn main() {
    let cli = poisonscan::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match poisonscan::app::run(&cli, &[], &mut out) {
        Ok(code) => code,
        Err(e) => {
            let e = anyhow::Error::new(e);
            eprintln!("error: {e}");
            2
        }
    };
    drop(out);
    std::process::exit(code);
}
