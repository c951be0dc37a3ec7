-- A payee's default payout method (issue 16, part 6): the one a payout goes to when
-- it names none. A user's first method is their default; at most one live method
-- of a user is (the index), and a deleted method is no one's default.
ALTER TABLE payout_methods ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1));
CREATE UNIQUE INDEX payout_methods_one_default ON payout_methods (user_id) WHERE is_default = 1 AND deleted_at IS NULL;
-- Users who already have methods: the newest live one becomes their default.
UPDATE payout_methods SET is_default = 1 WHERE deleted_at IS NULL AND seq = (
    SELECT MAX(m.seq) FROM payout_methods m WHERE m.user_id = payout_methods.user_id AND m.deleted_at IS NULL);
