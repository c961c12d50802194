//! A chaton's `backup` block: a restic job, what it saves, when, where and
//! for how long, with the restic it runs.

use super::decoder::Decoder;
use super::schema::{BACKUP, DEFAULT_CHECK, DEFAULT_PRUNE};
use crate::diagnostic::did_you_mean;
use crate::model::{Backup, Keep, ResticSource};
use crate::schedule::Schedule;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Attribute, Block};

impl Decoder<'_> {
    pub(super) fn backup(&mut self, block: &Block) -> Option<Backup> {
        let name = self.label(block, "backup", "nextcloud");
        let what = format!("backup \"{}\"", name.as_deref().unwrap_or("?"));
        let fields = self.fields(block, &BACKUP, what);
        let host = self.required(
            &fields,
            "host",
            "\"root@cloud.example.org\"",
            Self::ssh_target,
        );
        let to = self.required(&fields, "to", "\"est\"", Self::island_reference);
        let paths = self.required(&fields, "paths", "[\"/srv/data\"]", |d, attr| {
            let paths = d.list(attr, Self::absolute_path)?;
            if paths.is_empty() {
                let span = d.span(&attr.value);
                d.error("invalid-value", span, "a backup needs at least one path");
                return None;
            }
            Some(paths)
        });
        let exclude = self.optional(&fields, "exclude", |d, attr| {
            d.list(attr, |d, attr| {
                d.non_empty(attr, "an exclude pattern", "\"*.tmp\"")
            })
        });
        let schedule = self.required(&fields, "schedule", "\"*-*-* 03:00\"", Self::schedule);
        let keep = self.optional(&fields, "keep", Self::keep);
        let quota = self.required(&fields, "quota", "\"200G\"", Self::quota);
        let restic = self.optional(&fields, "restic", Self::restic);
        let prune = self.optional(&fields, "prune", Self::schedule);
        let check = self.optional(&fields, "check", Self::schedule);
        let drill = self.optional(&fields, "drill", Self::schedule);
        let dumps = self.dumps(&fields.blocks);
        let hooks = self.hooks(&fields.blocks);
        let local = self.local(&fields.blocks);
        let notify = self.notify(&fields.blocks, &fields.what.clone());
        Some(Backup {
            name: name?,
            host: host?,
            to: to?,
            paths: paths?,
            exclude: exclude?.unwrap_or_default(),
            schedule: schedule?,
            keep: keep?.unwrap_or_default(),
            quota: quota?,
            restic: restic?.unwrap_or(ResticSource::Package),
            prune: prune?
                .unwrap_or_else(|| Schedule::parse(DEFAULT_PRUNE).expect("a valid default")),
            check: check?
                .unwrap_or_else(|| Schedule::parse(DEFAULT_CHECK).expect("a valid default")),
            drill: drill?,
            dumps: dumps?,
            hooks: hooks?,
            local: local?,
            notify: notify?,
            origin: fields.origin,
        })
    }

    pub(super) fn schedule(&mut self, attr: &Attribute) -> Option<Schedule> {
        let text = self.string(attr)?;
        match Schedule::parse(&text) {
            Ok(schedule) => Some(schedule),
            Err(reason) => {
                let span = self.span(&attr.value);
                self.error("invalid-schedule", span, format!("invalid schedule: {reason}"))
                    .help = Some(
                    "schedules use systemd's OnCalendar syntax: \"daily\", \"weekly\", \"*-*-* 03:00\", \"Mon..Fri 02:30\"; see systemd.time(7)"
                        .into(),
                );
                None
            }
        }
    }

    /// `"package"`, or `{ binary = "…", sha256 = "…" }`.
    fn restic(&mut self, attr: &Attribute) -> Option<ResticSource> {
        const EXPECTED: &str =
            "\"package\" (Debian's restic), or { binary = \"https://…/restic\", sha256 = \"…\" }";
        let object = match &attr.value {
            Expression::Object(object) => object,
            Expression::String(s) if s.value() == "package" => return Some(ResticSource::Package),
            other => {
                self.wrong_type(other, EXPECTED);
                return None;
            }
        };
        let (mut binary, mut sha256, mut ok) = (None, None, true);
        for (key, value) in object.iter() {
            let name = match key {
                ObjectKey::Ident(ident) => ident.as_str().to_string(),
                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                ObjectKey::Expression(other) => {
                    self.unevaluated(other);
                    ok = false;
                    continue;
                }
            };
            match name.as_str() {
                "binary" => {
                    binary = self.binary_source(value.expr(), "restic");
                    ok &= binary.is_some();
                }
                "sha256" => {
                    sha256 = self.sha256(value.expr());
                    ok &= sha256.is_some();
                }
                _ => {
                    let span = self.span(value.expr());
                    self.error(
                        "unknown-attribute",
                        span,
                        format!("unknown field `{name}` in restic: it takes `binary` and `sha256`"),
                    );
                    ok = false;
                }
            }
        }
        match (binary, sha256) {
            (Some(binary), Some(sha256)) if ok => Some(ResticSource::Binary { binary, sha256 }),
            (binary, sha256) => {
                if ok && (binary.is_none() || sha256.is_none()) {
                    let span = self.span(&attr.value);
                    self.error(
                        "missing-attribute",
                        span,
                        "a pinned restic needs both `binary` and `sha256`",
                    );
                }
                None
            }
        }
    }

    pub(super) fn keep(&mut self, attr: &Attribute) -> Option<Keep> {
        let Expression::Object(object) = &attr.value else {
            self.wrong_type(&attr.value, "an object, e.g. { daily = 7, weekly = 4 }");
            return None;
        };
        let mut keep = Keep::default();
        let mut ok = true;
        for (key, value) in object.iter() {
            let (name, span) = match key {
                ObjectKey::Ident(ident) => (ident.as_str().to_string(), self.span(ident)),
                ObjectKey::Expression(expr) => match expr {
                    Expression::String(s) => (s.value().clone(), self.span(expr)),
                    other => {
                        self.unevaluated(other);
                        ok = false;
                        continue;
                    }
                },
            };
            if !Keep::FIELDS.contains(&name.as_str()) {
                let help = match did_you_mean(&name, Keep::FIELDS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known fields: {}", Keep::FIELDS.join(", ")),
                };
                self.error(
                    "unknown-attribute",
                    span,
                    format!("unknown retention field `{name}` in keep"),
                )
                .help = Some(help);
                ok = false;
                continue;
            }
            let value = value.expr();
            match value {
                Expression::Number(n) => match n.value().as_u64() {
                    Some(count) if (1..=100_000).contains(&count) => keep.set(&name, count as u32),
                    _ => {
                        let span = self.span(value);
                        self.error(
                            "out-of-range",
                            span,
                            format!("keep.{name} must be a whole number from 1 to 100000 (leave it out to keep none by that rule)"),
                        );
                        ok = false;
                    }
                },
                other => {
                    self.wrong_type(other, "a whole number");
                    ok = false;
                }
            }
        }
        ok.then_some(keep)
    }
}
