//! Printing diagnostics: for people (miette, with the source snippet) and
//! for scripts (JSON).

use archipel_planner::diagnostic::{Diagnostic, Severity};
use archipel_planner::source::{Sources, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use std::fmt;

/// A diagnostic in miette's terms: its file, marked places and related notes.
#[derive(Debug)]
struct Rendered {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    related: Vec<Rendered>,
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

fn source_of(sources: &Sources, span: &Span) -> NamedSource<String> {
    let file = sources.get(span.file);
    NamedSource::new(file.path.clone(), file.text.clone())
}

fn source_span(span: &Span) -> SourceSpan {
    (span.range.start..span.range.end.max(span.range.start)).into()
}

fn to_miette(sources: &Sources, diagnostic: &Diagnostic) -> Rendered {
    let primary =
        LabeledSpan::new_primary_with_span(diagnostic.label.clone(), source_span(&diagnostic.span));
    let mut labels = vec![primary];
    let mut related = Vec::new();
    for note in &diagnostic.related {
        if note.span.file == diagnostic.span.file {
            labels.push(LabeledSpan::new_with_span(
                Some(note.message.clone()),
                source_span(&note.span),
            ));
        } else {
            // miette marks one file per report: other files get a note of their own.
            related.push(Rendered {
                message: note.message.clone(),
                code: diagnostic.code,
                severity: miette::Severity::Advice,
                help: None,
                source: source_of(sources, &note.span),
                labels: vec![LabeledSpan::new_primary_with_span(
                    None,
                    source_span(&note.span),
                )],
                related: Vec::new(),
            });
        }
    }
    Rendered {
        message: diagnostic.message.clone(),
        code: diagnostic.code,
        severity: match diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        },
        help: diagnostic.help.clone(),
        source: source_of(sources, &diagnostic.span),
        labels,
        related,
    }
}

/// Renders diagnostics for people, as one string.
pub fn render_human(sources: &Sources, diagnostics: &[Diagnostic], colour: bool) -> String {
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let rendered = to_miette(sources, diagnostic);
        // Writing to a String cannot fail.
        let _ = handler.render_report(&mut out, &rendered);
        out.push('\n');
    }
    out
}

/// "2 errors, 1 warning"
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    format_version: &'static str,
    valid: bool,
    error_count: usize,
    warning_count: usize,
    diagnostics: Vec<archipel_planner::diagnostic::DiagnosticReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a serde_json::Value>,
}

/// The `--output json` document.
pub fn render_json(
    sources: &Sources,
    diagnostics: &[Diagnostic],
    summary: Option<&serde_json::Value>,
) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let report = JsonReport {
        format_version: "1",
        valid: errors == 0,
        error_count: errors,
        warning_count: diagnostics.len() - errors,
        diagnostics: diagnostics.iter().map(|d| d.to_report(sources)).collect(),
        summary,
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
