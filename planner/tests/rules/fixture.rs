//! The archipelago every rule is tried on, and what `check` says of it.

use archipel_planner::diagnostic::Severity;
use archipel_planner::source::Sources;

/// A valid archipelago with no warnings: two islands of three chatons each,
/// every chaton backing up to the other island.
pub const BASE: &str = r#"
island "ouest" {
  s3_endpoint = "https://s3.ouest.example.org"
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

island "est" {
  s3_endpoint = "https://s3.est.example.org"
  garage {
    version            = "2.5.0"
    binary             = "https://example.org/garage"
    sha256             = "0F9EA4A2B5D0B7E4C8A1C6D3E2F1A0B9C8D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3"
    replication_factor = 2
    db_engine          = "sqlite"
    rpc_port           = 4901
  }
}

chaton "a" {
  island  = "ouest"
  contact = "a@example.org"
  escrow  = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
  node "a-1" {
    ssh      = "root@a1.example.org"
    capacity = "500G"
  }
  backup "files" {
    host     = "root@files.a.example.org"
    to       = "est"
    paths    = ["/srv"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "100G"
  }
}

chaton "b" {
  island  = "ouest"
  contact = "b@example.org"
  node "b-1" {
    ssh      = "ops@b1.example.org:2222"
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    capacity = "1.5T"
  }
}

chaton "c" {
  island  = "ouest"
  contact = "c@example.org"
  node "c-1" {
    ssh      = "root@c1.example.org"
    capacity = "200GiB"
    data_dir = "/srv/garage/data"
  }
}

chaton "d" {
  island  = "est"
  contact = "d@example.org"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN d@example.org"]
  node "d-1" {
    ssh      = "root@d1.example.org"
    capacity = "500G"
  }
  backup "mail" {
    host     = "root@mail.d.example.org"
    to       = "ouest"
    paths    = ["/var/vmail", "/etc/postfix"]
    exclude  = ["*.tmp"]
    schedule = "Mon..Fri 02:30"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "200G"
  }
}

chaton "e" {
  island  = "est"
  contact = "e@example.org"
  node "e-1" {
    ssh      = "root@e1.example.org"
    capacity = "500G"
  }
}

chaton "f" {
  island  = "est"
  contact = "f@example.org"
  node "f-1" {
    ssh      = "root@f1.example.org"
    capacity = "500G"
  }
}

bucket "shared" {
  island  = "est"
  quota   = "10G"
  readers = ["d", "e"]
  writers = ["f"]
}
"#;

/// (code, severity, line) of every diagnostic.
pub fn diagnostics(text: &str) -> Vec<(&'static str, Severity, usize)> {
    let mut sources = Sources::new();
    let file = sources.add("test.hcl", text);
    archipel_planner::check(&sources)
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code,
                d.severity,
                sources.position(file, d.span.range.start).line,
            )
        })
        .collect()
}

pub fn codes(text: &str) -> Vec<&'static str> {
    diagnostics(text)
        .into_iter()
        .map(|(code, _, _)| code)
        .collect()
}

/// BASE with one replacement, which must apply.
pub fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

pub fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle")]
        .matches('\n')
        .count()
        + 1
}
