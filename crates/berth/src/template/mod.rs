//! Go's text/template as docker's `--format` uses it (`inspect -f`, `ps --format`, …): actions,
//! pipelines, variables, `if`/`else if`/`range` (with `break`/`continue`)/`with`, comments,
//! `{{- -}}` trimming, Go's functions (`eq ne lt le gt ge and or not len index slice print
//! printf println html js urlquery`) and docker's (`json split join title lower upper pad
//! truncate`). Values are decoded JSON; [`value`] says which objects Go would see as structs
//! (a missing field is an error) and which as maps (a missing key is `<no value>`).
//!
//! Written here rather than taken from crates.io: the one Go-template crate (gtmpl 0.7, last
//! released 2021) lacks `break`/`continue` and `slice`, has no struct/map distinction and no
//! methods with arguments (docker's `.Label "k"`), and words its errors unlike Go.

mod exec;
mod funcs;
mod gofmt;
mod lex;
mod parse;
mod value;

use serde_json::Value;

pub use value::METHOD_PREFIX;
use value::{Kind, Val};

/// A template error, printed as Go does ("template: :1: …").
#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}", self.0)
    }
}

/// How data is seen while rendering.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// The Go type of the data for "can't evaluate field" errors (docker's formatter context,
    /// e.g. `*formatter.ContainerContext`); empty for inspect documents, where docker's raw
    /// fallback says "map has no entry for key".
    pub type_name: String,
    /// A table header: the data is a map of column titles and docker's functions return
    /// their argument unchanged.
    pub header: bool,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<parse::Node>,
    src: String,
}

impl Template {
    /// Parses `src`.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let pieces = lex::pieces(src)?;
        let nodes = parse::Parser::new(pieces, funcs::defined).parse()?;
        Ok(Template {
            nodes,
            src: src.to_owned(),
        })
    }

    /// Renders an inspect document.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        self.render_ctx(data, &Ctx::default())
    }

    /// Renders `data` as `ctx` says.
    pub fn render_ctx(&self, data: &Value, ctx: &Ctx) -> Result<String, TemplateError> {
        let kind = if ctx.header {
            Kind::StrMap
        } else {
            Kind::Struct
        };
        let mut st = exec::State::new(ctx, &self.src, Val::root(data.clone(), kind));
        st.run(&self.nodes)?;
        Ok(st.out)
    }
}

pub use gofmt::go_quote;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    #[test]
    fn go_template_subset() {
        let v = json!({
            "Name": "/web",
            "State": {"Status": "running", "Pid": 42, "Running": true},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"x": "y"}, "Cmd": null},
        });
        assert_eq!(r("{{.State.Status}} {{.State.Pid}}", &v), "running 42");
        assert_eq!(r("{{json .Config.Labels}}", &v), r#"{"x":"y"}"#);
        assert_eq!(r("{{.Config.Labels | json}}", &v), r#"{"x":"y"}"#);
        assert_eq!(r("{{len .Config.Env}}", &v), "2");
        assert_eq!(r("{{index .Config.Env 1}}", &v), "B=2");
        assert_eq!(r(r#"{{index .Config.Labels "x"}}"#, &v), "y");
        assert_eq!(r("{{range .Config.Env}}[{{.}}]{{end}}", &v), "[A=1][B=2]");
        assert_eq!(r("{{range .Config.Cmd}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}", &v), "up");
        assert_eq!(r(r#"{{join .Config.Env ","}}"#, &v), "A=1,B=2");
        assert_eq!(
            r("{{.Config.Env}} {{.Config.Labels}}", &v),
            "[A=1 B=2] map[x:y]"
        );
        assert_eq!(r("a {{- .Name -}} b", &v), "a/webb");
        assert_eq!(r("{{upper .State.Status}}", &v), "RUNNING");
        assert!(Template::parse("{{range .X}}").is_err());
        assert!(Template::parse("{{.X").is_err());
        assert_eq!(
            Template::parse("{{nosuch .X}}").unwrap_err().to_string(),
            "template: :1: function \"nosuch\" not defined"
        );
        assert!(Template::parse("{{break}}").is_err());
        assert_eq!(
            r(
                "{{range $i, $e := .Config.Env}}{{if eq $i 1}}{{break}}{{end}}{{$e}}{{end}}",
                &v
            ),
            "A=1"
        );
        assert_eq!(
            r("{{if eq 1 2}}a{{else if eq 1 1}}b{{else}}c{{end}}", &v),
            "b"
        );
        assert_eq!(
            r("{{slice .Name 1 3}} {{printf \"%05d|%-3s|\" 42 \"x\"}}", &v),
            "we 00042|x  |"
        );
        assert_eq!(
            r(
                "{{(index .Config.Env 0) | len}} {{.Config.Labels.none}}",
                &v
            ),
            "3 <no value>"
        );
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .render(&v)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
        );
    }
}
