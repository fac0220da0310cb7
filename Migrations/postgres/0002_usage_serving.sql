-- The model that served each request, beside the one asked for: a request for a model alias is
-- served by one of its targets, and is charged at that target's price. And the prompt tokens
-- written to the provider's cache, which are priced apart from plain and cached input. And the
-- protocol the client spoke and the one the serving account speaks (openai-chat,
-- anthropic-messages, gemini-generate-content): a request may be translated between them.
ALTER TABLE usage_logs ADD COLUMN served_model TEXT;
ALTER TABLE usage_logs ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_logs ADD COLUMN client_protocol TEXT;
ALTER TABLE usage_logs ADD COLUMN upstream_protocol TEXT;
