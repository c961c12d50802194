//! Printing diagnostics: for people (miette, with the source snippet) and
//! for scripts (JSON).

use archipel_planner::diagnostic::{Diagnostic, Severity};
use archipel_planner::source::{FileId, SourceFile, Sources, Span};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A file's text as miette reads it around a label: from the first line of
/// the label's context, found in the file's line index. (miette's own
/// reading of a text scans it from its start for every label, which over a
/// large archipelago's many diagnostics is quadratic.) Shared by every
/// diagnostic of the file.
#[derive(Debug)]
struct FileText {
    name: String,
    file: SourceFile,
}

impl SourceCode for FileText {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text = self.file.text.as_bytes();
        if span.offset() > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let line = self.file.line_of(span.offset());
        let first = line.saturating_sub(context_lines_before);
        let start = self.file.line_starts()[first];
        let within = SourceSpan::new((span.offset() - start).into(), span.len());
        let read = text[start..].read_span(&within, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            read.data(),
            SourceSpan::new((read.span().offset() + start).into(), read.span().len()),
            read.line() + first,
            read.column(),
            read.line_count() + first,
        )))
    }
}

/// Each file's [`FileText`], made once per rendering.
#[derive(Default)]
struct Texts(BTreeMap<FileId, Arc<FileText>>);

impl Texts {
    fn of(&mut self, sources: &Sources, span: &Span) -> Arc<FileText> {
        Arc::clone(self.0.entry(span.file).or_insert_with(|| {
            let file = sources.get(span.file);
            Arc::new(FileText {
                name: file.path.clone(),
                file: file.clone(),
            })
        }))
    }
}

/// A diagnostic in miette's terms: its file, marked places and related notes.
#[derive(Debug)]
struct Rendered {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Arc<FileText>,
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
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&*self.source)
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

fn source_span(span: &Span) -> SourceSpan {
    (span.range.start..span.range.end.max(span.range.start)).into()
}

fn to_miette(sources: &Sources, texts: &mut Texts, diagnostic: &Diagnostic) -> Rendered {
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
                source: texts.of(sources, &note.span),
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
        source: texts.of(sources, &diagnostic.span),
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
    let mut texts = Texts::default();
    for diagnostic in diagnostics {
        let rendered = to_miette(sources, &mut texts, diagnostic);
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
