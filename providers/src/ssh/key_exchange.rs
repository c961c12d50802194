//! The quick key exchange: on OpenSSH 9.x the default key exchange is
//! sntrup761x25519, whose key generation costs the client about 85 ms of CPU
//! per connection (curve25519 alone: under 10 ms). A plan connects to every
//! machine at once, so on a small CI runner the handshakes are the plan.
//!
//! Commands that only read (plan, drift, status, facts, log: no secret
//! crosses their connections) put the quick exchanges OpenSSH offers first:
//! ML-KEM768 hybrid where the client has it (post-quantum and quick, the
//! default of OpenSSH 10), then curve25519. Only for hosts whose key
//! exchanges nobody chose: when the list `ssh -G` resolves for a host is
//! not OpenSSH's built-in default (the user's config, a `Host` block or the
//! system's config set one), the host is connected as configured. Nothing
//! is added to the list, only its order changes, and the server still
//! decides among what both sides offer. Everything else the user's
//! configuration says applies unchanged: the wrapper includes it.

use std::path::{Path, PathBuf};

/// The quick exchanges, the preferred first.
const QUICK: [&str; 3] = [
    "mlkem768x25519-sha256",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
];

/// `list` (comma-separated, as `ssh -G` prints it) with the quick exchanges
/// it has moved to its head; `None` when that changes nothing.
pub(super) fn quick_first(list: &str) -> Option<String> {
    let names: Vec<&str> = list.split(',').filter(|n| !n.is_empty()).collect();
    let mut ordered: Vec<&str> = QUICK
        .iter()
        .copied()
        .filter(|quick| names.contains(quick))
        .collect();
    ordered.extend(names.iter().copied().filter(|n| !QUICK.contains(n)));
    (ordered != names).then(|| ordered.join(","))
}

/// The ssh_config that puts `kex` first and then reads what ssh would have
/// read: `config_file` (given with `-F`), or the user's and the system's
/// files. The first value ssh reads for an option wins, so the line before
/// the includes decides the key exchanges and nothing else.
pub(super) fn wrapper(kex: &str, config_file: Option<&Path>) -> String {
    let mut text = format!(
        "# Written by archipel for one run: the quick key exchanges first\n# (see providers/src/ssh/key_exchange.rs), then your configuration.\nKexAlgorithms {kex}\n"
    );
    match config_file {
        Some(file) => text.push_str(&format!("Include \"{}\"\n", file.display())),
        None => text.push_str("Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n"),
    }
    text
}

/// Writes the wrapper into the run's private control directory.
pub(super) fn write_wrapper(
    directory: &Path,
    kex: &str,
    config_file: Option<&Path>,
) -> std::io::Result<PathBuf> {
    let path = directory.join("quick-kex.conf");
    std::fs::write(&path, wrapper(kex, config_file))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_9_defaults_get_curve25519_first_and_keep_every_exchange() {
        let default = "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256";
        assert_eq!(
            quick_first(default).as_deref(),
            Some(
                "curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,ecdh-sha2-nistp256,diffie-hellman-group14-sha256"
            )
        );
    }

    #[test]
    fn ml_kem_stays_first_where_the_client_has_it() {
        // OpenSSH 10's default already starts with the quickest exchanges.
        assert_eq!(
            quick_first(
                "mlkem768x25519-sha256,sntrup761x25519-sha512,curve25519-sha256,curve25519-sha256@libssh.org"
            )
            .as_deref(),
            Some(
                "mlkem768x25519-sha256,curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512"
            )
        );
        assert_eq!(
            quick_first("mlkem768x25519-sha256,curve25519-sha256,sntrup761x25519-sha512"),
            None
        );
    }

    #[test]
    fn a_list_without_quick_exchanges_is_left_alone() {
        assert_eq!(
            quick_first("ecdh-sha2-nistp256,diffie-hellman-group14-sha256"),
            None
        );
    }

    #[test]
    fn the_wrapper_sets_only_the_exchanges_before_reading_the_users_files() {
        let text = wrapper("curve25519-sha256", Some(Path::new("/home/ops/lab config")));
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "KexAlgorithms curve25519-sha256",
                "Include \"/home/ops/lab config\""
            ]
        );
        let text = wrapper("curve25519-sha256", None);
        assert!(text.ends_with("Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n"));
    }
}
