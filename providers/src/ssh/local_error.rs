//! [`LocalError`]: what failed on the operator's machine rather than on a
//! remote one: a file or socket archipel could not make, a secret it could
//! not make or seal, an answer it could not understand, or a plan that asks
//! for something the file or the connections do not have. Never holds a
//! secret.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    // --- files, sockets and directories made here ---
    #[error("cannot create a directory for SSH control sockets: {source}")]
    ControlDirectory { source: std::io::Error },
    #[error("cannot write the pinned host key: {source}")]
    PinnedHostKey { source: std::io::Error },
    #[error("a directory for the S3 forward: {source}")]
    ForwardDirectory { source: std::io::Error },
    /// The S3 SDK could not build a request (before anything was sent).
    #[error("{command}: {reason}")]
    S3Request { command: String, reason: String },
    #[error("cannot write the lock record: {source}")]
    LockRecord { source: serde_json::Error },

    // --- secrets ---
    #[error("the plan does not say where island {island}'s secrets come from: make the plan again")]
    UndecidedSecrets { island: String },
    #[error("no randomness: {reason}")]
    NoRandomness { reason: String },
    /// Sealing a password to the escrow's recipients failed.
    #[error("escrow: {reason}")]
    Seal { reason: String },
    #[error("reading the identity {}: {source}", .path.display())]
    ReadIdentity {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is protected by a passphrase: decrypt a copy for the recovery (ssh-keygen -p -N '' -f COPY) and shred it afterwards",
        .path.display()
    )]
    PassphraseProtected { path: PathBuf },
    #[error("{}: this kind of SSH key cannot open an age file ({kind})", .path.display())]
    UnsupportedSshKey { path: PathBuf, kind: String },
    #[error("{}: {reason}", .path.display())]
    UnreadableSshKey { path: PathBuf, reason: String },
    #[error("{} is not an age identity file: {reason}", .path.display())]
    NotAnIdentityFile { path: PathBuf, reason: String },
    #[error("the escrow object is not an age file: {reason}")]
    NotAnAgeFile { reason: String },
    #[error("{} is not one of the escrow's recipients", .path.display())]
    NotARecipient { path: PathBuf },
    #[error("opening the escrow: {reason}")]
    OpenEscrow { reason: String },

    // --- what a machine answered, or lacks ---
    #[error("{host}: {path} is missing")]
    FileMissing { host: String, path: String },
    /// A Garage admin API answer that is not what archipel expects.
    #[error("{host}: unexpected answer to {endpoint}: {reason}")]
    UnexpectedAnswer {
        host: String,
        endpoint: &'static str,
        reason: String,
    },
    #[error("{host}: cannot count its blocks")]
    BlocksUncounted { host: String },
    #[error("{host}: {path} does not hold a node key")]
    NotANodeKey { host: String, path: String },
    #[error("{count} keys are named {name}: archipel will not guess which one is its own")]
    AmbiguousKey { name: String, count: usize },
    #[error("key {name} does not exist on island {island}")]
    KeyMissing { island: String, name: String },
    #[error("island {island} did not give key {name}'s secret")]
    SecretNotGiven { island: String, name: String },
    /// A bucket or key a grant names, absent from the island.
    #[error("{host}: {what} does not exist")]
    GrantPartyMissing { host: String, what: String },
    #[error("s3://{bucket}/{object} did not read back as written")]
    ReadBackDiffers { bucket: String, object: String },
    #[error(
        "neither s3://{bucket}/{prefix}TIME.age nor s3://{bucket}/{legacy} exists on island {island}: the password was never escrowed"
    )]
    NeverEscrowed {
        bucket: String,
        prefix: String,
        legacy: String,
        island: String,
    },
    #[error(
        "s3://{bucket}/{newest} is not older than this machine's clock ({now}): an escrow name is never written twice; check the clock"
    )]
    EscrowNotNewer {
        bucket: String,
        newest: String,
        now: String,
    },
    #[error("restic listed snapshots archipel cannot read: {reason}")]
    UnreadableSnapshots { reason: String },
    #[error(
        "{host}: cannot query {path:?}: paths are absolute, without tabs, newlines or backslashes"
    )]
    UnqueryablePath { host: String, path: String },
    #[error("{host}: cannot query unit {unit:?}")]
    UnqueryableUnit { host: String, unit: String },
    #[error("no node of island {island} could be reached: {failures}")]
    NoNodeReached { island: String, failures: String },
    #[error(
        "{restored}\n\nBut the read-only key {key} on island {island} could not be deleted ({reason}): delete it with `garage key delete --yes {key}` there, or let the next `archipel apply` delete it"
    )]
    RecoveryKeyLeft {
        restored: String,
        key: String,
        island: String,
        reason: String,
    },

    // --- a plan asking for what the file or the connections lack ---
    #[error("island {island} is not in the file")]
    IslandNotInFile { island: String },
    #[error("node {node} is not in the file")]
    NodeNotInFile { node: String },
    #[error("bucket {bucket} is not in the file")]
    BucketNotInFile { bucket: String },
    #[error("backup {chaton}/{job} is not in the file")]
    BackupNotInFile { chaton: String, job: String },
    /// A job's ping URL, read from apply's environment: the value is
    /// never in the message.
    #[error("${variable} (the ping URL of backup {chaton}/{job}) {reason}")]
    PingUrl {
        chaton: String,
        job: String,
        variable: String,
        reason: &'static str,
    },
    #[error("island {island} has no node")]
    IslandWithoutNode { island: String },
    #[error(
        "{node} was not restarted: {down} of its island is not up (not within 45 s), and restarting now would take a second node down (its partitions could lose their quorum); bring {down} back, or take it out of the file, then apply again"
    )]
    PeerDown { node: String, down: String },
    #[error("no node of island {island} answers to say whether its other nodes are up")]
    NoIslandView { island: String },
    #[error("{machine} is not connected")]
    NotConnected { machine: String },
    #[error("node {node} is not connected")]
    DepartingNotConnected { node: String },
    #[error("no verified binary for island {island}")]
    NoVerifiedGarage { island: String },
    #[error("no verified restic for {machine}")]
    NoVerifiedRestic { machine: String },
    #[error("{machine} runs no backup job")]
    NoBackupJob { machine: String },
    #[error("island {island} has no vaults in the file")]
    NoVaults { island: String },
    #[error("backup {chaton}/{job} has no escrow recipients")]
    NoEscrowRecipients { chaton: String, job: String },
    #[error("backup {chaton}/{job}: no {task} task")]
    NoTask {
        chaton: String,
        job: String,
        task: &'static str,
    },
    #[error(
        "interrupted while node {node} drained: it is out of the layout and keeps running until its data has moved; stop its Garage then (systemctl disable --now garage)"
    )]
    InterruptedWhileDraining { node: String },
}
