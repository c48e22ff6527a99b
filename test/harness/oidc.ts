/**
 * A real OpenID Provider for tests: panva's certified `oidc-provider`, in this process, on a
 * free loopback port, issuing RFC 9068 JWT access tokens through a real `client_credentials`
 * grant with a resource indicator (RFC 8707). Nothing the issuer tests need is mocked: the
 * verifier under test fetches discovery and the JWKS over HTTP from this server, exactly as it
 * would from Auth0 or Keycloak.
 *
 * The harness adds what a test of key handling needs and a real provider does not offer:
 *
 * - every request that reaches the server is counted by path (`requests`), so a test can prove
 *   that a token caused no fetch at all, or at most one;
 * - `rotate()` swaps in a provider with a new signing key (the previous key stays published,
 *   as providers do during a rollover), on the same issuer and port;
 * - `stop()` / `start()` close and reopen the port (connection refused in between), and
 *   `stall(true)` accepts requests and never answers them, for timeout tests.
 *
 * The provider's configuration follows its documentation: `features.clientCredentials`,
 * `features.resourceIndicators` with `getResourceServerInfo` answering `accessTokenFormat:
 * 'jwt'` (JWT access tokens are only issued for a resource server), and `formats.customizers.jwt`
 * to add the claims a test asks for (roles, tenant) the way a provider's rule or mapper would.
 */
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The signing algorithms the harness can give the provider. */
export type ProviderAlgorithm = 'RS256' | 'ES256';

export interface StartOidcProviderOptions {
  /** Resource indicators (RFC 8707) the provider issues tokens for; `aud` of the tokens. Default `['https://api.rampart.test']`. */
  audiences?: readonly string[];
  /** Signing algorithm of the provider's keys. Default `RS256`. */
  alg?: ProviderAlgorithm;
  /** The `kid` of the first signing key (to make two providers overlap). Default: random. */
  kid?: string;
  /** Access-token lifetime, seconds. Default 300. */
  accessTokenTtlSec?: number;
}

export interface TokenRequest {
  /** The `resource` parameter (RFC 8707), which becomes `aud`. Default: the first audience. */
  audience?: string;
  /** Requested scope, space-separated. Default `read write`. */
  scope?: string;
  /** Claims to add to the access token (through `formats.customizers.jwt`). */
  claims?: Readonly<Record<string, unknown>>;
}

/** A signing key of the provider, private half included, for tests that forge tokens "as the provider". */
export interface ProviderSigningKey {
  kid: string;
  alg: ProviderAlgorithm;
  privateKey: KeyObject;
}

export interface OidcProviderServer {
  /** `http://127.0.0.1:<port>`: the `iss` of its tokens and its discovery `issuer`. */
  readonly issuer: string;
  readonly port: number;
  /** `<issuer>/.well-known/openid-configuration` */
  readonly discoveryUrl: string;
  /** `<issuer>/jwks`, as the discovery document names it. */
  readonly jwksUri: string;
  /** The signing keys now published, newest (the one that signs) first. */
  readonly signingKeys: readonly ProviderSigningKey[];
  /** Request paths received since start (or since `resetRequests`), in order. */
  readonly requests: readonly string[];
  /** Requests received for a path, e.g. `count('/jwks')`. */
  count(path: string): number;
  resetRequests(): void;
  /** Runs the client_credentials grant and answers the JWT access token. */
  token(request?: TokenRequest): Promise<string>;
  /** A new signing key signs from now on; the previous ones stay in the JWKS. Answers the new key. */
  rotate(): Promise<ProviderSigningKey>;
  /** When on, requests are accepted and never answered (and counted). */
  stall(on: boolean): void;
  /** Closes the port (connections dropped); later requests are refused. A stopped server stays stopped. */
  stop(): Promise<void>;
  /** Listens again on the same port, with the same keys. */
  start(): Promise<void>;
}

const MISSING =
  'oidc-provider is not installed. The issuer tests need the npm package "oidc-provider" ' +
  '(a root devDependency): run npm ci.';
const CLIENT_ID = 'rampart-test-client';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const DEFAULT_AUDIENCE = 'https://api.rampart.test';
/** A body parameter of the token request carrying extra claims; only this harness reads it. */
const CLAIMS_PARAM = 'rampart_test_claims';

type ProviderModule = typeof import('oidc-provider');
type ProviderClass = ProviderModule['default'];
type ProviderInstance = InstanceType<ProviderClass>;
type Adapter = import('oidc-provider').Adapter;
type AdapterPayload = import('oidc-provider').AdapterPayload;

/**
 * A per-model Map: the provider's own development adapter warns on every start, and nothing a
 * client_credentials grant stores needs to outlive the process.
 */
function memoryAdapter(): Adapter {
  const rows = new Map<string, AdapterPayload>();
  return {
    upsert: async (id, payload) => void rows.set(id, payload),
    find: async (id) => rows.get(id),
    findByUserCode: async () => undefined,
    findByUid: async (uid) => [...rows.values()].find((row) => row.uid === uid),
    consume: async (id) => {
      const row = rows.get(id);
      if (row) row.consumed = Math.floor(Date.now() / 1000);
    },
    destroy: async (id) => void rows.delete(id),
    revokeByGrantId: async (grantId) => {
      for (const [id, row] of rows) if (row.grantId === grantId) rows.delete(id);
    },
  };
}

async function loadProvider(): Promise<ProviderModule> {
  try {
    return await import('oidc-provider');
  } catch (cause) {
    throw new Error(MISSING, { cause });
  }
}

function newSigningKey(alg: ProviderAlgorithm, kid?: string): ProviderSigningKey {
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid: kid ?? randomBytes(12).toString('base64url'), alg, privateKey };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts an OpenID Provider on `127.0.0.1:<free port>` with one confidential client allowed the
 * client_credentials grant, and resolves once it listens.
 *
 * @throws Error naming the npm package `oidc-provider` when it is not installed.
 * @example
 * const op = await startOidcProvider();
 * after(() => op.stop());
 * const token = await op.token({ scope: 'read' });
 */
export async function startOidcProvider(options: StartOidcProviderOptions = {}): Promise<OidcProviderServer> {
  const { default: Provider, errors } = await loadProvider();
  const audiences = options.audiences ?? [DEFAULT_AUDIENCE];
  const alg = options.alg ?? 'RS256';
  const ttl = options.accessTokenTtlSec ?? 300;
  const keys: ProviderSigningKey[] = [newSigningKey(alg, options.kid)];
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let stalled = false;
  let provider: ProviderInstance | undefined;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const server = createServer((req, res) => {
    requests.push(new URL(req.url ?? '/', 'http://x').pathname);
    if (stalled || handler === undefined) return; // never answered; stop() drops the socket
    handler(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // The issuer must be known before the provider is built, so the port is taken first.
  const port = await listen(server, 0);
  const issuer = `http://127.0.0.1:${port}`;

  const build = () => {
    const next = new Provider(issuer, {
      adapter: memoryAdapter,
      scopes: ['read', 'write', 'admin'],
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
          scope: 'read write admin',
        },
      ],
      // Newest first: oidc-provider signs with the first key that fits the algorithm.
      jwks: {
        keys: keys.map((key) => ({
          ...key.privateKey.export({ format: 'jwk' }),
          kid: key.kid,
          alg: key.alg,
          use: 'sig',
        })),
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => audiences[0]!,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resourceIndicator) => {
            if (!audiences.includes(resourceIndicator)) throw new errors.InvalidTarget();
            return {
              scope: 'read write admin',
              audience: resourceIndicator,
              accessTokenTTL: ttl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg } },
            };
          },
        },
      },
      formats: {
        customizers: {
          jwt: (ctx, _token, jwt) => {
            const extra = (ctx as { oidc?: { body?: Record<string, unknown> } } | undefined)?.oidc?.body?.[
              CLAIMS_PARAM
            ];
            if (typeof extra === 'string') Object.assign(jwt.payload, JSON.parse(extra));
          },
        },
      },
      ttl: { ClientCredentials: ttl },
      clientBasedCORS: () => false,
      findAccount: () => undefined,
      renderError: (ctx, out) => {
        ctx.type = 'json';
        ctx.body = out;
      },
    });
    provider = next;
    handler = next.callback();
  };
  build();

  let listening = true;
  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    issuer,
    port,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    jwksUri: `${issuer}/jwks`,
    get signingKeys() {
      return [...keys];
    },
    get requests() {
      return [...requests];
    },
    count: (path) => requests.filter((p) => p === path).length,
    resetRequests: () => {
      requests.length = 0;
    },
    async token(request = {}) {
      if (provider === undefined) throw new Error('the provider is not built');
      const body = new URLSearchParams({
        grant_type: 'client_credentials',
        resource: request.audience ?? audiences[0]!,
        scope: request.scope ?? 'read write',
      });
      if (request.claims !== undefined) body.set(CLAIMS_PARAM, JSON.stringify(request.claims));
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
      const json = (await response.json()) as { access_token?: string; error?: string };
      if (response.status !== 200 || typeof json.access_token !== 'string') {
        throw new Error(`token request failed: ${response.status} ${JSON.stringify(json)}`);
      }
      return json.access_token;
    },
    async rotate() {
      const key = newSigningKey(alg);
      keys.unshift(key);
      build();
      return key;
    },
    stall(on) {
      stalled = on;
    },
    stop,
    async start() {
      if (listening) return;
      await listen(server, port);
      listening = true;
    },
  };
}

/** A loopback HTTP server that counts requests and answers 404: a stand-in for "any other host". */
export interface CountingServer {
  readonly url: string;
  readonly requests: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts a server that records every request it receives; tests point `jku`, `x5u` and
 * untrusted `iss` values at it to prove that nothing was fetched.
 * @example
 * const trap = await startCountingServer();
 * after(() => trap.stop());
 * assert.deepEqual(trap.requests, []);
 */
export async function startCountingServer(): Promise<CountingServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '/');
    res.writeHead(404).end();
  });
  const port = await listen(server, 0);
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return [...requests];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
