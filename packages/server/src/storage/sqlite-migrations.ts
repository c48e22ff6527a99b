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
  {
    // The admin plane's accounts: disabling (an instant, NULL while enabled), and the lookup
    // behind "never remove the last enabled admin".
    id: '040_user_admin',
    sql: `ALTER TABLE users ADD COLUMN disabled_at INTEGER;
    CREATE INDEX users_role ON users (role, disabled_at);`,
  },
  {
    // Keys that change: disabling, the identity a key belongs to, and one budget per rotation
    // chain (budget_key_id names the row holding the credits and limit; NULL: the key's own).
    // rotated_to makes "rotated once" a compare-and-set; keys rotated before it get their
    // newest successor, so they cannot be rotated a second time either. Chains made before it
    // keep their separate balances (merging them would pick one balance over another).
    id: '041_api_key_lifecycle',
    sql: `ALTER TABLE api_keys ADD COLUMN rotated_to TEXT;
    ALTER TABLE api_keys ADD COLUMN disabled_at INTEGER;
    ALTER TABLE api_keys ADD COLUMN identity_id TEXT;
    ALTER TABLE api_keys ADD COLUMN budget_key_id TEXT;
    CREATE INDEX api_keys_rotated_from ON api_keys (rotated_from);
    UPDATE api_keys SET rotated_to = (
      SELECT s.id FROM api_keys s WHERE s.rotated_from = api_keys.id ORDER BY s.created_at DESC, s.id DESC LIMIT 1)
    WHERE EXISTS (SELECT 1 FROM api_keys s WHERE s.rotated_from = api_keys.id);
    CREATE INDEX api_keys_identity ON api_keys (identity_id, created_at DESC, id DESC);`,
  },
  {
    // Plans and identities. JSON text for lists and metadata; an identity's shared credits are
    // columns like a key's, so a spend is one row update inside the key's transaction.
    id: '042_plans_identities',
    sql: `CREATE TABLE plans (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      rate_limits TEXT NOT NULL,
      credits TEXT,
      metadata TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX plans_created ON plans (created_at DESC, id DESC);
    CREATE TABLE identities (
      id TEXT PRIMARY KEY,
      external_id TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      metadata TEXT NOT NULL,
      plan_id TEXT,
      overrides TEXT NOT NULL,
      credits_remaining INTEGER,
      refill_amount INTEGER,
      refill_interval_ms INTEGER,
      refill_last_at INTEGER,
      refill_max INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX identities_created ON identities (created_at DESC, id DESC);
    CREATE INDEX identities_plan ON identities (plan_id, created_at DESC, id DESC);`,
  },
  {
    // Verification counts: one row per subject (a key or an identity), granularity, bucket
    // and outcome, added to by upserts.
    id: '043_usage',
    sql: `CREATE TABLE usage_counts (
      subject_kind TEXT NOT NULL CHECK (subject_kind IN ('key', 'identity')),
      subject_id TEXT NOT NULL,
      granularity TEXT NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
      bucket_start INTEGER NOT NULL,
      outcome TEXT NOT NULL,
      count INTEGER NOT NULL,
      PRIMARY KEY (subject_kind, subject_id, granularity, bucket_start, outcome)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX usage_counts_prune ON usage_counts (granularity, bucket_start);`,
  },
  {
    // E-mail verification: when the owner proved the address (NULL until then).
    id: '050_email_verification',
    sql: 'ALTER TABLE users ADD COLUMN email_verified_at INTEGER;',
  },
];
