// `keyless promote <pipeline>`: accept the current canary step on the evidence it has, or end a
// held soak, a soak that saw no run, or the shared-key wait now (recorded, with what it accepted).

import { signalCommand } from '../operator-commands';

export const promote = signalCommand('promote', 'Accept the current canary step on its evidence so far (or end a held or waiting soak) and move on');
