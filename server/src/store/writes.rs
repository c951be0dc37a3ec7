//! Several writes in one round trip to the database. The writer is bound by
//! statement round trips (BENCHMARKS.md), so consecutive writes that need no answer
//! in between go together: on SQLite as one multi-statement execution (sqlx binds
//! `$n` across the statements), on PostgreSQL as one statement of data-modifying
//! CTEs (`WITH w0 AS (INSERT …), w1 AS (INSERT …) SELECT 1`; foreign keys are
//! checked at its end). Each statement is written with its own `$1…$n`; they are
//! renumbered here. The SQL of each statement is the same on both databases.
//!
//! Rows of one shape ([`RowsSql`]) go in one statement however many there are: a
//! batch of a hundred transfers is still one `INSERT` per table. A few rows (up
//! to [`MAX_BOUND_ROWS`], padded to a power of two with rows of `NULL`s that the
//! statement skips, so each statement has a few shapes only) travel as bound
//! values; more travel as one JSON parameter. Why both: SQLite parses a JSON row
//! again for every column read (~15 % of a lone transfer's instructions), and
//! sqlx looks up every bound parameter of a SQLite statement by its name, which
//! costs time in proportion to the statement's parameter count, so hundreds of
//! bound values cost more than the JSON (BENCHMARKS.md, `bench instructions` and
//! `bench ledger`).

use std::collections::HashMap;
use std::fmt::Write as _;

use sqlx::AnyConnection;
use sqlx::Arguments as _;
use sqlx::any::AnyArguments;

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

    /// A `NULL` of the column's type (a padding row's value).
    fn null(column: Col) -> Arg {
        match column {
            Col::Text(_) => Arg::OptText(None),
            Col::Int(_) => Arg::OptInt(None),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Arg::OptInt(None) | Arg::OptText(None))
    }
}

/// The values as sqlx arguments, in order (`sqlx::query_with`).
pub fn arguments(args: Vec<Arg>) -> AnyArguments<'static> {
    let mut out = AnyArguments::default();
    for arg in args {
        let added = match arg {
            Arg::Int(v) => out.add(v),
            Arg::OptInt(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::OptText(v) => out.add(v),
        };
        added.expect("integers and strings always encode");
    }
    out
}

/// A column of a [`RowsSql`]: its name as the statement reads it, and its type.
#[derive(Debug, Clone, Copy)]
pub enum Col {
    Text(&'static str),
    Int(&'static str),
}

/// A [`RowsSql`]'s own form for bound rows, its values `$1…$n` row after row.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// For exactly one row: SQLite runs a single-row `INSERT … VALUES` without the
    /// row loop and the statement journal that any `INSERT … SELECT` needs.
    One(&'static str),
    /// For any number of bound rows (a power of two up to [`MAX_BOUND_ROWS`];
    /// padding rows are all `NULL`s and must match nothing), rendered from the
    /// backend and the count. On SQLite it may be several statements (`;`-separated).
    Rows(fn(Backend, usize) -> String),
}

/// Up to this many rows are bound as values; more go as one JSON parameter.
pub const MAX_BOUND_ROWS: usize = 4;

/// A statement over any number of rows of one shape. `{rows}` in `sql` stands
/// for the rows as a table named `r` with `columns`, read from bound parameters
/// (`VALUES`) or from one JSON array of arrays (`json_each` on SQLite,
/// `jsonb_array_elements` on PostgreSQL). The first column is never `NULL` in a
/// real row: padding rows are all `NULL` and are filtered out.
#[derive(Debug)]
pub struct RowsSql {
    pub sql: &'static str,
    /// The statement's own form for bound rows, when the `{rows}` form is dearer.
    pub bound: Option<Bound>,
    pub columns: &'static [Col],
}

impl RowsSql {
    /// The statement for `backend` over `rows` rows (a power of two) whose values
    /// are parameters `$first…`, or (`rows` = 0) over rows in one JSON parameter
    /// `$first`: rendered once per process for each shape and
    /// kept, because every write batch asks again (string formatting was ~4 % of a
    /// claim's instructions).
    pub fn render(&'static self, backend: Backend, first: usize, rows: usize) -> &'static str {
        type Shape = (usize, Backend, usize, usize);
        /// A few hundred entries at most: the `RowsSql` statics × backends ×
        /// positions × the powers of two up to the largest batch.
        static RENDERED: std::sync::Mutex<Option<HashMap<Shape, &'static str>>> = std::sync::Mutex::new(None);
        let key = (self as *const RowsSql as usize, backend, first, rows);
        let mut rendered = RENDERED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let rendered = rendered.get_or_insert_with(HashMap::new);
        rendered.entry(key).or_insert_with(|| Box::leak(self.render_uncached(backend, first, rows).into_boxed_str()))
    }

    fn render_uncached(&self, backend: Backend, first: usize, rows: usize) -> String {
        match (rows, self.bound) {
            (0, _) => return self.render_json(backend, first),
            (1, Some(Bound::One(one))) => return renumber(one, first - 1),
            (_, Some(Bound::Rows(render))) => return renumber(&render(backend, rows), first - 1),
            _ => {}
        }
        let width = self.columns.len();
        let mut values = String::from("VALUES ");
        for row in 0..rows {
            values.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..width {
                let sep = if column == 0 { "" } else { ", " };
                let _ = write!(values, "{sep}${}", first + row * width + column);
            }
            values.push(')');
        }
        let name = |c: &Col| match c {
            Col::Text(name) | Col::Int(name) => *name,
        };
        let first_column = name(&self.columns[0]);
        let table = match backend {
            // SQLite names a `VALUES` table's columns column1, column2, …
            Backend::Sqlite => {
                let mut select = String::from("(SELECT ");
                for (i, column) in self.columns.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    let _ = write!(select, "{sep}column{} AS {}", i + 1, name(column));
                }
                let _ = write!(select, " FROM ({values}) WHERE column1 IS NOT NULL) AS r");
                select
            }
            Backend::Postgres => {
                let names: Vec<&str> = self.columns.iter().map(name).collect();
                format!("(SELECT * FROM ({values}) AS v({}) WHERE {first_column} IS NOT NULL) AS r", names.join(", "))
            }
        };
        self.sql.replace("{rows}", &table)
    }

    /// The rows from one JSON array of arrays, parameter `$param`.
    fn render_json(&self, backend: Backend, param: usize) -> String {
        let mut select = String::from("(SELECT ");
        for (i, column) in self.columns.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = match (column, backend) {
                (Col::Text(name), _) | (Col::Int(name), Backend::Sqlite) => {
                    write!(select, "{sep}value ->> {i} AS {name}")
                }
                (Col::Int(name), Backend::Postgres) => write!(select, "{sep}(value ->> {i})::bigint AS {name}"),
            };
        }
        let _ = match backend {
            Backend::Sqlite => write!(select, " FROM json_each(${param})) AS r"),
            Backend::Postgres => write!(select, " FROM jsonb_array_elements(${param}::jsonb) AS j(value)) AS r"),
        };
        self.sql.replace("{rows}", &select)
    }
}

/// Rows for one [`RowsSql`], as the values bound to it.
#[derive(Debug)]
pub struct Rows {
    spec: &'static RowsSql,
    args: Vec<Arg>,
    count: usize,
}

impl Rows {
    pub fn new(spec: &'static RowsSql) -> Rows {
        Rows { spec, args: Vec::new(), count: 0 }
    }

    pub fn push(&mut self, values: impl IntoIterator<Item = Arg>) {
        let before = self.args.len();
        self.args.extend(values);
        assert_eq!(self.args.len() - before, self.spec.columns.len(), "one value per column of the rows");
        assert!(!self.args[before].is_null(), "a row's first column is never NULL (padding rows are)");
        self.count += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The row count as the statement is shaped: the next power of two, or 0
    /// for rows sent as JSON.
    fn padded(&self) -> usize {
        if self.count > MAX_BOUND_ROWS { 0 } else { self.count.next_power_of_two() }
    }

    /// The statement reading these rows from parameters `$first…`.
    pub fn sql(&self, backend: Backend, first: usize) -> &'static str {
        self.spec.render(backend, first, self.padded())
    }

    /// The values to bind, padding rows included; or the one JSON parameter.
    pub fn into_args(mut self) -> Vec<Arg> {
        if self.padded() == 0 {
            let mut json = String::from("[");
            for (i, row) in self.args.chunks(self.spec.columns.len()).enumerate() {
                json.push_str(if i == 0 { "[" } else { ",[" });
                for (j, value) in row.iter().enumerate() {
                    if j > 0 {
                        json.push(',');
                    }
                    value.push_json(&mut json);
                }
                json.push(']');
            }
            json.push(']');
            return vec![Arg::Text(json)];
        }
        let padding = self.padded() - self.count;
        for _ in 0..padding {
            self.args.extend(self.spec.columns.iter().map(|c| Arg::null(*c)));
        }
        self.args
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
    pub fn row<const N: usize>(&mut self, spec: &'static RowsSql, values: [Arg; N]) -> &mut Writes {
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
                    let rendered = rows.sql(backend, args.len() + 1);
                    args.extend(rows.into_args());
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
        sqlx::query_with(&sql, arguments(args)).execute(&mut *conn).await?;
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

    static PAIRS: RowsSql = RowsSql {
        sql: "INSERT INTO t (a, b) SELECT a, b FROM {rows}",
        bound: None,
        columns: &[Col::Text("a"), Col::Int("b")],
    };

    #[test]
    fn rows_are_bound_values_padded_to_a_power_of_two() {
        assert_eq!(
            PAIRS.render(Backend::Sqlite, 3, 2),
            "INSERT INTO t (a, b) SELECT a, b FROM (SELECT column1 AS a, column2 AS b \
             FROM (VALUES ($3, $4), ($5, $6)) WHERE column1 IS NOT NULL) AS r"
        );
        assert_eq!(
            PAIRS.render(Backend::Postgres, 1, 1),
            "INSERT INTO t (a, b) SELECT a, b FROM (SELECT * FROM (VALUES ($1, $2)) AS v(a, b) WHERE a IS NOT NULL) AS r"
        );
        let mut rows = Rows::new(&PAIRS);
        for i in 0..3 {
            rows.push(["x\"y".into(), i.into()]);
        }
        assert_eq!(rows.sql(Backend::Sqlite, 1), PAIRS.render(Backend::Sqlite, 1, 4));
        let args = rows.into_args();
        assert_eq!(args.len(), 8, "three rows and one of padding");
        assert!(matches!(&args[0], Arg::Text(t) if t == "x\"y"));
        assert!(matches!(args[5], Arg::Int(2)));
        assert!(matches!(args[6..], [Arg::OptText(None), Arg::OptInt(None)]));
    }

    #[test]
    fn one_row_takes_the_single_row_form_when_there_is_one() {
        static SINGLE: RowsSql = RowsSql {
            sql: "INSERT INTO t (a, b) SELECT a, b FROM {rows}",
            bound: Some(Bound::One("INSERT INTO t (a, b) VALUES ($1, $2)")),
            columns: &[Col::Text("a"), Col::Int("b")],
        };
        assert_eq!(SINGLE.render(Backend::Sqlite, 4, 1), "INSERT INTO t (a, b) VALUES ($4, $5)");
        assert!(SINGLE.render(Backend::Postgres, 1, 2).contains("VALUES ($1, $2), ($3, $4)"));
    }

    #[test]
    fn a_statement_may_shape_its_bound_rows_itself() {
        fn listed(_: Backend, rows: usize) -> String {
            let ids: Vec<String> = (1..=rows).map(|i| format!("${i}")).collect();
            format!("DELETE FROM u WHERE a IN ({})", ids.join(", "))
        }
        static LISTED: RowsSql = RowsSql {
            sql: "DELETE FROM u WHERE a IN (SELECT a FROM {rows})",
            bound: Some(Bound::Rows(listed)),
            columns: &[Col::Text("a")],
        };
        let mut rows = Rows::new(&LISTED);
        for id in ["x", "y", "z"] {
            rows.push([id.into()]);
        }
        assert_eq!(rows.sql(Backend::Postgres, 2), "DELETE FROM u WHERE a IN ($2, $3, $4, $5)");
        assert_eq!(rows.into_args().len(), 4, "three rows and one of padding");
    }

    #[test]
    fn many_rows_become_one_json_parameter() {
        let mut rows = Rows::new(&PAIRS);
        for i in 0..=MAX_BOUND_ROWS as i64 {
            rows.push([if i == 0 { "x\"y".into() } else { "z".into() }, i.into()]);
        }
        assert_eq!(
            rows.sql(Backend::Sqlite, 3),
            "INSERT INTO t (a, b) SELECT a, b FROM (SELECT value ->> 0 AS a, value ->> 1 AS b FROM json_each($3)) AS r"
        );
        assert_eq!(
            rows.sql(Backend::Postgres, 1),
            "INSERT INTO t (a, b) SELECT a, b FROM (SELECT value ->> 0 AS a, (value ->> 1)::bigint AS b \
             FROM jsonb_array_elements($1::jsonb) AS j(value)) AS r"
        );
        let args = rows.into_args();
        assert!(
            matches!(&args[..], [Arg::Text(json)] if json.starts_with(r#"[["x\"y",0],["z",1],"#) && json.ends_with(r#"["z",4]]"#))
        );
    }

    #[test]
    #[should_panic(expected = "first column is never NULL")]
    fn a_row_cannot_look_like_padding() {
        Rows::new(&PAIRS).push([Arg::OptText(None), 1.into()]);
    }

    #[test]
    fn rows_join_their_statement_unless_a_plain_statement_came_between() {
        static OTHER: RowsSql =
            RowsSql { sql: "INSERT INTO u (a) SELECT a FROM {rows}", bound: None, columns: &[Col::Text("a")] };
        let mut writes = Writes::new();
        writes.row(&PAIRS, ["1".into(), 1.into()]);
        writes.row(&OTHER, ["1".into()]);
        writes.row(&PAIRS, ["2".into(), 2.into()]);
        assert_eq!(writes.steps.len(), 2);
        writes.push("UPDATE v SET a = 1", vec![]);
        writes.row(&PAIRS, ["3".into(), 3.into()]);
        assert_eq!(writes.steps.len(), 4);
    }
}
