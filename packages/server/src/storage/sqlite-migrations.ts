/**
 * SQLite schema, as forward-only numbered migrations. Never edit one that has shipped: add the
 * next number. Times are epoch milliseconds (INTEGER).
 */
export const SQLITE_MIGRATIONS: ReadonlyArray<{ id: string; sql: string }> = [
  {
    id: '001_users',
    sql: `CREATE TABLE users (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL,
      email_key TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
      password_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      not_before INTEGER
    ) STRICT;`,
  },
  {
    id: '002_audit_events',
    sql: `CREATE TABLE audit_events (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      at INTEGER NOT NULL,
      actor TEXT,
      ip TEXT,
      request_id TEXT,
      outcome TEXT NOT NULL,
      detail TEXT NOT NULL,
      count INTEGER NOT NULL DEFAULT 1
    ) STRICT;
    CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);
    CREATE INDEX audit_events_type_at ON audit_events (type, at DESC);`,
  },
  {
    id: '003_ttl_entries',
    sql: `CREATE TABLE ttl_entries (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX ttl_entries_expires ON ttl_entries (expires_at);`,
  },
  {
    id: '010_refresh_tokens',
    sql: `CREATE TABLE refresh_tokens (
      token_hash TEXT PRIMARY KEY,
      family_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      family_created_at INTEGER NOT NULL,
      used_at INTEGER,
      replaced_by TEXT,
      revoked_at INTEGER
    ) STRICT;
    CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
    CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);`,
  },
  {
    // Keys are stored by hash only (HMAC under a pepper kept outside this database). Scopes and
    // metadata are JSON text; credits and the per-key limit are columns, so a spend is one row
    // update inside BEGIN IMMEDIATE.
    id: '020_api_keys',
    sql: `CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      hash TEXT NOT NULL UNIQUE,
      hint TEXT NOT NULL,
      prefix TEXT NOT NULL,
      name TEXT NOT NULL,
      owner_id TEXT,
      scopes TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER,
      last_used_at INTEGER,
      revoked_at INTEGER,
      metadata TEXT NOT NULL,
      credits_remaining INTEGER,
      refill_amount INTEGER,
      refill_interval_ms INTEGER,
      refill_last_at INTEGER,
      refill_max INTEGER,
      rate_limit INTEGER,
      rate_window_ms INTEGER,
      rotated_from TEXT
    ) STRICT;
    CREATE INDEX api_keys_created ON api_keys (created_at DESC, id DESC);
    CREATE INDEX api_keys_owner ON api_keys (owner_id, created_at DESC, id DESC);`,
  },
];
