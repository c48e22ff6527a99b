import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import type { Mailer } from '../accounts/mailer.ts';

/**
 * The development mailer (the default): each message is appended as one JSON line to
 * `<data dir>/outbox.jsonl`, mode 0600, so a developer can pick up a reset link without an
 * SMTP server. It is a file of secrets (one-time tokens): keep the data dir private.
 */
export function outboxMailer(dataDir: string): Mailer {
  const path = join(dataDir, 'outbox.jsonl');
  return {
    kind: 'outbox',
    send(message) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      appendFileSync(path, `${JSON.stringify({ at: new Date().toISOString(), ...message })}\n`, {
        mode: 0o600,
      });
    },
  };
}

export interface SmtpMailerOptions {
  /** `smtp://user:pass@host:587` or `smtps://…:465`. */
  url: string;
  from: string;
  /** Accept a self-signed certificate (tests, internal relays). Default false. */
  allowSelfSigned?: boolean;
}

/** Sends through an SMTP server with nodemailer (pooled connections, STARTTLS when offered). */
export function smtpMailer(options: SmtpMailerOptions): Mailer {
  const url = new URL(options.url);
  const transport = createTransport({
    host: url.hostname,
    port: Number(url.port) || (url.protocol === 'smtps:' ? 465 : 587),
    secure: url.protocol === 'smtps:',
    ...(url.username
      ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
      : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
    logger: false,
    ...(options.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
  });
  return {
    kind: 'smtp',
    async send(message) {
      await transport.sendMail({
        from: options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
      });
    },
    close() {
      transport.close();
    },
  };
}
