-- SQLite only (its tables drop AUTOINCREMENT and IN lists in CHECKs): PostgreSQL's identity columns
-- already never reuse a number and cost nothing per statement.
SELECT 1;
