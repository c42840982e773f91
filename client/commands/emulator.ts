// `keyless emulator`: the embedded Google Cloud alone; prints one JSON line when ready.

import { FixtureError, MetadataPortError, runEmulatorCommand } from '../../emulator';
import { portFlag, stringFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';

export const emulator: Command = {
  summary: 'Run the embedded Google Cloud emulator alone; prints one JSON line when ready',
  usage: 'keyless emulator [--port <n>] [--fixture <file|demo>] [--state <file>] [--credentials-dir <dir>] [--metadata-port <n>]',
  example: 'keyless emulator --port 7280 --metadata-port 7281 --fixture demo --state .keyless/emulator-state.json',
  options: { port: { type: 'string' }, fixture: { type: 'string' }, state: { type: 'string' }, 'credentials-dir': { type: 'string' }, 'metadata-port': { type: 'string' } },
  positionals: [0, 0],
  async run(args) {
    const port = portFlag(args, 'port') ?? 7280;
    try {
      await runEmulatorCommand({
        port,
        fixture: stringFlag(args, 'fixture') ?? 'demo',
        state: stringFlag(args, 'state'),
        credentialsDir: stringFlag(args, 'credentials-dir'),
        metadataPort: portFlag(args, 'metadata-port'),
      });
    } catch (err) {
      if (err instanceof FixtureError) throw new UserError(err.message, ExitCode.Config);
      // Checked before the generic EADDRINUSE below: a metadata port clash is not a --port clash.
      if (err instanceof MetadataPortError) throw new UserError(err.message, ExitCode.Unavailable, 'pick another with --metadata-port');
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UserError(`port ${port} is already in use`, ExitCode.Unavailable, 'pick another with --port');
      throw err;
    }
    return ExitCode.Ok;
  },
};
