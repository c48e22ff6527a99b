export type {
  AuditEvent,
  AuditEventType,
  AuditOutcome,
  AuditPage,
  AuditQuery,
  AuditStore,
} from './events.ts';
export { memoryAuditStore } from './memory-store.ts';
export type { AuditRecorder, AuditRecorderOptions, SecurityEventInput } from './recorder.ts';
export { createAuditRecorder } from './recorder.ts';
export { SECRET_FIELD, scrub } from './scrub.ts';
