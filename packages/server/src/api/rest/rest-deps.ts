import type { Database } from '../../db/index.ts';
import type { CollectionRegistry } from '../../schema/index.ts';
import type { RecordsService } from '../../records/index.ts';
import type { AuthService, TokenService } from '../../auth/index.ts';
import type { AuthEmailFlows } from '../../auth/index.ts';
import type { Metrics } from '../../telemetry/index.ts';
import type { RateLimitConfig } from '../../app/config.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { AuditLog } from '../../audit/index.ts';
import type { SecretBox } from '../../secrets/index.ts';
import type { OAuthService } from '../../auth/oauth/index.ts';

/** What the REST routes need. */
export interface RestDeps {
  db: Database;
  registry: CollectionRegistry;
  records: RecordsService;
  auth: AuthService;
  audit: AuditLog;
  tokens: TokenService;
  /** Encryption at rest. */
  secrets: SecretBox;
  metrics: Metrics;
  /** Version string for the OpenAPI document. */
  version: string;
  /** Public base URL (OpenAPI `servers`). */
  publicUrl: string;
  /** Abuse limits on the auth endpoints. */
  rateLimits: RateLimitConfig;
  /** Counts requests against those limits (set by registerRestApi). */
  limiter?: RateLimiter;
  /** Email verification, password reset, email change and OTP sign-in (absent: those routes answer `mail_unavailable`). */
  authEmail?: AuthEmailFlows;
  /** OAuth2 / OpenID Connect sign-in (set by registerRestApi when absent). */
  oauth?: OAuthService;
  /** Browser origins allowed by CORS (`*` = any, without credentials). */
  corsOrigins: readonly string[];
  /** Largest accepted request body, bytes (JSON and forms). */
  bodyLimit: number;
  /** Largest number of requests in one `POST /api/batch`. */
  maxBatchRequests: number;
  /** Bearer token that unlocks `GET /metrics` on this port; absent: the route does not exist here (metrics off, or on their own listener). */
  metricsToken?: string;
}
