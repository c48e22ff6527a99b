/**
 * Reading a secret (a password) for the CLI: from a terminal without echo, or from stdin when
 * it is redirected (`printf '%s' "$PW" | rampart users create …`). Never from a flag: a
 * password in argv is visible in `ps` and kept in the shell's history.
 */
import type { Io } from './command.ts';
import { UsageError } from './output.ts';

const MAX = 1024;

/** The first line of stdin (redirected), or what is typed at the terminal with echo off. */
export async function readSecret(prompt: string, io: Io): Promise<string> {
  if (io.readSecret) return io.readSecret(prompt);
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) {
      text += chunk.toString();
      if (text.length > MAX * 4) break;
    }
    const line = text.split(/\r?\n/)[0] ?? '';
    if (line === '') throw new UsageError('expected the password on stdin (one line)');
    return line.slice(0, MAX);
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (data: Buffer) => {
        for (const char of data.toString('utf8')) {
          if (char === '\r' || char === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(typed);
            return;
          }
          if (char === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            reject(new UsageError('cancelled'));
            return;
          }
          if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
          else if (typed.length < MAX) typed += char;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}
