/**
 * PostgreSQL schema, as forward-only numbered migrations: the same ids, tables and columns as
 * SQLite's (`sqlite-migrations.ts`), so an export from one imports into the other, plus the
 * shared signing keys (on SQLite they stay in the data dir's file). Never edit one that has
 * shipped: add the next number. Times are epoch milliseconds (BIGINT).
 *
 * Identifier-like columns are `COLLATE "C"`: keyset pages compare them byte by byte, as the
 * memory and SQLite stores do, whatever the database's default collation.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ id: string; sql: string }> = [
  {
    id: '001_users',
    sql: `CREATE TABLE users (
      id TEXT COLLATE "C" PRIMARY KEY,
      email TEXT NOT NULL,
      email_key TEXT COLLATE "C" NOT NULL UNIQUE,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
      password_hash TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      not_before BIGINT
    );
    CREATE INDEX users_created ON users (created_at DESC, id DESC);`,
  },
  {
    id: '002_audit_events',
    sql: `CREATE TABLE audit_events (
      id TEXT COLLATE "C" PRIMARY KEY,
      type TEXT NOT NULL,
      at BIGINT NOT NULL,
      actor TEXT,
      ip TEXT,
      request_id TEXT,
      outcome TEXT NOT NULL,
      detail TEXT NOT NULL,
      count INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);
    CREATE INDEX audit_events_type_at ON audit_events (type, at DESC);
    CREATE INDEX audit_events_actor_at ON audit_events (actor, at DESC);`,
  },
  {
    id: '003_ttl_entries',
    sql: `CREATE TABLE ttl_entries (
      key TEXT COLLATE "C" PRIMARY KEY,
      value TEXT NOT NULL,
      expires_at BIGINT NOT NULL
    );
    CREATE INDEX ttl_entries_expires ON ttl_entries (expires_at);`,
  },
  {
    id: '010_refresh_tokens',
    sql: `CREATE TABLE refresh_tokens (
      token_hash TEXT COLLATE "C" PRIMARY KEY,
      family_id TEXT COLLATE "C" NOT NULL,
      user_id TEXT COLLATE "C" NOT NULL,
      created_at BIGINT NOT NULL,
      family_created_at BIGINT NOT NULL,
      used_at BIGINT,
      replaced_by TEXT COLLATE "C",
      revoked_at BIGINT
    );
    CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
    CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
    CREATE INDEX refresh_tokens_created ON refresh_tokens (created_at DESC, token_hash DESC);`,
  },
  {
    // Keys by hash only (HMAC under a pepper kept outside this database); scopes and metadata
    // are JSON text, as on SQLite, so they round-trip exactly.
    id: '020_api_keys',
    sql: `CREATE TABLE api_keys (
      id TEXT COLLATE "C" PRIMARY KEY,
      hash TEXT COLLATE "C" NOT NULL UNIQUE,
      hint TEXT NOT NULL,
      prefix TEXT NOT NULL,
      name TEXT NOT NULL,
      owner_id TEXT COLLATE "C",
      scopes TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT,
      last_used_at BIGINT,
      revoked_at BIGINT,
      metadata TEXT NOT NULL,
      credits_remaining BIGINT,
      refill_amount BIGINT,
      refill_interval_ms BIGINT,
      refill_last_at BIGINT,
      refill_max BIGINT,
      rate_limit BIGINT,
      rate_window_ms BIGINT,
      rotated_from TEXT
    );
    CREATE INDEX api_keys_created ON api_keys (created_at DESC, id DESC);
    CREATE INDEX api_keys_owner ON api_keys (owner_id, created_at DESC, id DESC);`,
  },
  {
    // Shared by every instance; the private JWK is as secret as the data dir's key file was:
    // grant this table to Rampart's role only.
    id: '030_signing_keys',
    sql: `CREATE TABLE signing_keys (
      kid TEXT COLLATE "C" PRIMARY KEY,
      alg TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      activates_at BIGINT NOT NULL,
      public_jwk TEXT,
      private_jwk TEXT NOT NULL
    );
    CREATE INDEX signing_keys_activation ON signing_keys (activates_at, kid);`,
  },
  {
    // The same four as SQLite's 040–043 (see there for why each column exists).
    id: '040_user_admin',
    sql: `ALTER TABLE users ADD COLUMN disabled_at BIGINT;
    CREATE INDEX users_role ON users (role, disabled_at);`,
  },
  {
    id: '041_api_key_lifecycle',
    // rotated_from joins ids now (COLLATE "C" like them; no rewrite, only the type's collation).
    sql: `ALTER TABLE api_keys ALTER COLUMN rotated_from TYPE TEXT COLLATE "C";
    ALTER TABLE api_keys ADD COLUMN rotated_to TEXT COLLATE "C";
    ALTER TABLE api_keys ADD COLUMN disabled_at BIGINT;
    ALTER TABLE api_keys ADD COLUMN identity_id TEXT COLLATE "C";
    ALTER TABLE api_keys ADD COLUMN budget_key_id TEXT COLLATE "C";
    CREATE INDEX api_keys_rotated_from ON api_keys (rotated_from);
    UPDATE api_keys SET rotated_to = (
      SELECT s.id FROM api_keys s WHERE s.rotated_from = api_keys.id ORDER BY s.created_at DESC, s.id DESC LIMIT 1)
    WHERE EXISTS (SELECT 1 FROM api_keys s WHERE s.rotated_from = api_keys.id);
    CREATE INDEX api_keys_identity ON api_keys (identity_id, created_at DESC, id DESC);`,
  },
  {
    id: '042_plans_identities',
    sql: `CREATE TABLE plans (
      id TEXT COLLATE "C" PRIMARY KEY,
      name TEXT COLLATE "C" NOT NULL UNIQUE,
      rate_limits TEXT NOT NULL,
      credits TEXT,
      metadata TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX plans_created ON plans (created_at DESC, id DESC);
    CREATE TABLE identities (
      id TEXT COLLATE "C" PRIMARY KEY,
      external_id TEXT COLLATE "C" NOT NULL UNIQUE,
      name TEXT NOT NULL,
      metadata TEXT NOT NULL,
      plan_id TEXT COLLATE "C",
      overrides TEXT NOT NULL,
      credits_remaining BIGINT,
      refill_amount BIGINT,
      refill_interval_ms BIGINT,
      refill_last_at BIGINT,
      refill_max BIGINT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX identities_created ON identities (created_at DESC, id DESC);
    CREATE INDEX identities_plan ON identities (plan_id, created_at DESC, id DESC);`,
  },
  {
    id: '043_usage',
    sql: `CREATE TABLE usage_counts (
      subject_kind TEXT NOT NULL CHECK (subject_kind IN ('key', 'identity')),
      subject_id TEXT COLLATE "C" NOT NULL,
      granularity TEXT NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
      bucket_start BIGINT NOT NULL,
      outcome TEXT COLLATE "C" NOT NULL,
      count BIGINT NOT NULL,
      PRIMARY KEY (subject_kind, subject_id, granularity, bucket_start, outcome)
    );
    CREATE INDEX usage_counts_prune ON usage_counts (granularity, bucket_start);`,
  },
  {
    id: '050_email_verification',
    sql: 'ALTER TABLE users ADD COLUMN email_verified_at BIGINT;',
  },
];
