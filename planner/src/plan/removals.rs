//! Backup jobs found on a machine of the file where the file no longer runs
//! them.

use super::{Action, Builder, Incomplete, Target};
use crate::address::Address;
use crate::backup;
use crate::desired::Desired;
use crate::observed::{MachineObservation, Observed};

/// Jobs installed on a machine of the file that the file does not run
/// there (removed, or moved to another host). Machines that left the file
/// are not observed: their jobs are out of archipel's sight.
pub(super) fn plan_backup_removals(desired: &Desired, observed: &Observed, b: &mut Builder) {
    check_removed_blocks(desired, observed, b);
    for (machine, observation) in &observed.machines {
        let MachineObservation::Reached { facts } = observation else {
            continue;
        };
        if let Some(probe) = facts.probes.get(backup::JOBS_PROBE.0) {
            plan_jobs_left_on(machine, &probe.output, desired, b);
        }
    }
}

/// `removed` blocks: their hosts must be reached, and say when they are
/// done.
fn check_removed_blocks(desired: &Desired, observed: &Observed, b: &mut Builder) {
    for crate::desired::RemovedJob {
        chaton,
        job,
        machine,
    } in &desired.removed
    {
        let address = Address::Job {
            chaton: chaton.clone(),
            job: job.clone(),
        };
        match observed.machines.get(machine) {
            Some(MachineObservation::Reached { facts }) => {
                let left = facts.probes.get(backup::JOBS_PROBE.0).is_some_and(|p| {
                    backup::installed_jobs(&p.output)
                        .iter()
                        .any(|j| &j.chaton == chaton && &j.job == job)
                });
                if !left {
                    b.plan.warnings.push(format!(
                        "removed \"{job}\" of chaton \"{chaton}\": nothing of it is left on {machine}; the `removed` block can go"
                    ));
                }
            }
            Some(MachineObservation::Unreachable { problem }) => {
                match b.plan.incomplete.iter_mut().find(|i| &i.target == machine) {
                    Some(entry) => entry.not_planned.push(address),
                    None => b.plan.incomplete.push(Incomplete {
                        target: machine.clone(),
                        problem: problem.clone(),
                        not_planned: vec![address],
                    }),
                }
            }
            None => {}
        }
    }
}

/// The jobs found on `machine` (the jobs probe's `output`) that the file
/// does not run there.
fn plan_jobs_left_on(machine: &str, output: &str, desired: &Desired, b: &mut Builder) {
    for found in backup::installed_jobs(output) {
        let wanted = desired
            .backups
            .iter()
            .find(|d| d.chaton == found.chaton && d.job == found.job);
        let (moved_to, reason) = match wanted {
            Some(d) if d.machine == machine => continue,
            Some(d) => (
                Some(d.machine.clone()),
                format!(
                    "backup \"{}\" of chaton \"{}\" now runs on {}: its timers on {machine} are stopped and its units and files removed",
                    found.job, found.chaton, d.machine
                ),
            ),
            None => (
                None,
                format!(
                    "backup \"{}\" of chaton \"{}\" is no longer in the file: its timers on {machine} are stopped and its units and files removed",
                    found.job, found.chaton
                ),
            ),
        };
        let password = if found.escrowed {
            "removed from the host (it is escrowed)"
        } else {
            "kept on the host: it was never escrowed, and the repository only opens with it"
        };
        b.add(
            Target::BackupRemoval {
                chaton: found.chaton.clone(),
                job: found.job.clone(),
                machine: machine.to_string(),
                id: found.id.clone(),
                escrowed: found.escrowed,
                moved_to,
            },
            Action::Delete,
            reason,
        )
        .attribute("repository", None, Some("kept, with its snapshots".into()))
        .attribute("password", None, Some(password.into()));
    }
}
