/**
 * Telemetry: structured logs with secret redaction, Prometheus metrics (HTTP and database), and the
 * Fastify and database instrumentation that feeds them. See docs/operations.md.
 */
export { createLogger, prettyLogs, REDACT_PATHS, REDACTED, type LoggerOptions } from './logger.ts';
export { createMetrics, METRIC_NAMES, type Metrics, type DbOperation } from './metrics-registry.ts';
export { observeReply, UNMATCHED_ROUTE } from './http-metrics.ts';
export { instrumentDatabase } from './db-metrics.ts';
