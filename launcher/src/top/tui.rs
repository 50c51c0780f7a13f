//! The live view on a terminal (ratatui + crossterm): a header, then each
//! process with its connections and, under each, its subflows with a
//! sparkline of their throughput; the latest events at the bottom.
//! `q`, Esc or Ctrl-C quits; the arrow keys and PageUp/PageDown scroll.
//! NO_COLOR (set and not empty) turns colours and bold off.

use super::fmt::{bytes, count, rate};
use super::history::{Event, History};
use super::plain::connection_line;
use super::snapshot::Connection;
use ratatui::crossterm::event::{self, Event as Input, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

/// Events kept on screen.
const EVENT_LINES: usize = 6;
/// Columns of each subflow's sparkline.
const SPARK_WIDTH: u16 = 24;

/// What one frame shows.
pub struct View {
    pub conns: Vec<Connection>,
    pub events: VecDeque<Event>,
    pub history: History,
    pub color: bool,
    pub interval: Duration,
    pub scroll: usize,
    pub error: Option<String>,
}

impl View {
    pub fn new(color: bool, interval: Duration) -> View {
        View {
            conns: Vec::new(),
            events: VecDeque::new(),
            history: History::new(),
            color,
            interval,
            scroll: 0,
            error: None,
        }
    }

    /// Takes in a new look.
    pub fn update(&mut self, mut conns: Vec<Connection>, now: Instant) {
        for e in self.history.update(&mut conns, now) {
            if self.events.len() == EVENT_LINES * 4 {
                self.events.pop_front();
            }
            self.events.push_back(e);
        }
        self.conns = conns;
    }

    fn style(&self, s: Style) -> Style {
        if self.color {
            s
        } else {
            Style::default()
        }
    }
}

/// One row of the body: text, and a sparkline for subflow rows.
enum Row {
    Text(String, Style),
    Subflow(String, Style, Vec<u64>),
}

pub fn draw(frame: &mut Frame, v: &View) {
    let area = frame.area();
    let events = v.events.len().min(EVENT_LINES) as u16;
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(events + u16::from(events > 0)),
    ])
    .areas(area);
    let subflows: usize = v.conns.iter().map(|c| c.subflows.len()).sum();
    let title = format!(
        "mptcpize-rs top: {}, {}, every {:.1}s  (q quits)",
        count(v.conns.len(), "MPTCP connection"),
        count(subflows, "subflow"),
        v.interval.as_secs_f64()
    );
    let title = match &v.error {
        Some(e) => format!("{title}  ERROR: {e}"),
        None => title,
    };
    frame.render_widget(
        Paragraph::new(title).style(v.style(Style::new().add_modifier(Modifier::REVERSED))),
        head,
    );

    let rows = rows(v);
    for (i, row) in rows
        .iter()
        .skip(v.scroll)
        .take(body.height as usize)
        .enumerate()
    {
        let line = Rect::new(body.x, body.y + i as u16, body.width, 1);
        match row {
            Row::Text(text, style) => {
                frame.render_widget(Paragraph::new(text.as_str()).style(v.style(*style)), line)
            }
            Row::Subflow(text, style, spark) => {
                let [t, s] =
                    Layout::horizontal([Constraint::Min(10), Constraint::Length(SPARK_WIDTH)])
                        .areas(line);
                frame.render_widget(Paragraph::new(text.as_str()).style(v.style(*style)), t);
                let tail = &spark[spark.len().saturating_sub(SPARK_WIDTH as usize)..];
                frame.render_widget(
                    Sparkline::default()
                        .data(tail.iter().copied())
                        .style(v.style(Style::new().fg(Color::Cyan))),
                    s,
                );
            }
        }
    }

    if events > 0 {
        let lines: Vec<Line> = std::iter::once(Line::from("events:"))
            .chain(
                v.events
                    .iter()
                    .rev()
                    .take(EVENT_LINES)
                    .map(|e| Line::from(format!("+{:.1}s {}", e.at.as_secs_f64(), e.text))),
            )
            .collect();
        frame.render_widget(
            Paragraph::new(lines).style(v.style(Style::new().fg(Color::Yellow))),
            foot,
        );
    }
}

fn rows(v: &View) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut last_pid = None;
    for c in &v.conns {
        if last_pid != Some(c.pid) {
            last_pid = Some(c.pid);
            let text = match c.pid {
                Some(pid) => format!(
                    "pid {pid} {} ({})",
                    c.comm.as_deref().unwrap_or("?"),
                    c.via.map_or("?", |v| v.word())
                ),
                None => "no process (closed, still draining)".into(),
            };
            rows.push(Row::Text(text, Style::new().add_modifier(Modifier::BOLD)));
        }
        rows.push(Row::Text(format!("  {}", connection_line(c)), Style::new()));
        for sf in &c.subflows {
            let failing = sf
                .failed
                .as_ref()
                .map_or(String::new(), |why| format!(" FAILING: {why};"));
            let text = format!(
                "    {:<22} -> {:<22} {:<8} {:<6}{}{failing} rtt {:>6.1} ms  {:>9} {:>9}  {:>12} up {:>12} down",
                sf.local,
                sf.remote,
                sf.interface.as_deref().unwrap_or("?"),
                sf.state,
                if sf.backup { " backup" } else { "" },
                sf.rtt_ms,
                bytes(sf.bytes_sent),
                bytes(sf.bytes_received),
                rate(sf.rate_sent),
                rate(sf.rate_received),
            );
            let style = match &sf.failed {
                Some(_) => Style::new().fg(Color::Red),
                None => Style::new(),
            };
            let spark = v
                .history
                .spark(c, &sf.local, &sf.remote)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
            rows.push(Row::Subflow(text, style, spark));
        }
    }
    if rows.is_empty() {
        rows.push(Row::Text(
            "no MPTCP connection in this network namespace (matching the filters)".into(),
            Style::new(),
        ));
    }
    rows
}

/// Runs the live view until the user quits; `sample` takes each look.
pub fn run(
    mut view: View,
    iterations: Option<u64>,
    mut sample: impl FnMut() -> io::Result<Vec<Connection>>,
) -> io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = (|| {
        let mut looks = 0;
        loop {
            match sample() {
                Ok(conns) => {
                    view.error = None;
                    view.update(conns, Instant::now());
                }
                Err(e) => view.error = Some(e.to_string()),
            }
            looks += 1;
            terminal.draw(|f| draw(f, &view))?;
            if iterations.is_some_and(|n| looks >= n) {
                return Ok(());
            }
            let next = Instant::now() + view.interval;
            while let Some(left) = next.checked_duration_since(Instant::now()) {
                if !event::poll(left)? {
                    break;
                }
                if let Input::Key(k) = event::read()? {
                    if k.kind != KeyEventKind::Press {
                        continue;
                    }
                    match k.code {
                        KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                            return Ok(())
                        }
                        KeyCode::Down => view.scroll += 1,
                        KeyCode::Up => view.scroll = view.scroll.saturating_sub(1),
                        KeyCode::PageDown => view.scroll += 10,
                        KeyCode::PageUp => view.scroll = view.scroll.saturating_sub(10),
                        _ => {}
                    }
                    terminal.draw(|f| draw(f, &view))?;
                }
            }
        }
    })();
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::snapshot::example;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn render(color: bool) -> (String, ratatui::buffer::Buffer) {
        let mut view = View::new(color, Duration::from_secs(1));
        let t0 = Instant::now();
        view.update(vec![example(1_000_000)], t0);
        view.update(vec![example(3_500_000)], t0 + Duration::from_secs(1));
        let mut c = example(6_000_000);
        c.subflows[1].failed = Some("interface eth1 is down".into());
        view.update(vec![c], t0 + Duration::from_secs(2));
        let mut term = Terminal::new(TestBackend::new(200, 12)).unwrap();
        term.draw(|f| draw(f, &view)).unwrap();
        let buf = term.backend().buffer().clone();
        let text = (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n");
        (text, buf)
    }

    #[test]
    fn draws_processes_connections_subflows_sparklines_and_events() {
        let (text, buf) = render(true);
        assert!(text.contains("1 MPTCP connection, 2 subflows"), "{text}");
        assert!(text.contains("pid 4242 iperf3 (shim)"), "{text}");
        assert!(
            text.contains("token 1a2b3c4d 10.231.0.1:40000 -> 10.231.0.2:5201"),
            "{text}"
        );
        assert!(text.contains("10.231.1.1:40001"), "{text}");
        assert!(text.contains("eth0") && text.contains("backup"), "{text}");
        // 2.5 MB in a second, then none.
        assert!(text.contains("20.0 Mbit/s"), "{text}");
        assert!(text.contains("██"), "no sparkline:\n{text}");
        assert!(text.contains("FAILING: interface eth1 is down"), "{text}");
        assert!(
            text.contains("subflow 10.231.1.1:40001 -> 10.231.0.2:5201 (eth1) failing"),
            "{text}"
        );
        assert!(buf.content.iter().any(|c| c.fg == Color::Red));
    }

    #[test]
    fn no_color_means_no_colour() {
        let (text, buf) = render(false);
        assert!(text.contains("FAILING"), "{text}");
        assert!(buf
            .content
            .iter()
            .all(|c| c.fg == Color::Reset && c.modifier.is_empty()));
    }
}
