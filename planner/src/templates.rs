//! The files archipel writes on machines, rendered from templates embedded
//! in the binary (minijinja, strict: an unknown variable is an error, not an
//! empty string). Every value from the archipelago file goes through a
//! filter that quotes it for the file's own syntax, so nothing a user writes
//! can add a line or an argument.

use minijinja::{Environment, UndefinedBehavior, syntax::SyntaxConfig};
use std::sync::OnceLock;

fn templates() -> &'static Environment<'static> {
    static TEMPLATES: OnceLock<Environment<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        if let Ok(syntax) = SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.add_filter("toml", toml_string);
        env.add_filter("systemd", systemd_word);
        env.add_filter("env", env_value);
        // The templates are part of archipel: a broken one fails its tests.
        for (name, text) in [
            ("garage.toml", include_str!("../templates/garage.toml.j2")),
            (
                "garage.service",
                include_str!("../templates/garage.service.j2"),
            ),
            ("restic.env", include_str!("../templates/restic.env.j2")),
            (
                "restic.service",
                include_str!("../templates/restic.service.j2"),
            ),
            ("restic.timer", include_str!("../templates/restic.timer.j2")),
            (
                "vault.service",
                include_str!("../templates/vault.service.j2"),
            ),
            ("vault.timer", include_str!("../templates/vault.timer.j2")),
            (
                "garage-metrics.service",
                include_str!("../templates/garage-metrics.service.j2"),
            ),
            (
                "garage-metrics.timer",
                include_str!("../templates/garage-metrics.timer.j2"),
            ),
        ] {
            let _ = env.add_template(name, text);
        }
        env
    })
}

/// Renders one of archipel's templates.
pub fn render(name: &str, context: minijinja::Value) -> String {
    templates()
        .get_template(name)
        .and_then(|t| t.render(context))
        .unwrap_or_else(|e| panic!("archipel's {name} template is broken: {e:#}"))
}

/// A TOML basic string, every value quoted and escaped.
pub fn toml_string(value: String) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One word of a systemd command line (systemd.service(5), "Command
/// lines"): double-quoted, with `\` and `"` escaped, and `%` and `$`
/// doubled so that systemd expands neither specifiers nor variables.
pub fn systemd_word(value: String) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One POSIX shell word, single-quoted (a `'` written as `'\''`).
pub fn shell_word(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// A value of a systemd EnvironmentFile= that a shell sourcing the file
/// reads the same: single-quoted when it holds no `'` and no `\` (systemd
/// reads a backslash even there), else double-quoted with `\`, `"`, `$`
/// and `` ` `` escaped, which systemd (252) and `sh` both undo.
fn env_value(value: String) -> String {
    if !value.contains(['\'', '\\']) {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 8);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("a\"b\\c\nd".into()), r#""a\"b\\c\nd""#);
    }

    #[test]
    fn systemd_words_are_quoted_and_expand_nothing() {
        assert_eq!(
            systemd_word("/srv/my data/100%$HOME\"x".into()),
            r#""/srv/my data/100%%$$HOME\"x""#
        );
    }

    #[test]
    fn environment_values_read_the_same_in_systemd_and_sh() {
        assert_eq!(
            env_value("/usr/bin/restic $x".into()),
            "'/usr/bin/restic $x'"
        );
        assert_eq!(
            env_value(r#"psql -c 'select 1' && echo "$HOME" \ `id`"#.into()),
            r#""psql -c 'select 1' && echo \"\$HOME\" \\ \`id\`""#
        );
    }
}
