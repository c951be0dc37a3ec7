//! Several writes in one round trip to the database. The writer is bound by
//! statement round trips (BENCHMARKS.md), so consecutive writes that need no answer
//! in between go together: on SQLite as one multi-statement execution (sqlx binds
//! `$n` across the statements), on PostgreSQL as one statement of data-modifying
//! CTEs (`WITH w0 AS (INSERT …), w1 AS (INSERT …) SELECT 1`; foreign keys are
//! checked at its end). Each statement is written with its own `$1…$n`; they are
//! renumbered here. The SQL of each statement is the same on both databases.

use sqlx::AnyConnection;

/// A bound value.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::OptInt(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_string())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::OptText(v)
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::OptText(v.map(str::to_string))
    }
}

/// At most this many statements go together (SQLite binds at most 32,766 values).
const MAX_STATEMENTS: usize = 32;

/// Writes that go to the database together; nothing is sent until [`Writes::run`].
#[derive(Debug, Default)]
pub struct Writes {
    statements: Vec<(String, Vec<Arg>)>,
}

impl Writes {
    pub fn new() -> Writes {
        Writes::default()
    }

    /// Adds an `INSERT`/`UPDATE`/`DELETE` whose own parameters are `$1…$n`.
    pub fn push(&mut self, sql: &str, args: Vec<Arg>) -> &mut Writes {
        assert!(self.statements.len() < MAX_STATEMENTS, "at most {MAX_STATEMENTS} statements in one round trip");
        debug_assert!(!sql.trim_end().ends_with(';'), "one statement, without its semicolon");
        self.statements.push((sql.to_string(), args));
        self
    }

    /// Sends every statement in one round trip.
    pub async fn run(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.statements.is_empty() {
            return Ok(());
        }
        let sqlite = conn.backend_name() == "SQLite";
        let mut sql = String::new();
        let mut args = Vec::new();
        let single = self.statements.len() == 1;
        for (i, (statement, own)) in self.statements.into_iter().enumerate() {
            let numbered = renumber(&statement, args.len());
            if single {
                sql = numbered;
            } else if sqlite {
                sql.push_str(&numbered);
                sql.push_str(";\n");
            } else {
                sql.push_str(if i == 0 { "WITH " } else { ",\n" });
                sql.push_str(&format!("w{i} AS ({numbered})"));
            }
            args.extend(own);
        }
        if !single && !sqlite {
            sql.push_str("\nSELECT 1");
        }
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = match arg {
                Arg::Int(v) => query.bind(v),
                Arg::OptInt(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
                Arg::OptText(v) => query.bind(v),
            };
        }
        query.execute(&mut *conn).await?;
        Ok(())
    }
}

/// `$k` → `$(k + offset)`.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        if let Ok(n) = digits.parse::<usize>() {
            out.push_str(&(n + offset).to_string());
        } else {
            out.push_str(&digits);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn parameters_are_renumbered_past_the_earlier_statements() {
        assert_eq!(
            renumber("INSERT INTO t (a, b) VALUES ($1, $2), ($1, $10)", 3),
            "INSERT INTO t (a, b) VALUES ($4, $5), ($4, $13)"
        );
        assert_eq!(renumber("SELECT 1", 5), "SELECT 1");
    }
}
