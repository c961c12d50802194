//! Benchmark: reading and validating a large archipelago.
//!
//!   cargo bench -p archipel-planner --bench validate
//!   cargo bench -p archipel-planner --bench validate -- --write large.hcl [--scale 10]
//!
//! The generated archipelago has 40 islands of 5 chatons (200 chatons),
//! 3 nodes per chaton (600 nodes) and 2 backups per chaton (400 backups),
//! each to another island. Target: `check` under 50 ms. Then the same
//! shape 10 and 60 times larger (2,000 and 12,000 chatons): the time per
//! chaton must stay flat (validate is linear in the file).

use archipel_planner::source::Sources;
use std::fmt::Write;
use std::time::{Duration, Instant};

const ISLANDS: usize = 40;
/// The larger archipelagos, as multiples of the first.
const SCALES: [usize; 2] = [10, 60];
const CHATONS_PER_ISLAND: usize = 5;
const NODES_PER_CHATON: usize = 3;
const BACKUPS_PER_CHATON: usize = 2;

fn generate(islands: usize) -> String {
    let mut out = String::new();
    for island in 0..islands {
        let _ = write!(
            out,
            r#"island "island-{island}" {{
  garage {{
    version            = "2.5.0"
    binary             = "https://garagehq.deuxfleurs.fr/_releases/v2.5.0/x86_64-unknown-linux-musl/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 3
  }}
}}

"#
        );
    }
    for island in 0..islands {
        for member in 0..CHATONS_PER_ISLAND {
            let chaton = format!("chaton-{island}-{member}");
            let _ = write!(
                out,
                "chaton \"{chaton}\" {{\n  island  = \"island-{island}\"\n  contact = \"admin@{chaton}.example.org\"\n"
            );
            for node in 0..NODES_PER_CHATON {
                let _ = write!(
                    out,
                    "\n  node \"{chaton}-{node}\" {{\n    ssh      = \"root@{node}.{chaton}.example.org:22\"\n    capacity = \"{}G\"\n  }}\n",
                    500 + 250 * node
                );
            }
            for backup in 0..BACKUPS_PER_CHATON {
                let to = (island + 1 + backup) % islands;
                let _ = write!(
                    out,
                    r#"
  backup "job-{backup}" {{
    host     = "root@app{backup}.{chaton}.example.org"
    to       = "island-{to}"
    paths    = ["/srv/data", "/etc"]
    exclude  = ["*.tmp"]
    schedule = "*-*-* 0{backup}:30"
    keep     = {{ daily = 7, weekly = 4, monthly = 6 }}
    quota    = "100G"
  }}
"#
                );
            }
            out.push_str("}\n\n");
        }
    }
    out
}

fn main() {
    let text = generate(ISLANDS);
    let args: Vec<String> = std::env::args().collect();
    // `--scale N`: with --write, N times the islands (and chatons).
    let scale: usize = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1);
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let text = generate(ISLANDS * scale);
        let path = args.get(i + 1).expect("--write PATH");
        std::fs::write(path, &text).expect("write the archipelago");
        eprintln!("wrote {path} ({} bytes)", text.len());
        return;
    }
    let mut sources = Sources::new();
    sources.add("large.hcl", text.as_str());

    let checked = archipel_planner::check(&sources);
    assert!(
        !checked.has_errors(),
        "the generated archipelago must be valid: {:?}",
        checked.diagnostics.first()
    );
    let model = &checked.archipelago;
    let nodes: usize = model.chatons.iter().map(|c| c.nodes.len()).sum();
    let backups: usize = model.chatons.iter().map(|c| c.backups.len()).sum();

    let mut times: Vec<Duration> = (0..30)
        .map(|_| {
            let start = Instant::now();
            let checked = archipel_planner::check(&sources);
            let elapsed = start.elapsed();
            assert!(!checked.has_errors());
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "validate: {} islands, {} chatons, {nodes} nodes, {backups} backups, {} KiB: median {:.1} ms, min {:.1} ms, max {:.1} ms (30 runs)",
        model.islands.len(),
        model.chatons.len(),
        text.len() / 1024,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    let per_chaton = |time: Duration, chatons: usize| time.as_secs_f64() * 1e6 / chatons as f64;
    let base = per_chaton(times[times.len() / 2], model.chatons.len());
    println!("  {base:.1} µs per chaton");
    for scale in SCALES {
        let text = generate(ISLANDS * scale);
        let mut sources = Sources::new();
        sources.add("larger.hcl", text.as_str());
        let mut times: Vec<Duration> = (0..3)
            .map(|_| {
                let start = Instant::now();
                let checked = archipel_planner::check(&sources);
                let elapsed = start.elapsed();
                assert!(!checked.has_errors());
                elapsed
            })
            .collect();
        times.sort();
        let chatons = ISLANDS * scale * CHATONS_PER_ISLAND;
        let median = times[1];
        println!(
            "validate: {chatons} chatons, {} KiB: median {:.0} ms (3 runs), {:.1} µs per chaton ({:.2}× the first)",
            text.len() / 1024,
            median.as_secs_f64() * 1e3,
            per_chaton(median, chatons),
            per_chaton(median, chatons) / base
        );
    }
}
