//! What every command that talks to machines shares: the async runtime,
//! Ctrl-C, and closing every SSH connection on the way out.

use crate::timings::Phases;
use archipel_planner::desired::Desired;
use archipel_planner::model::Archipelago;
use archipel_planner::observed::Observed;
use archipel_providers::observe;
use archipel_providers::ssh::{Remote, Ssh, SshSettings, close_all};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Exit status after Ctrl-C, as shells report SIGINT.
pub const INTERRUPTED: u8 = 130;

pub fn runtime() -> Result<tokio::runtime::Runtime, crate::files::LoadError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::files::LoadError::new(format!("cannot start the async runtime: {e}")))
}

/// Turns true on Ctrl-C. Must be called inside the runtime.
pub fn ctrl_c() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "Interrupted: finishing what is in progress (nothing new starts), then closing connections…"
            );
            let _ = sender.send(true);
            // Keep the sender alive: a closed channel reads as a stop too.
            std::future::pending::<()>().await;
        }
    });
    receiver
}

/// How long connections in progress may take to settle after Ctrl-C.
pub fn grace(connect_timeout: Duration) -> Duration {
    connect_timeout + Duration::from_secs(2)
}

/// Closes every connection; problems closing are warnings.
pub async fn close(remotes: impl IntoIterator<Item = Remote>) {
    for error in close_all(remotes).await {
        eprintln!("warning: {error}");
    }
}

/// Observes every island and machine of the file, concurrently, then
/// closes the connections; its phases are marked in `phases`. `None` when
/// interrupted.
pub fn observe_all(
    model: &Archipelago,
    desired: &Desired,
    settings: SshSettings,
    phases: &mut Phases,
) -> Result<Option<Observed>, crate::files::LoadError> {
    let machines = model.machines();
    let runtime = runtime()?;
    let grace = grace(settings.connect_timeout);
    let ssh =
        Arc::new(Ssh::new(settings).map_err(|e| crate::files::LoadError::new(e.to_string()))?);
    let observation = runtime.block_on(async {
        let mut stop = ctrl_c();
        let mut observation = observe::observe(&ssh, desired, &machines, &mut stop, grace).await;
        // Owned, not cloned: a connection closes when its last handle does.
        close(std::mem::take(&mut observation.remotes).into_values()).await;
        observation
    });
    // The runtime's and the control sockets' shutdown count as closing.
    drop(runtime);
    drop(ssh);
    phases.observation(&observation.timings);
    Ok((!observation.interrupted).then_some(observation.observed))
}
