-- An outbound HTTP CONNECT proxy per account: pooled subscription accounts are often pinned to
-- one egress address. The URL may hold a password, so it is sealed like the account's secret.
-- NULL: the account's calls go direct.
ALTER TABLE upstream_accounts ADD COLUMN proxy_ciphertext BLOB;
ALTER TABLE upstream_accounts ADD COLUMN proxy_key_version INTEGER;
