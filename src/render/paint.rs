//! Colour for what dockguard writes to stderr: the hook's and `push`'s messages and
//! errors.
//!
//! Those messages are built and escaped as plain lines first (whatever a push carries is
//! already made harmless there); this layer then styles only line starts that dockguard
//! itself writes (`dockguard: error:`, `warning:`, the verdict), so no pushed text can
//! choose a style, and the colour decision stays in one place at the edge.

use std::io::{self, Write};

use console::Style;

/// A writer that styles the known line starts of what goes through it, a line at a time.
pub(crate) struct Painter<W: Write> {
    inner: W,
    color: bool,
    pending: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for Painter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Painter")
            .field("color", &self.color)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Painter<W> {
    /// Styles what goes to `inner` when `color`; passes it through unchanged otherwise.
    pub(crate) fn new(inner: W, color: bool) -> Self {
        Painter {
            inner,
            color,
            pending: Vec::new(),
        }
    }

    fn write_lines(&mut self, all: bool) -> io::Result<()> {
        let end = if all {
            self.pending.len()
        } else {
            match self.pending.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => return Ok(()),
            }
        };
        let chunk: Vec<u8> = self.pending.drain(..end).collect();
        let text = String::from_utf8_lossy(&chunk);
        let painted: String = text.split_inclusive('\n').map(paint_line).collect();
        self.inner.write_all(painted.as_bytes())
    }
}

impl<W: Write> Write for Painter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.color {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        self.write_lines(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.color {
            self.write_lines(true)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Painter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// One line (with its newline, if any), styled by how it starts.
pub(crate) fn paint_line(line: &str) -> String {
    let red = || Style::new().red().bold().force_styling(true);
    let yellow = || Style::new().yellow().bold().force_styling(true);
    let green = || Style::new().green().force_styling(true);
    let bold = || Style::new().bold().force_styling(true);
    let dim = || Style::new().dim().force_styling(true);
    // (line start, the part of it to style, style)
    let rules: [(&str, &str, Style); 10] = [
        ("dockguard: error:", "error:", red()),
        ("dockguard: internal error:", "internal error:", red()),
        ("dockguard: warning:", "warning:", yellow()),
        ("dockguard: note:", "note:", dim()),
        (
            "dockguard: no image rebuild needed",
            "no image rebuild needed",
            green(),
        ),
        (
            "dockguard: images must be rebuilt",
            "images must be rebuilt",
            yellow(),
        ),
        ("The push is stopped", "The push is stopped", yellow()),
        ("  hint:", "hint:", bold()),
        ("  caused by:", "caused by:", dim()),
        ("  escape hatch:", "escape hatch:", dim()),
    ];
    for (start, part, style) in rules {
        if let Some(rest) = line.strip_prefix(start) {
            let head = &start[..start.len() - part.len()];
            return format!("{head}{}{rest}", style.apply_to(part));
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(color: bool, writes: &[&str]) -> String {
        let mut out = Vec::new();
        {
            let mut p = Painter::new(&mut out, color);
            for w in writes {
                p.write_all(w.as_bytes()).expect("write");
            }
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn plain_when_off() {
        let text = "dockguard: error: x\n  hint: y\n";
        assert_eq!(through(false, &[text]), text);
    }

    #[test]
    fn styles_known_starts_across_split_writes() {
        let out = through(
            true,
            &[
                "dockguard: err",
                "or: bad thing\n  hint: do",
                " this\nplain",
            ],
        );
        assert_eq!(
            out,
            "dockguard: \u{1b}[31m\u{1b}[1merror:\u{1b}[0m bad thing\n  \u{1b}[1mhint:\u{1b}[0m do this\nplain"
        );
    }

    #[test]
    fn pushed_text_chooses_no_style() {
        // A ref name that looks like a dockguard line start is not at a line start.
        let line = "  refs/heads/dockguard: error: x (1234567890): rebuild needed\n";
        assert_eq!(through(true, &[line]), line);
    }
}
