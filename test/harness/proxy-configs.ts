/**
 * The nginx and Caddy configurations of forward auth, as docs/gateway.md shows them and as the
 * tests run them: one template each. `test/gateway-docs.test.ts` checks that the doc's blocks
 * are these templates rendered with the doc's addresses, so the doc cannot drift from what was
 * tested.
 */

/** Where the proxy listens, where Rampart answers, and where the protected API is. */
export interface ProxyAddresses {
  /** `127.0.0.1:8081` */
  listen: string;
  /** `127.0.0.1:8080` */
  rampart: string;
  /** `127.0.0.1:9000` */
  upstream: string;
}

/** The addresses the doc shows. */
export const DOC_ADDRESSES: ProxyAddresses = {
  listen: '127.0.0.1:8081',
  rampart: '127.0.0.1:8080',
  upstream: '127.0.0.1:9000',
};

/** The identity headers Rampart answers with (the defaults of `gateway.identityHeaders`). */
const IDENTITY = [
  'X-Rampart-Subject',
  'X-Rampart-Scopes',
  'X-Rampart-Key-Id',
  'X-Rampart-Issuer',
  'X-Rampart-Roles',
];
const variable = (header: string) => header.toLowerCase().replaceAll('-', '_');

const problem = (status: number, code: string, title: string) =>
  `'{"type":"urn:rampart:problem:${code.toLowerCase().replaceAll('_', '-')}","title":"${title}","status":${status},"code":"${code}"}'`;

/** The `server` block of nginx (inside `http { … }`). */
export function nginxSite(a: ProxyAddresses): string {
  return `server {
    listen ${a.listen};

    location / {
        auth_request /_rampart;
        # The identity Rampart vouched for. Each header is set from Rampart's answer, an empty
        # value removes it: a copy the client sent never reaches the upstream.
${IDENTITY.map((h) => `        auth_request_set $${variable(h)} $upstream_http_${variable(h)};`).join('\n')}
${IDENTITY.map((h) => `        proxy_set_header ${h} $${variable(h)};`).join('\n')}
        # The upstream never sees the caller's credentials.
        proxy_set_header Authorization "";
        proxy_set_header X-Api-Key "";
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;

        # nginx passes 401 (with WWW-Authenticate) and 403 on; any other refusal it turns
        # into 500. Rampart's status and RateLimit fields are kept to answer it properly.
        auth_request_set $rampart_status $upstream_status;
        auth_request_set $rampart_retry_after $upstream_http_retry_after;
        auth_request_set $rampart_ratelimit $upstream_http_ratelimit;
        auth_request_set $rampart_ratelimit_policy $upstream_http_ratelimit_policy;
        error_page 500 = @rampart_refused;

        proxy_pass http://${a.upstream};
    }

    location = /_rampart {
        internal;
        proxy_pass http://${a.rampart}/v1/auth/forward;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Original-URI $request_uri;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Forwarded-Proto $scheme;
    }

    location @rampart_refused {
        internal;
        default_type application/problem+json;
        add_header Retry-After $rampart_retry_after always;
        add_header RateLimit $rampart_ratelimit always;
        add_header RateLimit-Policy $rampart_ratelimit_policy always;
        if ($rampart_status = 429) {
            return 429 ${problem(429, 'RATE_LIMITED', 'Too many requests')};
        }
        if ($rampart_status = 404) {
            return 404 ${problem(404, 'NOT_FOUND', 'Not found')};
        }
        if ($rampart_status = 400) {
            return 400 ${problem(400, 'BAD_REQUEST', 'Bad request')};
        }
        return 503 ${problem(503, 'SERVICE_UNAVAILABLE', 'The service is unavailable')};
    }
}
`;
}

/** A Caddyfile site. Caddy hands every non-2xx answer of Rampart to the client as it is. */
export function caddySite(a: ProxyAddresses): string {
  return `http://${a.listen} {
	route {
		# A copy of an identity header the client sent never reaches the upstream.
${IDENTITY.map((h) => `		request_header -${h}`).join('\n')}
		forward_auth ${a.rampart} {
			uri /v1/auth/forward
			copy_headers ${IDENTITY.join(' ')}
		}
		# The upstream never sees the caller's credentials.
		request_header -Authorization
		request_header -X-Api-Key
		reverse_proxy ${a.upstream}
	}
}
`;
}
