//! The `tracectl` binary.

use clap::Parser;
use tracectl::cli::{self, Cli, Command, Failure};

fn main() {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        // `tracectl list | head`: die quietly on a closed pipe, as Unix
        // tools do, instead of panicking in println!. (`run` keeps SIGPIPE
        // ignored: it handles the closed pipe, detaches and summarises.)
        // SAFETY: setting a signal disposition to its default.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match &cli.command {
        Command::Run(a) => tracectl::run::run(a),
        Command::Check(a) => cli::check(a),
        Command::Compile(a) => cli::compile(a),
        Command::Fmt(a) => cli::fmt(a),
        Command::Schema => cli::schema(),
        Command::List(a) => cli::list(a),
    };
    match result {
        Ok(()) => {}
        Err(Failure::Reported) => std::process::exit(1),
        Err(Failure::Message(m)) => {
            eprintln!("tracectl: {m}");
            std::process::exit(1);
        }
    }
}
