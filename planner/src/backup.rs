//! Backup jobs on their hosts as archipel installs them: restic, the job's
//! files and its systemd units.

/// restic's version, or a failure when it is not installed.
pub const RESTIC_PROBE: (&str, &str) = ("restic_version", "restic version");
