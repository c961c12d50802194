//! `archipel`: declarative off-site backups for hosting collectives.
//!
//! One file describes the archipelago (Garage islands run together by
//! chatons, and each chaton's restic backups to another island); `plan`
//! shows what would change on the machines, `apply` makes it so over SSH.

// First, so its out!/outln! macros are seen by every module after it.
#[macro_use]
mod stdout;

mod args;
mod binaries;
mod commands;
mod diagnostics;
mod files;
mod journal;
mod progress;
mod remote;
mod render;
mod timings;

use args::{OutputArgs, SshArgs};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "archipel",
    version,
    about = "Run shared, off-site backups for hosting collectives: Garage islands and restic, from one reviewed file",
    long_about = "archipel reads an archipelago file (HCL) describing islands (Garage clusters run \
        together by a few collectives, the chatons) and each chaton's backups to an island it \
        is not a member of. It checks the file, shows what would change on the machines, and \
        makes it so over SSH.",
    after_help = "Files: -f takes a file or a directory whose *.hcl files form one archipelago \
        (default: the current directory). Language reference: docs/language.md"
)]
struct Cli {
    /// The archipelago: a .hcl file, or a directory of .hcl files.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        env = "ARCHIPEL_FILE",
        default_value = ".",
        value_name = "PATH"
    )]
    file: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the archipelago file offline: syntax, types, references, capacity.
    ///
    /// Reports every problem at once, each with its file, line and column.
    /// Exit status: 0 when valid (warnings allowed), 1 when not.
    #[command(mut_arg("output", args::help("How to print the diagnostics")))]
    Validate {
        #[command(flatten)]
        output: OutputArgs<Output>,
    },
    /// Connect to every machine and report what it is, one round trip each.
    ///
    /// OS, architecture, systemd, and whether Garage and restic are there:
    /// the check to run before a first plan. Exit status: 0 when every
    /// machine answered, 1 when one did not, 130 when interrupted.
    #[command(mut_arg("output", args::help("How to print the facts")))]
    Facts {
        #[command(flatten)]
        output: OutputArgs<Output>,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Show what apply would change: observe every machine and island over
    /// SSH, compare with the file, list the changes in the order apply
    /// makes them.
    ///
    /// Exit status: 0 on success (with --detailed-exitcode: 0 no changes,
    /// 2 changes), 1 on error or when a machine or island could not be
    /// observed, 130 when interrupted.
    Plan {
        #[command(flatten)]
        args: commands::plan::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Make the changes the plan shows, over SSH, then check they converged.
    ///
    /// Shows the plan and asks for confirmation (--auto-approve for CI).
    /// Refuses, before changing anything, an incomplete plan, a binary that
    /// is not the pinned one, and deletions without --allow-destroy.
    /// Exit status: 0 when everything converged, 1 otherwise, 130 when
    /// interrupted.
    Apply {
        #[command(flatten)]
        args: commands::apply::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// How the backups are doing: each job's last success against its
    /// schedule, last snapshot, bucket against quota and last check; each
    /// island's health and capacity.
    ///
    /// Exit status: 0 when every job is fresh and passing and every island
    /// healthy; 1 when a job is stale (no success for two periods of its
    /// schedule) or failing, an island is not healthy, or a host could not
    /// be read; 130 when interrupted.
    Status {
        #[command(flatten)]
        args: commands::status::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Restore a sample of a backup job's latest snapshot on its host and
    /// verify it against the snapshot: proof that the backup restores.
    ///
    /// Records the result where `status` reads it. Exit status: 0 when the
    /// drill passed, 1 when it failed or could not run.
    Drill {
        #[command(flatten)]
        args: commands::drill::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// After losing a backup host: open the job's escrowed password with
    /// one of the chaton's admin keys and set a fresh host up to restore.
    ///
    /// Reads the newest `JOB.escrow/TIME.age` (or, escrowed by an earlier
    /// version, `JOB.escrow.age`) from the chaton's bucket on the
    /// destination island, decrypts it with --identity, then installs
    /// restic, the runner, the password, the job's S3 key and settings on
    /// --to, and lists the repository's snapshots from there. Starts no timer.
    /// With --from-vault, reads both from the chaton's vault instead, with
    /// a read-only key made for it and deleted afterwards, and restores
    /// --snapshot (the latest by default) into --target.
    /// Exit status: 0 when the repository opens on the new host (with
    /// --from-vault: when the snapshot was restored and the key deleted), 1
    /// otherwise.
    Recover {
        #[command(flatten)]
        args: commands::recover::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Clear a vault's incidents once a person has looked into them.
    ///
    /// While an incident is open, the vault deletes nothing; once cleared,
    /// the deletions waiting start their grace period again, and what is
    /// still true (a lifecycle rule) is raised again by the next pass.
    /// Exit status: 0 when cleared, 1 when it could not be.
    Clear {
        #[command(flatten)]
        args: commands::clear::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Print the applies that changed an island, from its journal: when,
    /// who (and the CI job), the plan's digest and summary, and how each
    /// change went.
    ///
    /// Reads every node of the island at once and merges what they hold.
    /// Exit status: 0 when each island's journal could be read from at
    /// least one node, 1 otherwise.
    Log {
        #[command(flatten)]
        args: commands::log::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Report how the live archipelago strays from the file: what changed,
    /// what is missing, what the file does not know.
    ///
    /// Observes like plan and changes nothing. Exit status: 0 when there is
    /// no drift, 2 when there is, 1 when a part could not be observed or
    /// the plan has errors; for a check on a timer.
    Drift {
        #[command(flatten)]
        args: commands::drift::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Print a plan saved with `archipel plan -out FILE`, in any of plan's
    /// formats. Needs no machine.
    Show(commands::show::Args),
    /// Break an island lock left by an apply that crashed.
    ///
    /// apply locks every island before it changes anything, and says who
    /// holds a lock it finds. Exit status: 0 when the lock was broken, 1
    /// when the island holds no lock or another one.
    Unlock {
        #[command(flatten)]
        args: commands::unlock::Args,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Rewrite the files in archipel's canonical layout, keeping comments.
    ///
    /// Two-space indentation, aligned `=` in runs of attributes, one blank
    /// line between blocks. Exit status: 0 on success; with --check, 1 when
    /// a file is not formatted.
    Fmt {
        /// Change nothing; exit 1 and list the files that need formatting.
        #[arg(long)]
        check: bool,
        /// Print the changes as a unified diff.
        #[arg(long)]
        diff: bool,
    },
}

/// Terraform's single-dash spellings of long options (`-out FILE`,
/// `-out=FILE`, `-detailed-exitcode`, `-auto-approve`, `-check`…), as users
/// type them, read as their `--` form. Only names that are long options of
/// archipel are rewritten: `-f` and `-v` stay short options, and anything
/// after `--` or not an option is left alone.
fn terraform_style(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut long_names = std::collections::BTreeSet::new();
    let mut commands = vec![&command];
    while let Some(command) = commands.pop() {
        long_names.extend(command.get_arguments().filter_map(|a| a.get_long()));
        commands.extend(command.get_subcommands());
    }
    long_names.extend(["help", "version"]);
    let mut options_ended = false;
    args.map(|arg| {
        let Some(text) = arg.to_str() else { return arg };
        if text == "--" {
            options_ended = true;
        }
        let name = text
            .strip_prefix('-')
            .filter(|rest| !options_ended && !rest.starts_with('-'))
            .map(|rest| rest.split('=').next().unwrap_or(rest));
        match name {
            Some(name) if name.len() > 1 && long_names.contains(name) => format!("-{text}").into(),
            _ => arg,
        }
    })
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// For people: the source snippet with the problem marked.
    Human,
    /// For scripts: one JSON document on stdout.
    Json,
}

impl args::Format for Output {
    const JSON: Self = Output::Json;
}

impl Command {
    /// Whether the command was asked for JSON: then every outcome, errors
    /// included, is a JSON document on stdout.
    fn json(&self) -> bool {
        match self {
            Command::Validate { output } | Command::Facts { output, .. } => output.json(),
            Command::Plan { args, .. } => args.output.json(),
            Command::Status { args, .. } => args.output.json(),
            Command::Log { args, .. } => args.output.json(),
            Command::Drift { args, .. } => args.output.json(),
            Command::Show(args) => args.output.json(),
            _ => false,
        }
    }
}

/// The JSON document of an outcome that has no other: a file that could
/// not be read, an interruption.
fn json_error(message: &str, code: u8) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "format_version": "1",
        "error": { "message": message },
        "exit_code": code,
    }))
    .expect("JSON values serialize")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(terraform_style(std::env::args_os())) {
        Ok(cli) => cli,
        // --help and --version are answers, not errors.
        Err(error) if !error.use_stderr() => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        // A usage error exits 1, as Terraform's do: 2 means "changes" or
        // "drift", which a mistyped flag in CI must never read as.
        Err(error) => {
            let _ = error.print();
            return ExitCode::FAILURE;
        }
    };
    let result = match &cli.command {
        Command::Validate { output } => commands::validate::run(&cli.file, output.format()),
        Command::Fmt { check, diff } => commands::fmt::run(&cli.file, *check, *diff),
        Command::Apply { args, ssh } => ssh
            .read_only_settings()
            .and_then(|ssh| commands::apply::run(&cli.file, ssh, args)),
        Command::Plan { args, ssh } => ssh
            .read_only_settings()
            .and_then(|ssh| commands::plan::run(&cli.file, ssh, args)),
        Command::Status { args, ssh } => ssh
            .read_only_settings()
            .and_then(|ssh| commands::status::run(&cli.file, ssh, args)),
        Command::Drill { args, ssh } => ssh
            .read_only_settings()
            .and_then(|ssh| commands::drill::run(&cli.file, ssh, args)),
        Command::Recover { args, ssh } => ssh
            .read_only_settings()
            .and_then(|ssh| commands::recover::run(&cli.file, ssh, args)),
        Command::Clear { args, ssh } => ssh
            .settings()
            .and_then(|ssh| commands::clear::run(&cli.file, ssh, args)),
        Command::Log { args, ssh } => ssh
            .settings()
            .and_then(|ssh| commands::log::run(&cli.file, ssh, args)),
        Command::Show(args) => commands::show::run(args),
        Command::Unlock { args, ssh } => ssh
            .settings()
            .and_then(|ssh| commands::unlock::run(&cli.file, ssh, args)),
        Command::Drift { args, ssh } => ssh
            .settings()
            .and_then(|ssh| commands::drift::run(&cli.file, ssh, args)),
        Command::Facts { output, ssh } => ssh
            .settings()
            .and_then(|ssh| commands::facts::run(&cli.file, ssh, output.format())),
    };
    let json = cli.command.json();
    match result {
        Ok(code) => {
            if json && !stdout::anything_written() {
                // Interrupted, or stopped before its report: say so in JSON.
                outln!(
                    "{}",
                    json_error(
                        "stopped before a report (see standard error)",
                        exit_code_number(code)
                    )
                );
            }
            code
        }
        Err(error) => {
            eprintln!("Error: {error}");
            if json {
                outln!("{}", json_error(&error.to_string(), 1));
            }
            ExitCode::FAILURE
        }
    }
}

/// ExitCode hides its number; the ones archipel returns are these.
fn exit_code_number(code: ExitCode) -> u8 {
    [0u8, 1, 2, remote::INTERRUPTED]
        .into_iter()
        .find(|n| ExitCode::from(*n) == code)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    /// The derived command is sound: every id a flag names (`conflicts_with`,
    /// `mut_arg`) exists, no two flags share a name.
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// A flag flattened from a shared group still has its command's help.
    #[test]
    fn every_flag_has_help() {
        let command = Cli::command();
        for sub in command.get_subcommands() {
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "archipel {} {} has no help",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }

    /// A saved plan fixes its scope: apply refuses `--only` with one, in
    /// either order, and takes it without.
    #[test]
    fn apply_refuses_only_with_a_saved_plan() {
        for (args, first_line) in [
            (
                ["archipel", "apply", "--only", "island.a", "saved.plan"],
                "error: the argument '--only <ADDRESS>' cannot be used with '[PLANFILE]'",
            ),
            (
                ["archipel", "apply", "saved.plan", "--only", "island.a"],
                "error: the argument '[PLANFILE]' cannot be used with '--only <ADDRESS>'",
            ),
        ] {
            let error = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
            let text = error.render().to_string();
            assert_eq!(text.lines().next(), Some(first_line), "{text}");
        }
        assert!(Cli::try_parse_from(["archipel", "apply", "--only", "island.a"]).is_ok());
        assert!(Cli::try_parse_from(["archipel", "apply", "saved.plan"]).is_ok());
        assert!(Cli::try_parse_from(["archipel", "plan", "--only", "island.a"]).is_ok());
    }
}
