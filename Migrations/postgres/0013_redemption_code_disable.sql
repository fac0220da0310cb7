-- An admin can disable a redemption code: while set, it redeems nothing.
ALTER TABLE redemption_codes ADD COLUMN disabled_at BIGINT;
