//! docker's formatter for list commands (`ps`, `images`, `network ls`, `volume ls`, …):
//! `--format` with an optional `table` directive, `\t`/`\n` escapes, rows rendered through
//! the user's template and, for tables, a header rendered through the same template from the
//! column titles, all aligned by a tabwriter as docker's (minimum width 10, padding 3).

use serde_json::Value;

use crate::table::tabwrite;
use crate::template::{Ctx, Template};
use crate::Failure;

fn failure(message: String) -> Failure {
    Failure { code: 1, message }
}

/// The template text of a `--format` value and whether it is a table.
fn prepare(format: &str) -> (bool, String) {
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    (table, body)
}

/// Parses a list `--format` as docker's formatter does (its wording on failure).
fn parse(format: &str) -> Result<(bool, Template), Failure> {
    let (table, body) = prepare(format);
    let t = Template::parse(&body).map_err(|e| failure(format!("template parsing error: {e}")))?;
    Ok((table, t))
}

/// `ps` checks its template before listing, on an empty row, with its own wording.
pub fn validate(format: &str, empty_row: &Value, type_name: &str) -> Result<(), Failure> {
    let (_, body) = prepare(format);
    let t =
        Template::parse(&body).map_err(|e| failure(format!("failed to parse template: {e}")))?;
    let ctx = Ctx {
        type_name: type_name.to_owned(),
        header: false,
    };
    t.render_ctx(empty_row, &ctx)
        .map_err(|e| failure(format!("failed to execute template: {e}")))?;
    Ok(())
}

/// Renders `rows` (docker's formatter context of type `type_name`, e.g.
/// `*formatter.ContainerContext`) with `format`; `headers` maps fields to column titles.
pub fn render_rows(
    format: &str,
    rows: &[Value],
    headers: &Value,
    type_name: &str,
) -> Result<(), Failure> {
    let (table, t) = parse(format)?;
    let ctx = Ctx {
        type_name: type_name.to_owned(),
        header: false,
    };
    let mut body = String::new();
    for r in rows {
        let line = t
            .render_ctx(r, &ctx)
            .map_err(|e| failure(format!("template parsing error: {e}")))?;
        body.push_str(&line);
        body.push('\n');
    }
    if !table {
        print!("{body}");
        return Ok(());
    }
    let header_ctx = Ctx {
        type_name: String::new(),
        header: true,
    };
    // docker ignores a failure to render the header and keeps what was rendered.
    let mut text = t.render_ctx(headers, &header_ctx).unwrap_or_default();
    text.push('\n');
    text.push_str(&body);
    print!("{}", tabwrite(&text, 10, 3));
    Ok(())
}

/// Parses an inspect `-f` template (used as given: no `\t` escapes, as docker); a bad one
/// exits 64 as docker's does.
pub fn inspect_template(format: &str) -> Result<Template, Failure> {
    Template::parse(format).map_err(|e| Failure {
        code: 64,
        message: format!("template parsing error: {e}"),
    })
}

/// Renders inspect documents with `t` as docker does: one line per document; a document
/// whose rendering fails is reported and skipped (exit 1); an empty result prints a newline.
/// `type_name` is the Go type docker renders when it has no raw-JSON fallback (volumes:
/// `volume.Volume`); empty for the others.
pub fn inspect_render(t: &Template, docs: &[Value], type_name: &str) -> i32 {
    let ctx = Ctx {
        type_name: type_name.to_owned(),
        header: false,
    };
    let mut out = String::new();
    let mut errors = Vec::new();
    for d in docs {
        match t.render_ctx(d, &ctx) {
            Ok(s) => {
                out.push_str(&s);
                out.push('\n');
            }
            Err(e) => errors.push(format!("template parsing error: {e}")),
        }
    }
    if out.is_empty() {
        out.push('\n');
    }
    print!("{out}");
    // docker reports the failures after what did render.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    for e in &errors {
        eprintln!("{e}");
    }
    i32::from(!errors.is_empty())
}
