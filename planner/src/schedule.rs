//! Backup schedules, in systemd's `OnCalendar=` syntax (systemd.time(7)).
//!
//! archipel writes the schedule into a systemd timer, so it accepts what
//! systemd accepts and rejects, before anything reaches a host, what systemd
//! would refuse: with a reason a person can act on.

use serde::Serialize;

/// A validated `OnCalendar=` expression, kept as the user wrote it (systemd
/// normalises it itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Schedule(String);

const SHORTHANDS: &[&str] = &[
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "semiannually",
    "yearly",
    "annually",
];

const WEEKDAYS: &[(&str, &str)] = &[
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

impl Schedule {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse(text: &str) -> Result<Schedule, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("the schedule is empty; write e.g. \"daily\" or \"*-*-* 03:00\"".into());
        }
        if SHORTHANDS.iter().any(|s| s.eq_ignore_ascii_case(trimmed)) {
            return Ok(Schedule(trimmed.to_string()));
        }
        if trimmed.starts_with('@') {
            return Err(
                "a one-off \"@timestamp\" is not a schedule; write a recurring time such as \"*-*-* 03:00\""
                    .into(),
            );
        }
        let mut tokens: Vec<&str> = trimmed.split_whitespace().collect();

        // A trailing time zone ("UTC", "Europe/Paris").
        if tokens.len() > 1 && tokens.last().is_some_and(|t| looks_like_time_zone(t)) {
            tokens.pop();
        }
        let mut tokens = tokens.into_iter().peekable();
        if let Some(first) = tokens.peek()
            && first.starts_with(|c: char| c.is_ascii_alphabetic())
        {
            weekdays(first)?;
            tokens.next();
        }
        let (mut date, mut time) = (None, None);
        for token in tokens {
            if token.contains(':') {
                if time.replace(token).is_some() {
                    return Err(format!("\"{token}\": a schedule has one time of day"));
                }
                clock(token)?;
            } else if token.contains('-') || token.contains('*') && !token.contains(':') {
                if time.is_some() {
                    return Err(format!(
                        "\"{token}\": the date comes before the time, as in \"*-*-* 03:00\""
                    ));
                }
                if date.replace(token).is_some() {
                    return Err(format!("\"{token}\": a schedule has one date"));
                }
                calendar_date(token)?;
            } else if token.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return Err(format!(
                    "\"{token}\" is not a weekday, date or time; weekdays come first (\"Mon..Fri 02:30\")"
                ));
            } else {
                return Err(format!(
                    "\"{token}\" is neither a date (\"*-*-01\") nor a time (\"03:00\")"
                ));
            }
        }
        Ok(Schedule(trimmed.to_string()))
    }
}

fn capitalised(day: &str) -> String {
    let mut chars = day.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
    })
}

fn looks_like_time_zone(token: &str) -> bool {
    let is_zone_char = |c: char| c.is_ascii_alphanumeric() || "/_+-".contains(c);
    token.chars().all(is_zone_char)
        && token.starts_with(|c: char| c.is_ascii_uppercase())
        && (token.contains('/') || token.chars().all(|c| c.is_ascii_uppercase()))
        && weekday_index(token).is_none()
}

fn weekday_index(name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .position(|(short, long)| name == *short || name == *long)
}

/// `Mon`, `Mon..Fri`, `Sat,Sun`, `Mon-Wed,Fri`.
fn weekdays(token: &str) -> Result<(), String> {
    for item in token.split(',') {
        let (from, to) = item
            .split_once("..")
            .or_else(|| item.split_once('-'))
            .unwrap_or((item, item));
        for day in [from, to] {
            if weekday_index(day).is_none() {
                return Err(format!(
                    "\"{day}\" is not a weekday; use Mon, Tue, Wed, Thu, Fri, Sat, Sun (ranges as Mon..Fri)"
                ));
            }
        }
        // systemd refuses a range that wraps past Sunday.
        if weekday_index(from) > weekday_index(to) {
            return Err(format!(
                "\"{item}\": a weekday range runs from Monday to Sunday; write \"{}..Sun,Mon..{}\"",
                capitalised(from),
                capitalised(to)
            ));
        }
    }
    Ok(())
}

/// `[YEAR-]MONTH-DAY`, each part `*`, a value, a range `a..b`, a step `a/n`
/// or a comma list of those; `~` before the day counts from the month's end.
fn calendar_date(token: &str) -> Result<(), String> {
    let (head, last_days) = match token.split_once('~') {
        Some((head, day)) => (head, Some(day)),
        None => (token, None),
    };
    let mut parts: Vec<&str> = head.split('-').collect();
    if let Some(day) = last_days {
        parts.push(day);
    }
    let (year, month, day) = match parts.as_slice() {
        [month, day] => (None, *month, *day),
        [year, month, day] => (Some(*year), *month, *day),
        _ => {
            return Err(format!(
                "\"{token}\" is not a date; write YEAR-MONTH-DAY or MONTH-DAY, e.g. \"*-*-01\""
            ));
        }
    };
    if let Some(year) = year {
        component(year, "year", 1970, 2199)?;
    }
    component(month, "month", 1, 12)?;
    component(day, "day", 1, 31)?;
    if last_days.is_none() {
        never_elapses(token, year, month, day)?;
    }
    Ok(())
}

/// A date no month has ("*-02-30", "*-04,06-31", "2027-02-29"): systemd
/// accepts it, and the timer never runs.
fn never_elapses(token: &str, year: Option<&str>, month: &str, day: &str) -> Result<(), String> {
    let months = values(month, 1, 12);
    let days = values(day, 1, 31);
    let years = year.map_or_else(Vec::new, |y| values(y, 1970, 2199));
    let leap = |y: u32| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let any_leap_year = years.is_empty() || years.iter().any(|&y| leap(y));
    let length = |m: u32| match m {
        2 if any_leap_year => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let possible = months.iter().any(|&m| days.iter().any(|&d| d <= length(m)));
    if possible {
        Ok(())
    } else {
        Err(format!(
            "\"{token}\" names a day its months do not have: the timer would never run"
        ))
    }
}

/// Every value a checked date component stands for.
fn values(text: &str, min: u32, max: u32) -> Vec<u32> {
    let mut all = Vec::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().unwrap_or(1).max(1)),
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (min, max),
            _ => match range.split_once("..") {
                Some((a, b)) => (a.parse().unwrap_or(min), b.parse().unwrap_or(max)),
                // "a/n" runs from a to the end, "a" is a itself.
                None => {
                    let a = range.parse().unwrap_or(min);
                    (
                        a,
                        if step > 1 || item.contains('/') {
                            max
                        } else {
                            a
                        },
                    )
                }
            },
        };
        all.extend((from..=to).step_by(step as usize));
    }
    all
}

/// `HOUR:MINUTE[:SECOND]`, the same component forms as dates.
fn clock(token: &str) -> Result<(), String> {
    let parts: Vec<&str> = token.split(':').collect();
    let (hour, minute, second) = match parts.as_slice() {
        [hour, minute] => (*hour, *minute, None),
        [hour, minute, second] => (*hour, *minute, Some(*second)),
        _ => {
            return Err(format!(
                "\"{token}\" is not a time; write HOUR:MINUTE or HOUR:MINUTE:SECOND, e.g. \"03:00\""
            ));
        }
    };
    component(hour, "hour", 0, 23)?;
    component(minute, "minute", 0, 59)?;
    if let Some(second) = second {
        // Seconds may carry a fraction ("05.5"); only the whole part is bounded.
        let whole: String = second
            .split(',')
            .map(|s| s.split_once('.').map_or(s, |(w, _)| w))
            .collect::<Vec<_>>()
            .join(",");
        component(&whole, "second", 0, 59)?;
    }
    Ok(())
}

fn component(text: &str, what: &str, min: u32, max: u32) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("the {what} is missing"));
    }
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(0) | Err(_) => {
                    return Err(format!(
                        "\"{item}\": the {what} step after \"/\" must be a positive number"
                    ));
                }
                Ok(_) => {}
            }
        }
        if range == "*" {
            continue;
        }
        let (from, to) = range.split_once("..").unwrap_or((range, range));
        let mut bounds = [0u32; 2];
        for (slot, value) in bounds.iter_mut().zip([from, to]) {
            let parsed = value.parse::<u32>().map_err(|_| {
                format!("\"{item}\" is not a valid {what}; expected a number, a range a..b, a step a/n or *")
            })?;
            if !(min..=max).contains(&parsed) {
                return Err(format!("{what} {parsed} is out of range {min}..{max}"));
            }
            *slot = parsed;
        }
        if bounds[0] > bounds[1] {
            return Err(format!("\"{item}\": the {what} range runs backwards"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forms users write, all accepted by systemd 252 (`systemd-analyze
    /// calendar`); `accepted_and_rejected_like_systemd` checks that claim.
    const ACCEPTED: &[&str] = &[
        "daily",
        "weekly",
        "hourly",
        "Monthly",
        "*-*-* 03:00",
        "*-*-* 03:00:00",
        "Mon..Fri 02:30",
        "Mon,Wed,Fri *-*-* 04:15",
        "Sat,Sun 10:00",
        "Mon-Fri 02:30",
        "*-*-01 05:00",
        "*-*-1,15 05:00",
        "*-1/3-1 00:00",
        "2027-*-* 00:00",
        "*:0/15",
        "*-02-29 03:00",
        "2028-02-29 03:00",
        "*-01,02-30 03:00",
        "*-02-28/2 03:00",
        "Sun..Sun 03:00",
        "*-*-* 0/6:00",
        "*-*-* 01..05:30",
        "Sun *-*-* 03:00 UTC",
        "*-*-* 03:00 Europe/Paris",
        "*-02~01 00:00",
        "Fri *-*-* 23:59:59",
        "*-*-* 12:00:30.5",
        "Mon",
        "*-*-15",
    ];

    const REJECTED: &[&str] = &[
        "",
        "sometimes",
        "Mo..Fr 02:30",
        "*-*-* 25:00",
        "*-*-* 03:60",
        "*-13-* 03:00",
        "*-*-32 03:00",
        "03:00 *-*-*",
        "*-*-* 3:00 4:00",
        "every day",
        "*-*-* 0/0:00",
        "*-*-* 05..01:00",
        "*-*-*-* 03:00",
        "3",
        "*-*-* 03:00:61",
        "Sat..Mon 03:00",
    ];

    /// Legal for systemd, but the timer never elapses.
    const NEVER: &[&str] = &[
        "*-02-30 03:00",
        "*-02-30..31 03:00",
        "*-04,06,09,11-31 03:00",
        "2027-02-29 03:00",
    ];

    /// Legal for systemd, but not a recurring schedule.
    const REFUSED: &[&str] = &["@1700000000"];

    #[test]
    fn accepts_what_users_write() {
        for text in ACCEPTED {
            assert!(
                Schedule::parse(text).is_ok(),
                "{text}: {:?}",
                Schedule::parse(text)
            );
        }
    }

    #[test]
    fn rejects_the_rest_with_a_reason() {
        for text in REJECTED.iter().chain(REFUSED).chain(NEVER) {
            let err = Schedule::parse(text).expect_err(text);
            assert!(!err.is_empty());
        }
        assert!(
            Schedule::parse("*-*-* 25:00")
                .unwrap_err()
                .contains("hour 25")
        );
        assert!(
            Schedule::parse("Mo..Fr 02:30")
                .unwrap_err()
                .contains("\"Mo\" is not a weekday")
        );
    }

    /// The parser's verdicts agree with systemd's own. The host running the
    /// tests has systemd's tools (the project's CI installs them).
    #[test]
    fn accepted_and_rejected_like_systemd() {
        let systemd_accepts = |text: &str| {
            std::process::Command::new("systemd-analyze")
                .args(["calendar", text])
                .output()
                .expect("systemd-analyze must be installed to run this test")
                .status
                .success()
        };
        for text in ACCEPTED {
            assert!(systemd_accepts(text), "systemd rejects {text:?}");
        }
        for text in REJECTED.iter().filter(|t| !t.is_empty()) {
            assert!(!systemd_accepts(text), "systemd accepts {text:?}");
        }
        // systemd accepts these, and says they never come.
        for text in NEVER {
            let output = std::process::Command::new("systemd-analyze")
                .args(["calendar", text])
                .output()
                .expect("systemd-analyze");
            let printed = String::from_utf8_lossy(&output.stdout);
            assert!(
                !output.status.success() || printed.contains("Next elapse: never"),
                "systemd runs {text:?}: {printed}"
            );
        }
    }
}
