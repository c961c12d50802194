//! Errors and warnings about an archipelago, each pointing into its source.

use crate::source::{Position, Sources, Span};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary place that explains a diagnostic ("first declared here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, kebab-case name of the rule, for scripts and documentation.
    pub code: &'static str,
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// A short text shown under the marked source ("expected a string").
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The plain-data form used by `--output json`.
    pub fn to_report(&self, sources: &Sources) -> DiagnosticReport {
        let place = |span: &Span| {
            let start = sources.position(span.file, span.range.start);
            let end = sources.position(span.file, span.range.end);
            Place {
                file: sources.get(span.file).path.clone(),
                line: start.line,
                column: start.column,
                end,
                snippet: sources.snippet(span).to_string(),
            }
        };
        DiagnosticReport {
            severity: self.severity,
            code: self.code,
            message: self.message.clone(),
            place: place(&self.span),
            label: self.label.clone(),
            help: self.help.clone(),
            related: self
                .related
                .iter()
                .map(|r| RelatedReport {
                    message: r.message.clone(),
                    place: place(&r.span),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Place {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end: Position,
    /// The source lines the diagnostic points at.
    pub snippet: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticReport {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    #[serde(flatten)]
    pub place: Place,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelatedReport {
    pub message: String,
    #[serde(flatten)]
    pub place: Place,
}

/// Orders diagnostics by file and position, errors before warnings at the
/// same place, so output is stable whatever order the rules ran in.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.range.start, a.severity, &a.message).cmp(&(
            b.span.file,
            b.span.range.start,
            b.severity,
            &b.message,
        ))
    });
}

/// The closest candidate to a misspelt name, if one is close enough to be
/// what the user meant.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
