//! Go's fmt as templates use it: `print` (Sprint), `printf` (Sprintf's common verbs, flags,
//! width and precision, and its `%!verb(type=value)` complaints) and `%q` quoting.

use serde_json::Value;

use super::value::{go_float, print, Val};

/// `fmt.Sprint`: spaces between operands when neither is a string.
pub(crate) fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Val| v.v.is_string();
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&print(a));
    }
    out
}

/// `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn bad(verb: char, v: &Val) -> String {
    format!("%!{verb}({}={})", v.go_type(), print(v))
}

fn int_of(v: &Val) -> Option<i64> {
    match &v.v {
        Value::Number(n) if !n.is_f64() => n.as_i64(),
        _ => None,
    }
}

fn float_of(v: &Val) -> Option<f64> {
    match &v.v {
        Value::Number(n) if n.is_f64() => n.as_f64(),
        _ => None,
    }
}

fn with_sign(spec: &Spec, neg: bool, digits: String) -> String {
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    format!("{sign}{digits}")
}

fn format_one(verb: char, spec: &Spec, v: &Val) -> String {
    match verb {
        'v' => print(v),
        's' if v.v.is_string() || v.v.is_array() || v.v.is_object() => {
            let p = print(v);
            match spec.prec {
                Some(n) => p.chars().take(n).collect(),
                None => p,
            }
        }
        'q' => match (&v.v, int_of(v)) {
            (Value::String(s), _) => go_quote(s),
            (_, Some(i)) => format!("'{}'", char::from_u32(i as u32).unwrap_or('\u{fffd}')),
            _ => bad(verb, v),
        },
        't' => match v.v {
            Value::Bool(b) => b.to_string(),
            _ => bad(verb, v),
        },
        'd' | 'x' | 'X' | 'o' | 'b' | 'c' => format_int(verb, spec, v),
        'f' | 'F' | 'e' | 'g' => match float_of(v) {
            Some(f) => {
                let body = match verb {
                    'e' => format!("{:.*e}", spec.prec.unwrap_or(6), f.abs()),
                    'g' => go_float(f.abs()),
                    _ => format!("{:.*}", spec.prec.unwrap_or(6), f.abs()),
                };
                with_sign(spec, f < 0.0, body)
            }
            None => bad(verb, v),
        },
        _ => bad(verb, v),
    }
}

fn format_int(verb: char, spec: &Spec, v: &Val) -> String {
    if let (Value::String(s), 'x' | 'X') = (&v.v, verb) {
        let h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
        return if verb == 'X' { h.to_uppercase() } else { h };
    }
    let Some(i) = int_of(v) else {
        return bad(verb, v);
    };
    let m = i.unsigned_abs();
    let digits = match verb {
        'x' => format!("{}{m:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{m:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{m:o}", if spec.sharp { "0" } else { "" }),
        'b' => format!("{m:b}"),
        'c' => return char::from_u32(i as u32).map_or_else(|| "\u{fffd}".into(), String::from),
        _ => m.to_string(),
    };
    with_sign(spec, i < 0, digits)
}

fn pad(spec: &Spec, s: String, numeric: bool) -> String {
    let Some(w) = spec.width else {
        return s;
    };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if spec.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, rest) = match s.strip_prefix(['-', '+']) {
            Some(r) => (&s[..1], r),
            None => ("", s.as_str()),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn parse_spec(chars: &[char], i: &mut usize) -> Spec {
    let mut spec = Spec::default();
    while let Some(&c) = chars.get(*i) {
        match c {
            '-' => spec.minus = true,
            '+' => spec.plus = true,
            '0' => spec.zero = true,
            ' ' => spec.space = true,
            '#' => spec.sharp = true,
            _ => break,
        }
        *i += 1;
    }
    let num = |i: &mut usize| {
        let start = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        chars[start..*i]
            .iter()
            .collect::<String>()
            .parse::<usize>()
            .ok()
    };
    spec.width = num(i);
    if chars.get(*i) == Some(&'.') {
        *i += 1;
        spec.prec = Some(num(i).unwrap_or(0));
    }
    spec
}

/// `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[Val]) -> String {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut next = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let spec = parse_spec(&chars, &mut i);
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(v) => {
                let numeric = v.v.is_number() && verb != 'v' || verb == 'd';
                out.push_str(&pad(&spec, format_one(verb, &spec, v), numeric));
            }
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|v| format!("{}={}", v.go_type(), print(v)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}
