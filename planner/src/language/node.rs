//! A chaton's `node` block: a machine that runs Garage, how to reach it and
//! what it gives the cluster.

use super::decoder::Decoder;
use super::schema::{DEFAULT_DATA_DIR, DEFAULT_META_DIR, NODE};
use crate::model::Node;
use hcl_edit::structure::{Attribute, Block};

impl Decoder<'_> {
    pub(super) fn node(&mut self, block: &Block) -> Option<Node> {
        let name = self.label(block, "node", "pica-1");
        let what = format!("node \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &NODE, what);
        let ssh = self.required(
            &fields,
            "ssh",
            "\"root@host.example.org:22\"",
            Self::ssh_target,
        );
        let host_key = self.optional(&fields, "host_key", |d, attr| {
            let text = d.string(attr)?;
            match check_host_key(&text) {
                Ok(()) => Some(text.trim().to_string()),
                Err(reason) => {
                    let span = d.span(&attr.value);
                    d.error("invalid-host-key", span, reason);
                    None
                }
            }
        });
        let capacity = self.required(&fields, "capacity", "\"500G\"", |d, attr| {
            let size = d.size(attr)?;
            if size.bytes() < 1024 {
                let span = d.span(&attr.value);
                d.error(
                    "invalid-size",
                    span,
                    "Garage needs a capacity of at least 1024 bytes",
                );
                return None;
            }
            Some(size)
        });
        let data_dir = self.optional(&fields, "data_dir", Self::absolute_path);
        let meta_dir = self.optional(&fields, "meta_dir", Self::absolute_path);
        let rpc_public_addr = self.optional(&fields, "rpc_public_addr", Self::host_and_port);
        let prevent_destroy = self.optional(&fields, "prevent_destroy", Self::boolean);
        Some(Node {
            name: name?,
            ssh: ssh?,
            host_key: host_key?,
            prevent_destroy: prevent_destroy?.unwrap_or(false),
            capacity: capacity?,
            data_dir: data_dir?.unwrap_or_else(|| DEFAULT_DATA_DIR.to_string()),
            meta_dir: meta_dir?.unwrap_or_else(|| DEFAULT_META_DIR.to_string()),
            rpc_public_addr: rpc_public_addr?,
            origin: fields.origin,
        })
    }

    /// `HOST:PORT` (`[IPv6]:PORT`), as Garage's `rpc_public_addr` wants.
    fn host_and_port(&mut self, attr: &Attribute) -> Option<String> {
        let text = self.string(attr)?;
        let valid = match text.rsplit_once(':') {
            Some((host, port)) => {
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                !host.is_empty()
                    && !host.contains(['[', ']', ' ', '/'])
                    && (host.contains(':') == text.starts_with('['))
                    && matches!(port.parse::<u16>(), Ok(p) if p > 0)
            }
            None => false,
        };
        if !valid {
            let span = self.span(&attr.value);
            self.error(
                "invalid-value",
                span,
                format!("\"{text}\" is not HOST:PORT"),
            )
            .help = Some(
                "write the address and port other nodes reach this node's RPC at, e.g. \"203.0.113.5:3901\" or \"[2001:db8::1]:3901\"".into(),
            );
            return None;
        }
        Some(text)
    }
}

/// An OpenSSH public key line: type and base64 key (a comment may follow).
fn check_host_key(text: &str) -> Result<(), String> {
    const TYPES: &[&str] = &[
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    let mut parts = text.split_whitespace();
    let (Some(kind), Some(key)) = (parts.next(), parts.next()) else {
        return Err("a host key is \"TYPE BASE64\", e.g. \"ssh-ed25519 AAAAC3…\" (see /etc/ssh/ssh_host_ed25519_key.pub)".into());
    };
    if !TYPES.contains(&kind) {
        return Err(format!(
            "unknown host key type \"{kind}\"; expected one of: {}",
            TYPES.join(", ")
        ));
    }
    let base64 = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    if !base64 || !key.starts_with("AAAA") || key.len() < 32 {
        return Err("the key after the type is not a base64 public key".into());
    }
    Ok(())
}
