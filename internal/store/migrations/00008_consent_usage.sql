-- Usage counters of variable-recurring-payment (VRP) consents: how much was paid under a
-- consent in one period of one of its periodic limits (package consent names the period,
-- e.g. "Month/2026-03"). Amounts are integers in 1/100000 of the currency unit (OBIE amounts
-- have at most five decimals). A row is added to atomically and only while the new total stays
-- within the limit, so concurrent payments on any number of nodes never exceed it.

-- +goose Up
CREATE TABLE consent_usage (
    consent_id TEXT   NOT NULL,
    period     TEXT   NOT NULL,
    total      BIGINT NOT NULL,
    payments   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (consent_id, period)
);
CREATE INDEX consent_usage_expires_idx ON consent_usage (expires_at);

-- +goose Down
DROP TABLE consent_usage;
