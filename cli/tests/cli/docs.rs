//! `--help`, the README and the docs tell one story.

use crate::fixture::archipel;
use std::path::Path;

/// `--help`, the README and the docs tell one story: every command and
/// every option `--help` lists is documented, and every `--option` the
/// README shows on a command line is one archipel has.
#[test]
fn help_and_docs_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = std::fs::read_to_string(root.join("README.md")).unwrap();
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        docs.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let help = |args: &[&str]| {
        let output = archipel().args(args).arg("--help").output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let long_options = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(str::to_string)
            .collect()
    };
    let top = help(&[]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        // A command's line starts with two spaces; wrapped text with more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help" && l_is_command(c))
        .map(str::to_string)
        .collect();
    assert!(commands.len() >= 11, "{commands:?}");
    let mut every_option = long_options(&top);
    let mut undocumented = Vec::new();
    for command in &commands {
        assert!(
            docs.contains(&format!("archipel {command}")),
            "README/docs never show `archipel {command}`"
        );
        let options = long_options(&help(&[command.as_str()]));
        for option in &options {
            if option == "--help" || option == "--version" {
                continue;
            }
            if !docs.contains(option.as_str()) {
                undocumented.push(format!("archipel {command} {option}"));
            }
        }
        every_option.extend(options);
    }
    assert!(undocumented.is_empty(), "not documented: {undocumented:?}");
    // The other way: options the README's and the CI templates' command
    // lines use exist.
    let mut texts = std::fs::read_to_string(root.join("README.md")).unwrap();
    for entry in std::fs::read_dir(root.join("examples/ci")).unwrap() {
        texts.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let command_lines: Vec<String> = texts
        .lines()
        // A command line ends where prose or a comment starts.
        .filter_map(|l| l.find("archipel ").map(|at| &l[at..]))
        .map(|l| {
            l.split(['`', '|', '#', '"'])
                .next()
                .unwrap_or(l)
                .to_string()
        })
        .filter(|l| {
            let command = l.split_whitespace().nth(1).unwrap_or("");
            commands.iter().any(|c| c == command) || command.starts_with('-')
        })
        .collect();
    assert!(command_lines.len() > 10, "{command_lines:?}");
    for line in &command_lines {
        let line = line.split(" #").next().unwrap_or(line);
        for option in long_options(line) {
            assert!(
                every_option.contains(&option),
                "{option} is used, and no command has it: {line}"
            );
        }
    }
}

fn l_is_command(word: &str) -> bool {
    word.chars().all(|c| c.is_ascii_lowercase())
}
