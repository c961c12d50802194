//! Sealing a repository password to a chaton's admins with age, and
//! opening it again with one admin's identity (an age identity file or an
//! unencrypted OpenSSH private key).

use crate::ssh::{LocalError, SshError};
use age::armor::{ArmoredReader, ArmoredWriter, Format};
use archipel_planner::escrow::parse_recipient;
use std::io::{Read as _, Write as _};
use std::path::Path;

/// The password encrypted to every recipient, ASCII-armored (what `age
/// --decrypt` reads too).
pub fn seal(password: &[u8], recipients: &[String]) -> Result<Vec<u8>, SshError> {
    let failed = |e: &dyn std::fmt::Display| LocalError::Seal {
        reason: e.to_string(),
    };
    let recipients = recipients
        .iter()
        .map(|r| parse_recipient(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(&e))?;
    let encryptor = age::Encryptor::with_recipients(
        recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
    )
    .map_err(|e| failed(&e))?;
    let mut sealed = Vec::new();
    let armored =
        ArmoredWriter::wrap_output(&mut sealed, Format::AsciiArmor).map_err(|e| failed(&e))?;
    let mut writer = encryptor.wrap_output(armored).map_err(|e| failed(&e))?;
    writer.write_all(password).map_err(|e| failed(&e))?;
    writer
        .finish()
        .and_then(|armored| armored.finish())
        .map_err(|e| failed(&e))?;
    Ok(sealed)
}

/// The password, opened with the identity in `identity_file`.
pub fn open(sealed: &[u8], identity_file: &Path) -> Result<Vec<u8>, SshError> {
    let path = || identity_file.to_path_buf();
    let text = std::fs::read(identity_file).map_err(|source| LocalError::ReadIdentity {
        path: path(),
        source,
    })?;
    let identities: Vec<Box<dyn age::Identity>> = if text
        .starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    {
        match age::ssh::Identity::from_buffer(&text[..], Some(identity_file.display().to_string()))
        {
            Ok(age::ssh::Identity::Unencrypted(key)) => {
                vec![Box::new(age::ssh::Identity::Unencrypted(key))]
            }
            Ok(age::ssh::Identity::Encrypted(_)) => {
                return Err(LocalError::PassphraseProtected { path: path() }.into());
            }
            Ok(age::ssh::Identity::Unsupported(key)) => {
                return Err(LocalError::UnsupportedSshKey {
                    path: path(),
                    kind: format!("{key:?}"),
                }
                .into());
            }
            Err(e) => {
                return Err(LocalError::UnreadableSshKey {
                    path: path(),
                    reason: e.to_string(),
                }
                .into());
            }
        }
    } else {
        age::IdentityFile::from_buffer(&text[..])
            .and_then(|file| {
                file.into_identities()
                    .map_err(|e| std::io::Error::other(e.to_string()))
            })
            .map_err(|e| LocalError::NotAnIdentityFile {
                path: path(),
                reason: e.to_string(),
            })?
            .into_iter()
            .map(|identity| identity as Box<dyn age::Identity>)
            .collect()
    };
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(sealed)).map_err(|e| {
        LocalError::NotAnAgeFile {
            reason: e.to_string(),
        }
    })?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref()))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => LocalError::NotARecipient { path: path() },
            other => LocalError::OpenEscrow {
                reason: other.to_string(),
            },
        })?;
    let mut password = Vec::new();
    reader
        .read_to_end(&mut password)
        .map_err(|e| LocalError::OpenEscrow {
            reason: e.to_string(),
        })?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret as _;

    #[test]
    fn an_age_identity_opens_what_was_sealed_to_it_and_others_do_not() {
        let alice = age::x25519::Identity::generate();
        let bob = age::x25519::Identity::generate();
        let sealed = seal(b"hunter2", &[alice.to_public().to_string()]).unwrap();
        assert!(sealed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, identity: &age::x25519::Identity| {
            let path = dir.path().join(name);
            std::fs::write(&path, identity.to_string().expose_secret()).unwrap();
            path
        };
        assert_eq!(open(&sealed, &write("alice", &alice)).unwrap(), b"hunter2");
        let refused = open(&sealed, &write("bob", &bob)).unwrap_err().to_string();
        assert!(
            refused.contains("not one of the escrow's recipients"),
            "{refused}"
        );
    }

    #[test]
    fn an_ssh_key_opens_what_was_sealed_to_its_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "admin@chaton", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let age = age::x25519::Identity::generate().to_public().to_string();
        let sealed = seal(b"s3cret", &[age, public.trim().to_string()]).unwrap();
        assert_eq!(open(&sealed, &key).unwrap(), b"s3cret");
    }
}
