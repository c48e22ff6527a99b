import { serve } from '../server/serve.ts';

const USAGE = `Usage: rampart <command>

Commands:
  serve        run the Rampart server (configuration: environment variables and RAMPART_CONFIG)
  help         show this text
`;

/** The `rampart` command. */
export async function main(argv: string[]): Promise<void> {
  const [command] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`rampart: unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = 2;
  }
}
