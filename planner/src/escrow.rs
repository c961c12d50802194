//! Password escrow: each backup job's repository password, encrypted with
//! age to its chaton's admins, kept as an object beside the repository in
//! the chaton's bucket. The island's operators hold the bucket but not the
//! keys that open the object; the chaton's admins can recover the password
//! after losing the backup host (`archipel recover`).
//!
//! The backup host keeps a record of what was escrowed (where, and to
//! whom): the plan compares it with the file, so a new or removed
//! recipient re-encrypts the password.

use crate::backup::JOBS_DIR;

/// A recipient as age reads it: an age public key (`age1…`) or an SSH
/// public key (`ssh-ed25519 AAAA…`, `ssh-rsa AAAA…`, comment allowed).
pub fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient + Send>, String> {
    if let Ok(recipient) = text.parse::<age::x25519::Recipient>() {
        return Ok(Box::new(recipient));
    }
    match text.parse::<age::ssh::Recipient>() {
        Ok(recipient) => Ok(Box::new(recipient)),
        Err(_) => Err(format!("{text:?} is not an age or SSH public key")),
    }
}

/// The escrow object's name in the chaton's bucket, beside the job's
/// repository prefix.
pub fn object(job: &str) -> String {
    format!("{job}.escrow.age")
}

/// The record of the escrow on the backup host.
pub fn record_file(id: &str) -> String {
    format!("{JOBS_DIR}/{id}.escrow")
}

/// The record's content: where the escrow is and whom it opens for. Public
/// keys only; a change here means the password must be encrypted again.
pub fn record(island: &str, bucket: &str, object: &str, recipients: &[String]) -> String {
    let mut text = format!(
        "# Written by archipel once the repository password was escrowed.\n# It is encrypted with age in s3://{bucket}/{object} on island {island}, for:\n"
    );
    for recipient in recipients {
        text.push_str(recipient);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_and_ssh_public_keys_are_recipients() {
        let age = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@rose";
        assert!(parse_recipient(age).is_ok());
        assert!(parse_recipient(ssh).is_ok());
        assert!(parse_recipient("age1notakey").is_err());
        assert!(parse_recipient("ssh-dss AAAAB3NzaC1kc3MAAACBAP").is_err());
        assert!(
            parse_recipient(
                "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33"
            )
            .is_err()
        );
    }
}
