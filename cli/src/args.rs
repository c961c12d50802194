//! The flags several subcommands share, each group declared once here and
//! `#[command(flatten)]`ed into every command that takes it, then read and
//! checked here: how to reach machines (`--ssh-config`,
//! `--accept-new-host-keys`, `-v`), how to print (`--output`), what a plan
//! is cut down to (`--only`), and a backup job (`CHATON/JOB`). `-f`, the
//! archipelago, is the top command's, global to all.
//!
//! A flag whose help is in the words of its command (`How to print the
//! plan`) gets it where the group is flattened:
//! `#[command(mut_arg("output", args::help("…")))]`.

use crate::files::LoadError;
use archipel_planner::desired::{Desired, DesiredBackup};
use archipel_planner::scope::{self, Scope};
use archipel_providers::ssh::{HostKeyPolicy, SshSettings};
use std::path::PathBuf;

/// For `mut_arg`: a flattened flag's help, as its command words it (like
/// a doc comment's summary, without the final period).
pub fn help(text: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |arg| arg.help(text)
}

/// How to reach machines: for the commands that do.
#[derive(Debug, clap::Args)]
pub struct SshArgs {
    /// An ssh_config file to use instead of ~/.ssh/config (as `ssh -F`).
    #[arg(long, env = "ARCHIPEL_SSH_CONFIG", value_name = "FILE")]
    ssh_config: Option<PathBuf>,

    /// Trust the host key of machines seen for the first time (OpenSSH's
    /// accept-new) and record it in known_hosts. A changed key is still
    /// refused, and a key pinned with `host_key` always wins.
    #[arg(long)]
    accept_new_host_keys: bool,

    /// Show each command run on a machine as it starts (never a secret:
    /// those travel on the commands' input, which is not shown).
    #[arg(short = 'v', long)]
    verbose: bool,
}

impl SshArgs {
    pub fn settings(&self) -> Result<SshSettings, LoadError> {
        if let Some(config) = &self.ssh_config
            && let Err(e) = std::fs::metadata(config)
        {
            return Err(LoadError::new(format!(
                "cannot read the SSH config {}: {e}",
                config.display()
            )));
        }
        Ok(SshSettings {
            config_file: self.ssh_config.clone(),
            host_keys: if self.accept_new_host_keys {
                HostKeyPolicy::AcceptNew
            } else {
                HostKeyPolicy::Strict
            },
            show_commands: self.verbose,
            ..SshSettings::default()
        })
    }

    /// The settings of a command that only reads: no secret crosses its
    /// connections, so they start with OpenSSH's quick key exchanges
    /// (where the user's configuration did not choose them).
    pub fn read_only_settings(&self) -> Result<SshSettings, LoadError> {
        Ok(SshSettings {
            quick_key_exchange: true,
            ..self.settings()?
        })
    }
}

/// The formats a command prints in: `human`, its default, and `json` among
/// them.
pub trait Format:
    clap::ValueEnum + Clone + Copy + PartialEq + Send + Sync + std::fmt::Debug + 'static
{
    /// The format for scripts: with it, every outcome of the command,
    /// errors included, is a JSON document on stdout.
    const JSON: Self;
}

/// `--output`: how a command prints what it found. Its help is the
/// command's.
#[derive(Debug, clap::Args)]
pub struct OutputArgs<F: Format> {
    #[arg(long, value_enum, default_value = "human")]
    output: F,
}

impl<F: Format> OutputArgs<F> {
    pub fn format(&self) -> F {
        self.output
    }

    /// Whether every outcome, errors included, is to be printed as JSON.
    pub fn json(&self) -> bool {
        self.output == F::JSON
    }
}

/// `--only`: the islands, chatons or nodes a plan is cut down to.
#[derive(Debug, clap::Args)]
pub struct ScopeArgs {
    /// Plan only for these islands, chatons or nodes (island.NAME,
    /// chaton.NAME, node.NAME; repeatable), and what their changes need.
    #[arg(long = "only", value_name = "ADDRESS")]
    only: Vec<String>,
}

impl ScopeArgs {
    /// Every `--only`, parsed and checked against the file; the first bad
    /// one is the error. None means the whole plan.
    pub fn scopes(&self, desired: &Desired) -> Result<Vec<Scope>, LoadError> {
        scope::parse_all(&self.only, desired).map_err(LoadError::new)
    }
}

/// `--dead-node`: nodes out of the file whose machine is gone for good.
#[derive(Debug, clap::Args)]
pub struct DeadNodeArgs {
    /// A node taken out of the file whose machine is gone for good
    /// (repeatable): dropped from its island's layout without handing its
    /// data over, instead of drained; the plan says which data has one copy
    /// fewer until the island has copied it again.
    #[arg(long = "dead-node", value_name = "NODE")]
    dead_nodes: Vec<String>,
}

impl DeadNodeArgs {
    /// Declares the nodes dead in `desired`; a node the file still has is
    /// the error.
    pub fn declare(&self, desired: &mut Desired) -> Result<(), LoadError> {
        for name in &self.dead_nodes {
            if desired
                .islands
                .iter()
                .any(|i| i.nodes.iter().any(|n| &n.name == name))
            {
                return Err(LoadError::new(format!(
                    "--dead-node {name}: {name} is a node of the file; take its block out of the file (and add its replacement) first"
                )));
            }
        }
        desired.dead_nodes = self.dead_nodes.iter().cloned().collect();
        Ok(())
    }
}

/// `CHATON/JOB`: one backup job of the file. Its help is the command's.
#[derive(Debug, clap::Args)]
pub struct JobArgs {
    #[arg(value_name = "CHATON/JOB")]
    job: String,
}

/// The job as it was written, `CHATON/JOB`.
impl std::fmt::Display for JobArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.job)
    }
}

impl JobArgs {
    /// The job in the file, or why there is none.
    pub fn of<'d>(&self, desired: &'d Desired) -> Result<&'d DesiredBackup, LoadError> {
        desired.backup(&self.job).map_err(LoadError::new)
    }
}
