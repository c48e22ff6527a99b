import type { Awaitable } from 'rampart/internal/lib/types.ts';

/** One outgoing message. Bodies may hold a one-time token: implementations never log them. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * Where account mail goes. `send` resolves once the message is handed over (written to the
 * outbox, or accepted by the SMTP server); it rejects on failure, and callers that must not
 * reveal anything (password reset) swallow the rejection after logging it.
 */
export interface Mailer {
  readonly kind: 'outbox' | 'smtp';
  send(message: MailMessage): Awaitable<void>;
  close?(): Awaitable<void>;
}
