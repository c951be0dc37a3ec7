-- A payout link's page stays useful after the claim: opening a claimed link starts
-- a follow-up session (`purpose = 'follow_up'`) in which the payee who claimed it
-- proves their phone again and follows the payout (and, if it failed, sends the
-- money again). Other sessions are `flow` (a link's claim or a host page's flow).
ALTER TABLE flows ADD COLUMN purpose TEXT NOT NULL DEFAULT 'flow';
