//! Several writes in one round trip to the database. The writer is bound by
//! statement round trips (BENCHMARKS.md), so consecutive writes that need no answer
//! in between go together: on SQLite as one multi-statement execution (sqlx binds
//! `$n` across the statements), on PostgreSQL as one statement of data-modifying
//! CTEs (`WITH w0 AS (INSERT …), w1 AS (INSERT …) SELECT 1`; foreign keys are
//! checked at its end). Each statement is written with its own `$1…$n`; they are
//! renumbered here. The SQL of each statement is the same on both databases.
//!
//! Rows of one shape ([`RowsSql`]) travel as one JSON parameter, however many there
//! are: a batch of a hundred transfers is still one `INSERT` per table, and its SQL
//! text never changes, so the prepared statement is reused.

use std::fmt::Write as _;

use sqlx::AnyConnection;

use super::Backend;

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

impl Arg {
    /// The value as a JSON scalar.
    fn push_json(&self, out: &mut String) {
        match self {
            Arg::Int(v) | Arg::OptInt(Some(v)) => {
                let _ = write!(out, "{v}");
            }
            Arg::Text(v) | Arg::OptText(Some(v)) => {
                out.push_str(&serde_json::to_string(v).expect("a string serialises"))
            }
            Arg::OptInt(None) | Arg::OptText(None) => out.push_str("null"),
        }
    }
}

/// A column of a [`RowsSql`]: its name as the statement reads it, and its type.
#[derive(Debug, Clone, Copy)]
pub enum Col {
    Text(&'static str),
    Int(&'static str),
}

/// A statement over any number of rows of one shape. `{rows}` in `sql` stands
/// for the rows as a table named `r` with `columns`; they are sent as one JSON
/// array of arrays (`json_each` on SQLite, `jsonb_array_elements` on PostgreSQL: parsed once, where
/// `json` would be parsed again for every column read).
#[derive(Debug)]
pub struct RowsSql {
    pub sql: &'static str,
    pub columns: &'static [Col],
}

impl RowsSql {
    /// The statement for `backend`, reading its rows from parameter `$param`:
    /// rendered once per process for each (statement, backend, parameter) and
    /// kept, because every write batch asks again (string formatting was ~4 % of a
    /// claim's instructions).
    pub fn render(&'static self, backend: Backend, param: usize) -> &'static str {
        /// At most a few dozen entries: the `RowsSql` statics × backends × positions.
        static RENDERED: std::sync::Mutex<Vec<(usize, Backend, usize, &'static str)>> =
            std::sync::Mutex::new(Vec::new());
        let key = (self as *const RowsSql as usize, backend, param);
        let mut rendered = RENDERED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((.., sql)) = rendered.iter().find(|(spec, b, p, _)| (*spec, *b, *p) == key) {
            return sql;
        }
        let sql: &'static str = Box::leak(self.render_uncached(backend, param).into_boxed_str());
        rendered.push((key.0, key.1, key.2, sql));
        sql
    }

    fn render_uncached(&self, backend: Backend, param: usize) -> String {
        let mut select = String::from("(SELECT ");
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                select.push_str(", ");
            }
            match (column, backend) {
                (Col::Text(name), _) | (Col::Int(name), Backend::Sqlite) => {
                    select.push_str(&format!("value ->> {i} AS {name}"))
                }
                (Col::Int(name), Backend::Postgres) => select.push_str(&format!("(value ->> {i})::bigint AS {name}")),
            }
        }
        match backend {
            Backend::Sqlite => select.push_str(&format!(" FROM json_each(${param})) AS r")),
            Backend::Postgres => {
                select.push_str(&format!(" FROM jsonb_array_elements(${param}::jsonb) AS j(value)) AS r"))
            }
        }
        self.sql.replace("{rows}", &select)
    }
}

/// Rows for one [`RowsSql`], as the JSON text that carries them.
#[derive(Debug)]
pub struct Rows {
    spec: &'static RowsSql,
    json: String,
    count: usize,
}

impl Rows {
    pub fn new(spec: &'static RowsSql) -> Rows {
        Rows { spec, json: String::from("["), count: 0 }
    }

    pub fn push(&mut self, values: &[Arg]) {
        assert_eq!(values.len(), self.spec.columns.len(), "one value per column of the rows");
        if self.count > 0 {
            self.json.push(',');
        }
        self.json.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.json.push(',');
            }
            value.push_json(&mut self.json);
        }
        self.json.push(']');
        self.count += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The JSON parameter.
    pub fn into_json(mut self) -> String {
        self.json.push(']');
        self.json
    }
}

/// At most this many statements go together.
const MAX_STATEMENTS: usize = 32;

#[derive(Debug)]
enum Step {
    Statement(String, Vec<Arg>),
    Rows(Rows),
}

/// Writes that go to the database together; nothing is sent until [`Writes::run`].
#[derive(Debug, Default)]
pub struct Writes {
    steps: Vec<Step>,
}

impl Writes {
    pub fn new() -> Writes {
        Writes::default()
    }

    /// Adds an `INSERT`/`UPDATE`/`DELETE` whose own parameters are `$1…$n`.
    pub fn push(&mut self, sql: &str, args: Vec<Arg>) -> &mut Writes {
        assert!(self.steps.len() < MAX_STATEMENTS, "at most {MAX_STATEMENTS} statements in one round trip");
        debug_assert!(!sql.trim_end().ends_with(';'), "one statement, without its semicolon");
        self.steps.push(Step::Statement(sql.to_string(), args));
        self
    }

    /// Adds one row for `spec`. It joins the earlier rows of the same statement
    /// unless a plain statement was added since (that one may depend on them, or
    /// they on it); rows of other statements in between keep their order relative
    /// to each other, so callers add rows in dependency order (parents first).
    pub fn row(&mut self, spec: &'static RowsSql, values: &[Arg]) -> &mut Writes {
        for step in self.steps.iter_mut().rev() {
            match step {
                Step::Rows(rows) if std::ptr::eq(rows.spec, spec) => {
                    rows.push(values);
                    return self;
                }
                Step::Rows(_) => continue,
                Step::Statement(..) => break,
            }
        }
        assert!(self.steps.len() < MAX_STATEMENTS, "at most {MAX_STATEMENTS} statements in one round trip");
        let mut rows = Rows::new(spec);
        rows.push(values);
        self.steps.push(Step::Rows(rows));
        self
    }

    /// Sends every statement in one round trip.
    pub async fn run(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.steps.is_empty() {
            return Ok(());
        }
        let backend = Backend::of(conn);
        let mut sql = String::new();
        let mut args = Vec::new();
        let single = self.steps.len() == 1;
        for (i, step) in self.steps.into_iter().enumerate() {
            let numbered = match step {
                Step::Statement(statement, own) => {
                    let numbered = renumber(&statement, args.len());
                    args.extend(own);
                    std::borrow::Cow::Owned(numbered)
                }
                Step::Rows(rows) => {
                    let rendered = rows.spec.render(backend, args.len() + 1);
                    args.push(Arg::Text(rows.into_json()));
                    std::borrow::Cow::Borrowed(rendered)
                }
            };
            if single {
                sql = numbered.into_owned();
            } else if backend == Backend::Sqlite {
                sql.push_str(&numbered);
                sql.push_str(";\n");
            } else {
                sql.push_str(if i == 0 { "WITH " } else { ",\n" });
                sql.push_str(&format!("w{i} AS ({numbered})"));
            }
        }
        if !single && backend == Backend::Postgres {
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
    use super::*;

    #[test]
    fn parameters_are_renumbered_past_the_earlier_statements() {
        assert_eq!(
            renumber("INSERT INTO t (a, b) VALUES ($1, $2), ($1, $10)", 3),
            "INSERT INTO t (a, b) VALUES ($4, $5), ($4, $13)"
        );
        assert_eq!(renumber("SELECT 1", 5), "SELECT 1");
    }

    static PAIRS: RowsSql =
        RowsSql { sql: "INSERT INTO t (a, b) SELECT a, b FROM {rows}", columns: &[Col::Text("a"), Col::Int("b")] };

    #[test]
    fn rows_become_one_json_parameter_read_per_backend() {
        assert_eq!(
            PAIRS.render(Backend::Sqlite, 3),
            "INSERT INTO t (a, b) SELECT a, b FROM (SELECT value ->> 0 AS a, value ->> 1 AS b FROM json_each($3)) AS r"
        );
        assert_eq!(
            PAIRS.render(Backend::Postgres, 1),
            "INSERT INTO t (a, b) SELECT a, b FROM (SELECT value ->> 0 AS a, (value ->> 1)::bigint AS b \
             FROM jsonb_array_elements($1::jsonb) AS j(value)) AS r"
        );
        let mut rows = Rows::new(&PAIRS);
        rows.push(&["x\"y".into(), 7.into()]);
        rows.push(&[Arg::OptText(None), Arg::OptInt(Some(-1))]);
        assert_eq!(rows.into_json(), r#"[["x\"y",7],[null,-1]]"#);
    }

    #[test]
    fn rows_join_their_statement_unless_a_plain_statement_came_between() {
        static OTHER: RowsSql = RowsSql { sql: "INSERT INTO u (a) SELECT a FROM {rows}", columns: &[Col::Text("a")] };
        let mut writes = Writes::new();
        writes.row(&PAIRS, &["1".into(), 1.into()]);
        writes.row(&OTHER, &["1".into()]);
        writes.row(&PAIRS, &["2".into(), 2.into()]);
        assert_eq!(writes.steps.len(), 2);
        writes.push("UPDATE v SET a = 1", vec![]);
        writes.row(&PAIRS, &["3".into(), 3.into()]);
        assert_eq!(writes.steps.len(), 4);
    }
}
