export type { AuditRecorder, AuditRecorderOptions, SecurityEventInput } from './recorder.ts';
export { createAuditRecorder } from './recorder.ts';
export { SECRET_FIELD, scrub } from './scrub.ts';
