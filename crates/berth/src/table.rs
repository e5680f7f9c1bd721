//! Docker-style output helpers: aligned columns (tabwriter with 3 spaces of padding), human
//! durations and sizes.

/// Renders rows as docker's default tables: tab-separated cells through [`tabwrite`].
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut text = header.join("\t") + "\n";
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    tabwrite(&text, 10, 3)
}

/// Go's `text/tabwriter` with padding character ' ' and no flags: a tab terminates a cell;
/// the cells of one column in consecutive lines form a block padded to its widest cell plus
/// `padding` (at least `minwidth`); the last cell of each line is not aligned.
pub fn tabwrite(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        minwidth,
        padding,
        &mut out,
    );
    out
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                if let Some(w) = widths.get(j) {
                    out.push_str(&" ".repeat(w.saturating_sub(cell.chars().count())));
                }
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

/// Go's `Writer.format`: widths of column `widths.len()` per block, recursively rightwards.
fn format_block(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    minwidth: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut width = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, line0, this, widths, minwidth, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    let (mins, hours) = (secs / 60, secs / 3600);
    if secs < 1 {
        "Less than a second".into()
    } else if secs < 60 {
        plural(secs, "second")
    } else if mins == 1 {
        "About a minute".into()
    } else if mins < 60 {
        plural(mins, "minute")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        plural(hours, "hour")
    } else if hours < 24 * 14 {
        plural(hours / 24, "day")
    } else if hours < 24 * 90 {
        plural(hours / 24 / 7, "week")
    } else if hours < 24 * 365 * 2 {
        plural(hours / 24 / 30, "month")
    } else {
        plural(hours / 24 / 365, "year")
    }
}

/// "N units ago" from a unix time.
pub fn ago(unix: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(unix);
    format!("{} ago", human_duration(now - unix))
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits.
pub fn human_size(size: u64) -> String {
    human_size_prec(size, 3)
}

/// `units.HumanSizeWithPrecision(size, prec)`: decimal units, Go's `%.{prec}g`.
pub fn human_size_prec(size: u64, prec: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let int_digits = if v < 1.0 {
        1
    } else {
        v.log10().floor() as usize + 1
    };
    let decimals = prec.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

/// Truncates to `n` characters with docker's ellipsis.
pub fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_tables() {
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(12_345), "12.3kB");
        assert_eq!(human_size_prec(1_984_316, 4), "1.984MB");
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        let t = render(&["A", "BB"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A         BB\nxyz       1\n");
        assert_eq!(
            tabwrite("a\tb\n\tlonger-cell-here\tc\n", 10, 3),
            "a         b\n          longer-cell-here   c\n"
        );
    }
}
