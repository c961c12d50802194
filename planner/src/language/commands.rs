//! What a backup job does on its host beyond restic's backup: `dump`
//! blocks (a database's dump, saved as a file of each snapshot), the
//! `before`, `after` and `on_failure` hooks, and a `local` repository the
//! island's is copied from.

use super::decoder::Decoder;
use super::schema::{
    AFTER, BEFORE, DEFAULT_DUMP_TIMEOUT, DEFAULT_HOOK_TIMEOUT, DUMP, LOCAL, MAX_COMMAND_TIMEOUT,
    ON_FAILURE, Schema,
};
use crate::diagnostic::Diagnostic;
use crate::duration::Duration;
use crate::model::{Dump, Hooks, HostCommand, LocalCopy};
use hcl_edit::structure::{Attribute, Block};

/// Who may run a command: a user name as Debian's `adduser` accepts it.
pub fn check_user(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let body = name.strip_suffix('$').unwrap_or(name);
    let rest_ok = body
        .chars()
        .skip(1)
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if name.len() > 32 {
        return Err("a user name has at most 32 characters".into());
    }
    if !first_ok || !rest_ok {
        return Err(
            "a user name starts with a lowercase letter or '_', then lowercase letters, digits, '_' or '-' (a user of the host, e.g. \"postgres\")"
                .into(),
        );
    }
    Ok(())
}

impl Decoder<'_> {
    /// The job's `dump` blocks, their names distinct.
    pub(super) fn dumps(&mut self, blocks: &[&Block]) -> Option<Vec<Dump>> {
        let mut dumps: Vec<Dump> = Vec::new();
        let mut ok = true;
        for block in blocks.iter().filter(|b| b.ident.as_str() == "dump") {
            let Some(dump) = self.dump(block) else {
                ok = false;
                continue;
            };
            if let Some(first) = dumps.iter().find(|d| d.name == dump.name) {
                self.diagnostics.push(
                    Diagnostic::error(
                        "duplicate-dump",
                        dump.run.origin.block.clone(),
                        format!("the job has two dumps named \"{}\"", dump.name),
                    )
                    .with_related(first.run.origin.block.clone(), "first defined here")
                    .with_help("each dump is a file of the snapshot, named for its dump: give them distinct names"),
                );
                ok = false;
                continue;
            }
            dumps.push(dump);
        }
        ok.then_some(dumps)
    }

    fn dump(&mut self, block: &Block) -> Option<Dump> {
        let name = self.label(block, "dump", "nextcloud-db");
        let what = format!("dump \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &DUMP, what);
        let run = self.host_command(&fields, "\"pg_dump -Fc nextcloud\"", DEFAULT_DUMP_TIMEOUT);
        let check = self.optional(&fields, "check", |d, attr| {
            d.command_line(attr, "\"pg_restore --list\"")
        });
        Some(Dump {
            name: name?,
            run: run?,
            check: check?,
        })
    }

    /// The job's `before`, `after` and `on_failure` blocks, at most one each.
    pub(super) fn hooks(&mut self, blocks: &[&Block]) -> Option<Hooks> {
        let mut hooks = Hooks::default();
        let mut ok = true;
        for schema in [&BEFORE, &AFTER, &ON_FAILURE] {
            let mut found = blocks.iter().filter(|b| b.ident.as_str() == schema.block);
            let Some(first) = found.next() else {
                continue;
            };
            for again in found {
                let span = self.header_span(again);
                let first = self.header_span(first);
                self.diagnostics.push(
                    Diagnostic::error(
                        "duplicate-hook",
                        span,
                        format!("the job has two `{}` blocks", schema.block),
                    )
                    .with_related(first, "first defined here")
                    .with_help("run several commands in one: `command = \"a && b\"`, or a script on the host"),
                );
                ok = false;
            }
            let hook = self.hook(first, schema);
            ok &= hook.is_some();
            let slot = match schema.block {
                "before" => &mut hooks.before,
                "after" => &mut hooks.after,
                _ => &mut hooks.on_failure,
            };
            *slot = hook;
        }
        ok.then_some(hooks)
    }

    fn hook(&mut self, block: &Block, schema: &Schema) -> Option<HostCommand> {
        if !block.labels.is_empty() {
            let span = self.span(&block.labels[0]);
            self.error(
                "extra-label",
                span,
                format!("a {} block has no name", schema.block),
            );
        }
        let fields = self.fields(block, schema, schema.block.to_string());
        let example = match schema.block {
            "before" => "\"sudo -u www-data php /var/www/nextcloud/occ maintenance:mode --on\"",
            "after" => "\"sudo -u www-data php /var/www/nextcloud/occ maintenance:mode --off\"",
            _ => "\"logger -t backup 'the backup failed'\"",
        };
        self.host_command(&fields, example, DEFAULT_HOOK_TIMEOUT)
    }

    /// `command`, `user` and `timeout`, as dumps and hooks share them.
    fn host_command(
        &mut self,
        fields: &super::decoder::Fields<'_>,
        example: &str,
        default_timeout: Duration,
    ) -> Option<HostCommand> {
        let command = self.required(fields, "command", example, |d, attr| {
            d.command_line(attr, example)
        });
        let user = self.optional(fields, "user", |d, attr| {
            let name = d.string(attr)?;
            match check_user(&name) {
                Ok(()) => Some(name),
                Err(reason) => {
                    let span = d.span(&attr.value);
                    d.error(
                        "invalid-user",
                        span,
                        format!("\"{name}\" is not a user name: {reason}"),
                    );
                    None
                }
            }
        });
        let timeout = self.optional(fields, "timeout", |d, attr| {
            let duration = d.duration(attr)?;
            if duration.seconds() == 0 || duration > MAX_COMMAND_TIMEOUT {
                let span = d.span(&attr.value);
                d.error(
                    "out-of-range",
                    span,
                    format!("a command's timeout is from 1s to {MAX_COMMAND_TIMEOUT}"),
                );
                return None;
            }
            Some(duration)
        });
        Some(HostCommand {
            command: command?,
            // `user = "root"` says what leaving it out says.
            user: user?.filter(|u| u != "root"),
            timeout: timeout?.unwrap_or(default_timeout),
            origin: fields.origin.clone(),
        })
    }

    /// The job's `local` block, at most one.
    pub(super) fn local(&mut self, blocks: &[&Block]) -> Option<Option<LocalCopy>> {
        let mut found = blocks.iter().filter(|b| b.ident.as_str() == "local");
        let Some(block) = found.next() else {
            return Some(None);
        };
        let mut ok = true;
        for again in found {
            let span = self.header_span(again);
            let first = self.header_span(block);
            self.diagnostics.push(
                Diagnostic::error("duplicate-block", span, "a job has one `local` block")
                    .with_related(first, "first defined here"),
            );
            ok = false;
        }
        if !block.labels.is_empty() {
            let span = self.span(&block.labels[0]);
            self.error("extra-label", span, "a local block has no name");
        }
        let fields = self.fields(block, &LOCAL, "local".to_string());
        let path = self.required(
            &fields,
            "path",
            "\"/srv/backup/restic/nextcloud\"",
            |d, attr| {
                let path = d.absolute_path(attr)?;
                let path = path.trim_end_matches('/').to_string();
                // It is also a word of the units' ReadWritePaths=.
                let plain = path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-+@:".contains(c));
                if path.is_empty() || !plain {
                    let span = d.span(&attr.value);
                    d.error(
                        "invalid-path",
                        span,
                        "a local repository's path is a directory other than /, of letters, digits and / . _ - + @ :",
                    );
                    return None;
                }
                Some(path)
            },
        );
        let copy = self.required(&fields, "copy", "\"*-*-* 05:00\"", Self::schedule);
        let keep = self.optional(&fields, "keep", Self::keep);
        let local = LocalCopy {
            path: path?,
            copy: copy?,
            keep: keep?,
            origin: fields.origin,
        };
        ok.then_some(Some(local))
    }

    /// One line of shell: what `sh -c` runs on the host.
    fn command_line(&mut self, attr: &Attribute, example: &str) -> Option<String> {
        let text = self.non_empty(attr, "a command", example)?;
        let text = text.trim().to_string();
        if text.contains(['\n', '\r', '\0']) {
            let span = self.span(&attr.value);
            self.error("invalid-command", span, "a command is one line")
                .help = Some(
                "put a longer script in a file on the host and name it here, e.g. \"/usr/local/sbin/before-backup\"".into(),
            );
            return None;
        }
        if let Some(what) = holds_a_password(&text) {
            let span = self.span(&attr.value);
            self.error(
                "secret-in-command",
                span,
                format!("this command holds a password ({what}): the archipelago file is reviewed and kept in git"),
            )
            .help = Some(
                "keep it in a file on the host that only the command's user reads: `~/.pgpass` for PostgreSQL, `--defaults-file=/root/.my.cnf` for MariaDB".into(),
            );
            return None;
        }
        Some(text)
    }
}

/// What in a command looks like a password written into it: a password
/// variable, option or URL with a value.
fn holds_a_password(command: &str) -> Option<&'static str> {
    for variable in ["PGPASSWORD=", "MYSQL_PWD=", "RESTIC_PASSWORD="] {
        if command.contains(variable) {
            return Some("a password variable");
        }
    }
    if command
        .match_indices("--password=")
        .any(|(at, found)| !command[at + found.len()..].starts_with([' ', '\'', '"']))
    {
        return Some("--password=");
    }
    // `scheme://user:password@host`
    let url_password = command.match_indices("://").any(|(at, found)| {
        let rest = &command[at + found.len()..];
        let authority = rest.split(['/', ' ', '\'', '"']).next().unwrap_or("");
        authority
            .split_once('@')
            .is_some_and(|(user, _)| user.split_once(':').is_some_and(|(_, p)| !p.is_empty()))
    });
    url_password.then_some("a URL with a password")
}

#[cfg(test)]
mod tests {
    use super::{check_user, holds_a_password};

    #[test]
    fn passwords_written_into_commands_are_seen() {
        for bad in [
            "PGPASSWORD=hunter2 pg_dump app",
            "mysqldump --password=hunter2 --all-databases",
            "pg_dump postgresql://app:hunter2@localhost/app",
        ] {
            assert!(holds_a_password(bad).is_some(), "{bad}");
        }
        for good in [
            "pg_dump -Fc -h 127.0.0.1 -U app app",
            "mysqldump --defaults-file=/root/.my.cnf --single-transaction --all-databases",
            "pg_dump postgresql://app@localhost/app",
            "curl -fsS https://hc-ping.com/x",
            "mysql --password= -e 'select 1'",
        ] {
            assert!(holds_a_password(good).is_none(), "{good}");
        }
    }

    #[test]
    fn user_names_are_the_hosts() {
        for good in ["postgres", "www-data", "_apt", "mysql", "backup2", "host$"] {
            assert!(check_user(good).is_ok(), "{good}");
        }
        for bad in ["", "Postgres", "1000", "-x", "a b", "x;rm", &"a".repeat(33)] {
            assert!(check_user(bad).is_err(), "{bad}");
        }
    }
}
