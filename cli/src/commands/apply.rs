//! `archipel apply`: compute the plan, show it, ask, make the changes in
//! dependency order over SSH, and observe again to prove what converged.

use crate::args::{DeadNodeArgs, ScopeArgs};
use crate::files::{self, LoadError};
use crate::{progress, remote, render};
use archipel_planner::address::Address;
use archipel_planner::desired::{Desired, desired};
use archipel_planner::model::{Archipelago, Machine, ResticSource, SshTarget};
use archipel_planner::observed::Observed;
use archipel_planner::plan::{Action, BackupStep, HostStep, NodeStep, Plan, Target};
use archipel_planner::saved::SavedPlan;
use archipel_planner::scope::{Scope, restrict};
use archipel_providers::apply::{self, Binaries, Context, Options, Outcome};
use archipel_providers::lock;
use archipel_providers::observe;
use archipel_providers::ssh::{Remote, Ssh, SshSettings};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, clap::Args)]
#[command(mut_arg("only", |only| {
    // A saved plan's scope was fixed when it was saved.
    only.help(
        "Apply only to these islands, chatons or nodes (island.NAME, chaton.NAME, \
         node.NAME; repeatable), and what their changes need",
    )
    .conflicts_with("saved")
}))]
#[command(mut_arg("dead_nodes", |dead| {
    // A saved plan says which nodes it drops as dead.
    dead.conflicts_with("saved")
}))]
pub struct Args {
    /// A plan saved with `archipel plan -out FILE`: applied exactly as it
    /// was saved, without asking, or refused when the file or the live
    /// state it was computed from changed since.
    #[arg(value_name = "PLANFILE")]
    saved: Option<std::path::PathBuf>,
    #[command(flatten)]
    only: ScopeArgs,
    #[command(flatten)]
    dead: DeadNodeArgs,
    /// Do not ask for confirmation (for CI). Without it, apply asks on a
    /// terminal and refuses to run anywhere else.
    #[arg(long)]
    auto_approve: bool,
    /// Allow the plan to delete (nodes out of a layout, permissions).
    #[arg(long)]
    allow_destroy: bool,
    /// Drop layout changes someone staged by hand before staging archipel's.
    #[arg(long)]
    clear_staged: bool,
    /// How long a node leaving its island may take to hand its data over
    /// before apply gives up waiting (it keeps running; apply again later).
    /// Garage needs at least ten minutes for a node that holds data.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
    drain_timeout: std::time::Duration,
}

pub fn run(path: &Path, settings: SshSettings, args: &Args) -> Result<ExitCode, LoadError> {
    let Some(model) = files::load_valid(path, false)? else {
        return Ok(ExitCode::FAILURE);
    };
    let mut desired = desired(&model);
    args.dead.declare(&mut desired)?;
    let saved = args.saved.as_deref().map(files::read_saved).transpose()?;
    let scopes = args.only.scopes(&desired)?;
    let runtime = remote::runtime()?;
    let grace = remote::grace(settings.connect_timeout);
    // Live lines would garble the commands -v prints.
    let live = std::io::stderr().is_terminal() && !settings.show_commands;
    let ssh = Arc::new(Ssh::new(settings).map_err(|e| LoadError::new(e.to_string()))?);
    let apply = Apply {
        args,
        model: &model,
        desired: &desired,
        scopes: &scopes,
        machines: model.machines(),
        saved: saved.as_ref(),
        live,
    };
    let code = runtime.block_on(async {
        let mut stop = remote::ctrl_c();
        let mut observation =
            observe::observe(&ssh, &desired, &apply.machines, &mut stop, grace).await;
        let remotes = std::mem::take(&mut observation.remotes);
        let code = if observation.interrupted {
            eprintln!("Interrupted: nothing changed.");
            ExitCode::from(remote::INTERRUPTED)
        } else {
            apply
                .locked(&ssh, &remotes, &observation.observed, stop)
                .await
        };
        // The connections opened by observing, closed on every way out.
        remote::close(remotes.into_values()).await;
        code
    });
    drop(ssh);
    Ok(code)
}

/// What every phase of an apply reads: the file, what was asked, and the
/// machines.
struct Apply<'a> {
    args: &'a Args,
    model: &'a Archipelago,
    desired: &'a Desired,
    scopes: &'a [Scope],
    machines: Vec<Machine>,
    saved: Option<&'a SavedPlan>,
    /// Progress as live lines (a terminal), or one line per event.
    live: bool,
}

impl Apply<'_> {
    /// Lock every island, apply under the locks, unlock: the locks are
    /// released on every way out of what runs under them.
    async fn locked(
        &self,
        ssh: &Ssh,
        remotes: &BTreeMap<String, Remote>,
        observed: &Observed,
        stop: watch::Receiver<bool>,
    ) -> ExitCode {
        let held = match take_locks(self.desired, remotes).await {
            Ok(held) => held,
            Err(reason) => {
                eprintln!("Error: {reason}");
                return ExitCode::FAILURE;
            }
        };
        // The locks say their holder runs for as long as it does.
        let code = tokio::select! {
            code = self.under_lock(ssh, remotes, observed, stop) => code,
            never = lock::keep_fresh(held.clone()) => match never {},
        };
        release_locks(held).await;
        code
    }

    /// Observe again, plan (or check the saved plan), refuse what must
    /// not run, fetch the binaries, reach the departing nodes, confirm,
    /// execute and verify.
    async fn under_lock(
        &self,
        ssh: &Ssh,
        remotes: &BTreeMap<String, Remote>,
        observed_before: &Observed,
        stop: watch::Receiver<bool>,
    ) -> ExitCode {
        // What was observed before the locks were taken may be what another
        // apply was changing: observe again.
        let observed =
            observe::observe_again(self.desired, remotes, &self.machines, observed_before).await;
        let plan = match self.plan(&observed) {
            Ok(plan) => plan,
            Err(stale) => {
                eprintln!(
                    "Error: saved plan is stale: {}. Nothing was changed; run archipel plan again.",
                    stale.join("; ")
                );
                return ExitCode::FAILURE;
            }
        };
        out!("{}", render::human::render(&plan, crate::stdout::colour()));
        let binaries = match refusal(&plan, self.args)
            .and_then(|()| ping_urls(self.desired, &plan))
            .and_then(|()| binaries(self.model, self.desired, &plan))
        {
            Ok(binaries) => binaries,
            Err(reason) => {
                eprintln!("Error: {reason}");
                return ExitCode::FAILURE;
            }
        };
        let departing = match departing(ssh, &plan).await {
            Ok(departing) => departing,
            Err(reason) => {
                eprintln!("Error: {reason}");
                return ExitCode::FAILURE;
            }
        };
        let code = self
            .confirm_and_execute(&plan, &observed, remotes, &departing, binaries, stop)
            .await;
        // The departing nodes' connections, closed on every way out.
        remote::close(departing.into_values()).await;
        code
    }

    /// The plan to apply: computed now, or the saved one if nothing it was
    /// computed from changed since (else why it is stale).
    fn plan(&self, observed: &Observed) -> Result<Plan, Vec<String>> {
        match self.saved {
            None => Ok(restrict(
                archipel_planner::plan::plan(self.desired, observed),
                self.scopes,
                self.desired,
            )),
            Some(saved) => {
                let stale = saved.staleness(self.model, observed);
                if stale.is_empty() {
                    Ok(saved.clone().into_plan())
                } else {
                    Err(stale)
                }
            }
        }
    }

    async fn confirm_and_execute(
        &self,
        plan: &Plan,
        observed: &Observed,
        remotes: &BTreeMap<String, Remote>,
        departing: &BTreeMap<String, Remote>,
        binaries: Binaries,
        stop: watch::Receiver<bool>,
    ) -> ExitCode {
        if !plan.has_changes() {
            return ExitCode::SUCCESS;
        }
        match confirm(self.args, self.saved.is_some()) {
            Err(reason) => {
                eprintln!("Error: {reason}");
                return ExitCode::FAILURE;
            }
            Ok(false) => {
                eprintln!("Apply cancelled: nothing changed.");
                return ExitCode::FAILURE;
            }
            Ok(true) => {}
        }
        let context = Arc::new(Context::new(
            plan,
            self.desired.clone(),
            remotes.clone(),
            departing.clone(),
            binaries,
            Options {
                clear_staged: self.args.clear_staged,
                drain_within: self.args.drain_timeout,
            },
        ));
        let interrupt = stop.clone();
        let started = crate::journal::now();
        let outcomes = self.execute(plan, Arc::clone(&context), stop).await;
        let interrupted = *interrupt.borrow();
        crate::journal::record(self.desired, plan, &outcomes, started, interrupted, remotes).await;
        if interrupted {
            outln!(
                "Interrupted: the changes in progress finished, no other one started. Run apply again to go on."
            );
            return ExitCode::from(remote::INTERRUPTED);
        }
        let converged = self.verify(remotes, observed).await;
        let all_done = outcomes.iter().all(|(_, o)| matches!(o, Outcome::Done(_)));
        if converged && all_done {
            outln!("The archipelago matches the file.");
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// Makes the changes, showing their progress, and sums them up.
    async fn execute(
        &self,
        plan: &Plan,
        context: Arc<Context>,
        stop: watch::Receiver<bool>,
    ) -> Vec<(Address, Outcome)> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let (outcomes, ()) = tokio::join!(
            apply::apply(plan, context, stop, sender),
            progress::show(plan, receiver, self.live)
        );
        let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
        let (done, failed, skipped) = (
            count(|o| matches!(o, Outcome::Done(_))),
            count(|o| matches!(o, Outcome::Failed(_))),
            count(|o| matches!(o, Outcome::Skipped(_))),
        );
        outln!("\nApply: {done} done, {failed} failed, {skipped} skipped.");
        outcomes
    }

    /// Observes again, the proof of what converged: whether nothing is left
    /// to do (and if not, what is, said).
    async fn verify(&self, remotes: &BTreeMap<String, Remote>, before: &Observed) -> bool {
        let observed = observe::observe_again(self.desired, remotes, &self.machines, before).await;
        let after = restrict(
            archipel_planner::plan::plan(self.desired, &observed),
            self.scopes,
            self.desired,
        );
        if !after.has_changes() && !after.is_blocked() {
            return true;
        }
        outln!("Not converged yet: {}", render::summary_line(&after));
        for change in &after.changes {
            outln!(
                "  {} {}: {}",
                render::symbol(change.action),
                change.address,
                change.reason
            );
        }
        for part in &after.incomplete {
            outln!("  ! {} not observed: {}", part.target, part.problem.message);
        }
        for error in &after.errors {
            outln!("  ! {}: {}", error.address, error.message);
        }
        false
    }
}

/// Takes every island's lock (on its first node) before anything changes;
/// an island held by another apply stops this one, naming the holder. An
/// island whose first node is out of reach is not locked: its plan is
/// incomplete, and refused.
async fn take_locks(
    desired: &Desired,
    remotes: &BTreeMap<String, Remote>,
) -> Result<Vec<(Remote, String)>, String> {
    let id = {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let now = std::time::SystemTime::now();
    let started_unix = lock::now_unix();
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for island in &desired.islands {
        let Some(remote) = island.nodes.first().and_then(|n| remotes.get(&n.name)) else {
            continue;
        };
        let holder = lock::Holder {
            id: id.clone(),
            island: island.name.clone(),
            owner: lock::this_user(),
            host: lock::this_host(),
            pid: std::process::id(),
            started: humantime::format_rfc3339_seconds(now).to_string(),
            started_unix,
            refreshed_unix: started_unix,
        };
        match lock::acquire(remote, &holder).await {
            Ok(Ok(())) => held.push((remote.clone(), id.clone())),
            Ok(Err(lock::Held {
                holder: other,
                liveness: lock::Liveness::Live,
            })) => refused.push(format!(
                "island {} is locked: {}. Another apply is running; if it crashed, break the lock with `archipel unlock {} {}`",
                island.name,
                other.describe(),
                island.name,
                other.id
            )),
            Ok(Err(lock::Held {
                holder: other,
                liveness: lock::Liveness::Gone(why),
            })) => refused.push(format!(
                "island {} is locked by a stale lock: {}; its holder is gone ({why}). Make sure no apply runs on island {}, then break it with `archipel unlock {} {}`",
                island.name,
                other.describe(),
                island.name,
                island.name,
                other.id
            )),
            Err(error) => refused.push(format!("island {}: {error}", island.name)),
        }
    }
    if refused.is_empty() {
        Ok(held)
    } else {
        release_locks(held).await;
        Err(format!("{}\nNothing was changed.", refused.join("\n")))
    }
}

async fn release_locks(held: Vec<(Remote, String)>) {
    for (remote, id) in held {
        match lock::release(&remote, &id).await {
            Ok(true) => {}
            Ok(false) => eprintln!(
                "warning: {}: the island's lock {id} was no longer there (broken by archipel unlock?)",
                remote.host()
            ),
            Err(error) => eprintln!("warning: could not release the island's lock {id}: {error}"),
        }
    }
}

/// Reasons to refuse before touching anything.
fn refusal(plan: &Plan, args: &Args) -> Result<(), String> {
    if plan.is_blocked() {
        return Err("the plan is incomplete or has errors: nothing was changed".into());
    }
    let destroys: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .map(|c| c.address.to_string())
        .collect();
    if !destroys.is_empty() && !args.allow_destroy {
        return Err(format!(
            "the plan destroys {}: rerun with --allow-destroy if that is what you want",
            destroys.join(", ")
        ));
    }
    Ok(())
}

/// The ping URLs the plan writes from apply's environment are there and
/// are URLs, before anything is touched.
fn ping_urls(desired: &Desired, plan: &Plan) -> Result<(), String> {
    let problems: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|change| match &change.target {
            Target::Backup {
                chaton,
                job,
                step: BackupStep::Ping,
                ..
            } => desired
                .backups
                .iter()
                .find(|b| b.chaton == *chaton && b.job == *job),
            _ => None,
        })
        .filter_map(|job| {
            let source = job.ping.as_ref()?.source.as_ref()?;
            archipel_providers::backup::ping_url(job, &source.variable).err()
        })
        .map(|problem| problem.to_string())
        .collect();
    match problems.is_empty() {
        true => Ok(()),
        false => Err(format!("{}: nothing was changed", problems.join("; "))),
    }
}

/// Connections to the nodes the plan removes from their islands (the file
/// no longer lists them; their layout roles say where they are). A node
/// that cannot be reached is not removed: archipel stops a node only after
/// it has handed its data over, and it must run for that.
async fn departing(ssh: &Ssh, plan: &Plan) -> Result<BTreeMap<String, Remote>, String> {
    let leaving: Vec<(&str, &SshTarget)> = plan
        .changes
        .iter()
        .filter_map(|c| match &c.target {
            // A dead node's machine is gone: nothing to reach or stop.
            Target::NodeRemoval {
                node,
                ssh,
                dead: false,
                ..
            } => Some((node.as_str(), ssh)),
            _ => None,
        })
        .collect();
    let connected = futures_util::future::join_all(leaving.iter().map(|(node, target)| async move {
        ssh.connect(node, target, None).await.map_err(|e| {
            format!("node {node} leaves its island but cannot be reached ({e}); it must run until its data has moved: bring it back, then apply again (nothing was changed)")
        })
    }))
    .await;
    let mut departing = BTreeMap::new();
    let mut problems = Vec::new();
    for ((node, _), result) in leaving.iter().zip(connected) {
        match result {
            Ok(remote) => {
                departing.insert(node.to_string(), remote);
            }
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(departing)
    } else {
        remote::close(departing.into_values()).await;
        Err(problems.join("\n"))
    }
}

/// The binaries the plan installs: Garage for islands, pinned restic for
/// backup hosts, each checked against its pinned sha256 before anything is
/// installed. A URL is fetched once, by archipel, whatever the number of
/// machines that need it.
fn binaries(model: &Archipelago, desired: &Desired, plan: &Plan) -> Result<Binaries, String> {
    let mut binaries = Binaries::default();
    let mut fetched: BTreeMap<String, Arc<Vec<u8>>> = BTreeMap::new();
    for change in &plan.changes {
        match &change.target {
            Target::Node {
                island,
                step: NodeStep::Binary,
                ..
            } if !binaries.garage.contains_key(island) => {
                let garage = &model.island(island).ok_or("unknown island")?.garage;
                let bytes = crate::binaries::checked(&garage.binary, &garage.sha256, &mut fetched)
                    .map_err(|e| format!("island {island}: the Garage binary {e}"))?;
                binaries.garage.insert(island.clone(), bytes);
            }
            Target::BackupHost {
                machine,
                step: HostStep::Restic,
            } => {
                let pinned = desired
                    .backups
                    .iter()
                    .find(|b| &b.machine == machine)
                    .map(|b| &b.restic);
                if let Some(ResticSource::Binary { binary, sha256 }) = pinned {
                    let bytes = crate::binaries::checked(binary, sha256, &mut fetched)
                        .map_err(|e| format!("{machine}: restic {e}"))?;
                    binaries.restic.insert(machine.clone(), bytes);
                }
            }
            _ => {}
        }
    }
    Ok(binaries)
}

/// A saved plan was reviewed when it was made: it is not asked about again.
fn confirm(args: &Args, saved: bool) -> Result<bool, String> {
    if args.auto_approve || saved {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err("not on a terminal: pass --auto-approve to apply without confirmation".into());
    }
    out!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer.trim() == "yes")
}
