//! restic's answers, classified once. What `restic cat config` says of a
//! repository decides whether archipel makes a password, initialises a
//! repository or refuses: the plan reads the answer of the facts' probe,
//! apply's scripts read it on the host again just before acting. Both take
//! their patterns from here.

/// What restic says of a repository, asked with some password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryAnswer {
    /// It exists and opens with that password.
    Opens,
    /// It exists, and that password is not one of its keys.
    WrongPassword,
    /// There is no repository there.
    Missing,
    /// Anything else (the network, the key's permissions, restic itself):
    /// whether it exists is not known.
    Unknown,
}

/// restic 0.14 to 0.18's words for a password the repository has no key for.
const WRONG_PASSWORD: &[&str] = &["wrong password", "no key found"];
/// … and for a repository that is not there (on S3: its config is missing).
const MISSING: &[&str] = &[
    "does not exist",
    "unable to open config file",
    "Is there a repository",
];

impl RepositoryAnswer {
    /// The answer of `restic cat config`: its exit status and what it wrote.
    pub fn of(status: i32, output: &str) -> RepositoryAnswer {
        let says = |words: &[&str]| words.iter().any(|w| output.contains(w));
        if status == 0 {
            RepositoryAnswer::Opens
        } else if says(WRONG_PASSWORD) {
            RepositoryAnswer::WrongPassword
        } else if says(MISSING) {
            RepositoryAnswer::Missing
        } else {
            RepositoryAnswer::Unknown
        }
    }

    /// The same answer as a shell `case` pattern (`*"wrong password"*|…`),
    /// for the scripts apply runs on the host. Only the two answers told
    /// by restic's words have one. (The words hold no quote, `*` or `?`.)
    pub fn shell_pattern(self) -> String {
        let words = match self {
            RepositoryAnswer::WrongPassword => WRONG_PASSWORD,
            RepositoryAnswer::Missing => MISSING,
            RepositoryAnswer::Opens | RepositoryAnswer::Unknown => &[],
        };
        let patterns: Vec<String> = words.iter().map(|w| format!("*\"{w}\"*")).collect();
        patterns.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_s_words_are_classified() {
        use RepositoryAnswer::*;
        for (status, output, answer) in [
            (0, "", Opens),
            (1, "Fatal: wrong password or no key found", WrongPassword),
            (
                10,
                "Fatal: repository does not exist: unable to open config file: Stat: The specified key does not exist.\nIs there a repository at the following location?",
                Missing,
            ),
            (
                1,
                "Fatal: unable to open config file: Stat: 403 Forbidden",
                Missing,
            ),
            (
                1,
                "Fatal: unable to open repository: connection refused",
                Unknown,
            ),
        ] {
            assert_eq!(RepositoryAnswer::of(status, output), answer, "{output}");
        }
    }

    /// The patterns the host's scripts match restic's words with.
    #[test]
    fn the_shell_patterns_hold_the_same_words() {
        assert_eq!(
            RepositoryAnswer::WrongPassword.shell_pattern(),
            r#"*"wrong password"*|*"no key found"*"#
        );
        assert_eq!(
            RepositoryAnswer::Missing.shell_pattern(),
            r#"*"does not exist"*|*"unable to open config file"*|*"Is there a repository"*"#
        );
        assert_eq!(RepositoryAnswer::Unknown.shell_pattern(), "");
    }
}
