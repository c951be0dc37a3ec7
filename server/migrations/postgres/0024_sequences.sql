-- SQLite only (its tables drop AUTOINCREMENT): PostgreSQL's identity columns
-- already never reuse a number and cost nothing per statement.
SELECT 1;
